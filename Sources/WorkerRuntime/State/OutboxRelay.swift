import Foundation
import GRDB
import Kafka
import Synchronization

/// Sends one partition store's outbox through the idempotent producer; rows are deleted only
/// after their delivery report, in the store's next write transaction.
///
/// Used from the worker loop's thread only, except `reports`, which delivery callbacks fill.
final class OutboxRelay {
    let store: PartitionStore
    private let producer: KafkaProducer
    /// Highest seq handed to the producer; rows after it are unsent.
    private var lastEnqueued: Int64 = 0
    private var inFlight = 0
    private let maxInFlight: Int
    private let reports = DeliveryReports()
    /// Delivered rows not yet deleted: the next write transaction on the store deletes them.
    private(set) var deliveredAwaitingDelete: [Int64] = []
    /// Failed rows to send again (librdkafka already retried them for `message.timeout.ms`).
    private var resend: [Int64] = []
    /// Whether the table may hold rows after `lastEnqueued` that were never handed over: true at
    /// start (a previous run or owner may have left some) and whenever `offer` could not take
    /// fresh rows. While false, `pump` need not read the table at all.
    private var mayHoldUnsent = true

    init(store: PartitionStore, producer: KafkaProducer, maxInFlight: Int = 10_000) {
        self.store = store
        self.producer = producer
        self.maxInFlight = maxInFlight
    }

    var isIdle: Bool { inFlight == 0 && resend.isEmpty }

    /// Hands unsent rows to the producer without waiting for their reports.
    /// - Returns: failures reported since the last call, for logging.
    @discardableResult
    func pump() throws -> [KafkaError] {
        let (delivered, failed) = reports.take()
        inFlight -= delivered.count + failed.count
        deliveredAwaitingDelete += delivered
        resend += failed.map(\.seq)
        if !resend.isEmpty {
            let seqs = resend
            resend.removeAll()
            for seq in seqs.sorted() {
                guard let row = try store.outboxRows(after: seq - 1, limit: 1).first, row.seq == seq else { continue }
                try enqueue(row)
            }
        }
        while mayHoldUnsent && inFlight < maxInFlight {
            let limit = min(1000, maxInFlight - inFlight)
            let rows = try store.outboxRows(after: lastEnqueued, limit: limit)
            for row in rows {
                try enqueue(row)
                lastEnqueued = row.seq
            }
            if rows.count < limit { mayHoldUnsent = false }
        }
        return failed.map(\.error)
    }

    /// Hands rows just committed to the producer without reading them back, when nothing older
    /// is waiting; otherwise leaves them to `pump`, which reads the table in seq order.
    /// - Parameter rows: the rows one committed transaction appended, in seq order.
    func offer(_ rows: [PartitionStore.OutboxRow]) throws {
        guard let first = rows.first else { return }
        guard !mayHoldUnsent, first.seq > lastEnqueued, inFlight + rows.count <= maxInFlight else {
            mayHoldUnsent = true
            return
        }
        mayHoldUnsent = true  // until every row is handed over, in case enqueueing throws midway
        for row in rows {
            try enqueue(row)
            lastEnqueued = row.seq
        }
        mayHoldUnsent = false
    }

    private func enqueue(_ row: PartitionStore.OutboxRow) throws {
        let seq = row.seq
        try producer.enqueue(row.record) { [reports] error in reports.record(seq: seq, error: error) }
        inFlight += 1
    }

    /// Deletes delivered rows inside the caller's transaction.
    func deleteDelivered(in db: Database) throws {
        try PartitionStore.deleteOutbox(db, seqs: deliveredAwaitingDelete)
    }

    /// Call after the transaction that ran `deleteDelivered` has committed.
    func didDeleteDelivered() { deliveredAwaitingDelete.removeAll(keepingCapacity: true) }

    /// Sends everything and waits for every report, deleting delivered rows. Blocking.
    /// - Returns: `true` if the outbox is empty at the end.
    func drain(timeout: Duration) throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            try pump()
            if !deliveredAwaitingDelete.isEmpty {
                try store.database.write { try deleteDelivered(in: $0) }
                didDeleteDelivered()
            }
            if isIdle, try store.outboxDepth() == 0 { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(2000)
        }
    }
}

/// Delivery reports collected on the producer's thread until the loop takes them.
final class DeliveryReports: Sendable {
    private struct State { var delivered: [Int64] = []; var failed: [(seq: Int64, error: KafkaError)] = [] }
    private let state = Mutex(State())

    func record(seq: Int64, error: KafkaError?) {
        state.withLock { s in
            if let error { s.failed.append((seq, error)) } else { s.delivered.append(seq) }
        }
    }

    func take() -> (delivered: [Int64], failed: [(seq: Int64, error: KafkaError)]) {
        state.withLock { s in
            defer { s = State() }
            return (s.delivered, s.failed)
        }
    }
}
