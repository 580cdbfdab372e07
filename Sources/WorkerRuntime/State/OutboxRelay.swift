import Foundation
import GRDB
import Kafka
import Logging
import Metrics
import Synchronization

/// Sends one partition store's outbox through the idempotent producer; rows are deleted only
/// after their delivery report, in the store's next write transaction.
///
/// With the state changelog on, it also sends the store's changelog records, in version order, and
/// sends a transaction's outputs only after that transaction's changelog record has its delivery
/// report (docs/state-changelog.md, case 2): a delivered output implies a delivered record.
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
    /// Since when delivered rows (or changelog queue rows) wait to be deleted; `nil` when none do.
    /// The loop deletes them in a transaction of their own once they waited ``idleDeletionDelay``
    /// without a batch doing it: a delivered row left in the file is sent again after a kill -9.
    private(set) var deletionsPendingSince: ContinuousClock.Instant?
    /// How long delivered rows may wait for a batch's transaction to delete them. 200 ms: under
    /// load the next batch comes sooner (no extra transaction); on an idle partition the window in
    /// which a kill -9 re-sends delivered outputs stays short.
    static let idleDeletionDelay: Duration = .milliseconds(200)
    /// Failed rows to send again (librdkafka already retried them for `message.timeout.ms`).
    private var resend: [Int64] = []
    /// Whether the table may hold rows after `lastEnqueued` that were never handed over: true at
    /// start (a previous run or owner may have left some) and whenever `offer` could not take
    /// fresh rows. While false, `pump` need not read the table at all.
    private var mayHoldUnsent = true
    /// Unsent rows kept in memory, in seq order, from `heldStart` on: when ``heldIsComplete``, every
    /// row of the table with a seq above `lastEnqueued` is here, so when the changelog's delivery or
    /// the fence releases rows, `pump` hands them over without reading them back from the file
    /// (that read-back was 3–4 % of each worker's CPU, perf, issue 14). The table stays the truth,
    /// and completeness is checked, not assumed: rows join only in seq order with no gap after
    /// `heldThrough` (outbox seqs are AUTOINCREMENT: a committed row's seq is the highest ever
    /// allocated + 1, and a rolled-back insert takes its allocation back with it),
    /// and before memory serves, the highest seq the file ever allocated must be `heldThrough`, so
    /// a row appended without `offer` (a tool, a test) is seen. Whatever breaks completeness (that, a row set aside
    /// as a dead letter, more than ``heldLimitBytes`` waiting, a restart) sends `pump` back to the
    /// table until the rows left fit here again.
    private var held: [PartitionStore.OutboxRow] = []
    private var heldStart = 0
    private var heldBytes = 0
    private(set) var heldIsComplete = false
    /// The highest seq known to be held or handed over (meaningful while ``heldIsComplete``).
    private var heldThrough: Int64 = 0
    /// Most payload bytes kept in ``held`` per partition: 512 KiB (a worker's 24 partitions: ≤ 12 MiB).
    /// Outputs wait here only for their changelog record's delivery and the fence's next accepted
    /// commit, a few milliseconds, so flat out a partition holds a few dozen rows.
    static let heldLimitBytes = 512 * 1024
    /// Most unsent rows loaded from the table to make ``held`` complete again.
    static let heldLoadRows = 512
    /// Where rows the broker or producer refuses for good go instead (nil: tests of the relay alone).
    private let setAside: SetAside?
    /// Set when a refused row was replaced by a dead letter, so `pump` reads the table again.
    private var setAsideAppended = false

    /// What the relay needs to turn a row that can never be sent into a dead letter.
    struct SetAside {
        var deadLetterTopic: String
        var worker: String
        var clock: @Sendable () -> Date
        var logger: Logger
        var counter: Counter?
    }

    // MARK: State changelog (all unused while `store.changelog` is nil)

    /// Outbox rows with a seq above this wait for their transaction's changelog record.
    private var sendableThrough: Int64 = .max
    /// Outbox rows with a seq above this also wait for the group coordinator to accept an offset
    /// commit made after their changelog record was delivered (the zombie fence,
    /// docs/state-changelog.md "Fencing"); `.max` while the changelog is off or the relay is not
    /// fenced (used alone, without a group). Starts at 0 when fenced: rows
    /// the file already held (a restore's, a previous run's) are released by the first fence.
    private var fencedThrough: Int64 = .max
    /// What may be handed to the producer: both gates passed.
    private var releasableThrough: Int64 { min(sendableThrough, fencedThrough) }
    /// Highest version whose record, and every earlier one, has its delivery report.
    private var changelogDeliveredThrough: Int64 = 0
    /// Records to hand to the producer, in version order (new, or failed and sent again).
    private var changelogPending: [ChangelogRecord] = []
    /// Records handed over, by version, with the parts still awaiting a report.
    private var changelogInFlight: [Int64: (record: ChangelogRecord, partsLeft: Set<Int>)] = [:]
    /// Fully delivered versions above `changelogDeliveredThrough` (a gap below them is still in flight).
    private var changelogDone: [Int64: Int64] = [:]  // version → its seqThrough
    /// Queue rows through this version are delivered and deleted in the next write transaction.
    private var changelogAwaitingDelete: Int64?
    private let changelogReports = ChangelogReports()
    /// Largest changeset bytes per Kafka record; a larger changeset goes in parts.
    private let changelogPartBytes: Int
    /// Snapshots the partition into its changelog when due (nil: changelog off).
    private(set) var snapshotWriter: SnapshotWriter?

    /// - Parameter fenced: with the changelog on, hold outputs for ``fenced(through:)`` (the worker
    ///   loop's ``OutputFence``); a relay used alone (tests, tools) has no group to ask.
    /// - Throws: SQLite errors reading the changelog queue a previous run left.
    init(store: PartitionStore, producer: KafkaProducer, maxInFlight: Int = 10_000, setAside: SetAside? = nil, fenced: Bool = false) throws {
        self.store = store
        self.producer = producer
        self.maxInFlight = maxInFlight
        self.setAside = setAside
        // Headroom under message.max.bytes for the record's key, headers and batch framing.
        changelogPartBytes = max(4096, min(producer.messageMaxBytes, 1_000_000) - 16_384)
        if let stamp = store.changelog {
            // The queue table holds every record not yet delivered, including any the store made
            // before this relay existed: take it from there, once.
            _ = store.takeFreshChangelogRecords()
            let queued = try store.queuedChangelogRecords()
            changelogPending = queued
            changelogDeliveredThrough = (queued.first?.version ?? stamp.version + 1) - 1
            // Rows older than the first undelivered record were covered by delivered records.
            sendableThrough = queued.first?.seqFrom ?? stamp.lastOutboxSeq
            if fenced { fencedThrough = 0 }
            snapshotWriter = SnapshotWriter(store: store, producer: producer, chunkBytes: changelogPartBytes,
                                            logger: setAside?.logger ?? Logger(label: "card.worker.snapshot"))
        }
    }

    var isIdle: Bool {
        inFlight == 0 && resend.isEmpty && changelogPending.isEmpty && changelogInFlight.isEmpty
            && (store.changelog?.fresh.isEmpty ?? true)
    }

    /// Takes changelog delivery reports, advances what outputs may go, and hands new records over.
    /// - Returns: transient failures (their records are sent again).
    private func pumpChangelog() throws -> [KafkaError] {
        guard let topic = store.changelog?.topic else { return [] }
        let (delivered, failed) = changelogReports.take()
        for (version, part) in delivered {
            // A report from an earlier attempt at this version counts too: that part is stored.
            guard var entry = changelogInFlight[version] else { continue }
            entry.partsLeft.remove(part)
            if entry.partsLeft.isEmpty {
                changelogInFlight[version] = nil
                changelogDone[version] = entry.record.seqThrough
            } else {
                changelogInFlight[version] = entry
            }
        }
        var errors: [KafkaError] = []
        var again: [ChangelogRecord] = []
        for (version, error) in failed {
            // Every part is sent again; a restore keeps one copy of each (version, part).
            guard let entry = changelogInFlight.removeValue(forKey: version) else { continue }
            again.append(entry.record)
            errors.append(error)
        }
        var advanced = false
        // Outputs follow only the contiguous prefix: a later record delivered first frees nothing.
        while let seqThrough = changelogDone.removeValue(forKey: changelogDeliveredThrough + 1) {
            changelogDeliveredThrough += 1
            sendableThrough = max(sendableThrough, seqThrough)
            advanced = true
        }
        if advanced {
            changelogAwaitingDelete = changelogDeliveredThrough
            mayHoldUnsent = true  // outputs of the delivered transactions may go now
        }
        // Pending stays in version order and fresh records come after it; on an idle partition
        // (every wake-up, 24 partitions) nothing is sorted or copied.
        if !again.isEmpty { changelogPending = (again + changelogPending).sorted { $0.version < $1.version } }
        let fresh = store.takeFreshChangelogRecords()
        if !fresh.isEmpty { changelogPending += fresh }
        while let record = changelogPending.first {
            let records = record.producerRecords(topic: topic, partition: store.partition, partBytes: changelogPartBytes)
            changelogInFlight[record.version] = (record, Set(records.indices))
            do {
                for (part, kafkaRecord) in records.enumerated() {
                    let version = record.version
                    try producer.enqueue(kafkaRecord) { [changelogReports] error in
                        changelogReports.record(version: version, part: part, error: error)
                    }
                }
            } catch let error as KafkaError {
                // Refused before sending (queue full, unknown partition): tried again on the next pump;
                // the outputs behind it wait, nothing is lost.
                changelogInFlight[record.version] = nil
                errors.append(error)
                break
            }
            changelogPending.removeFirst()
        }
        if let snapshotWriter {
            errors += snapshotWriter.pump(recordsPending: !changelogPending.isEmpty, deliveredThrough: changelogDeliveredThrough)
        }
        return errors
    }

    /// Hands unsent rows to the producer without waiting for their reports.
    /// - Returns: transient failures reported since the last call (their rows are sent again), for logging.
    @discardableResult
    func pump() throws -> [KafkaError] {
        let changelogErrors = try pumpChangelog()
        let (delivered, failed) = reports.take()
        inFlight -= delivered.count + failed.count
        deliveredAwaitingDelete += delivered
        if deletionsPendingSince == nil, !deliveredAwaitingDelete.isEmpty || changelogAwaitingDelete != nil {
            deletionsPendingSince = .now
        }
        for failure in failed {
            if failure.error.isPermanentForRecord, setAside != nil {
                guard let row = try store.outboxRows(after: failure.seq - 1, limit: 1).first, row.seq == failure.seq else { continue }
                try replaceWithDeadLetter(row, error: failure.error)
            } else {
                resend.append(failure.seq)
            }
        }
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
            setAsideAppended = false
            let rows = try unsentRows(through: releasableThrough, limit: limit)
            for row in rows {
                try enqueue(row)
                lastEnqueued = row.seq
            }
            if rows.count < limit && !setAsideAppended {
                mayHoldUnsent = false
                if !heldIsComplete { try loadHeldIfFew() }
            }
        }
        trimHeld()  // what was just handed over leaves memory, so `offer`'s direct path is open again
        // Rows set aside as dead letters were logged there; the rest are sent again.
        return changelogErrors + failed.map(\.error).filter { !($0.isPermanentForRecord && setAside != nil) }
    }

    /// Hands rows just committed to the producer without reading them back, when nothing older
    /// is waiting; otherwise leaves them to `pump`, which reads the table in seq order.
    /// - Parameter rows: the rows one committed transaction appended, in seq order.
    func offer(_ rows: [PartitionStore.OutboxRow]) throws {
        guard let first = rows.first else { return }
        guard !mayHoldUnsent, heldStart == held.count, first.seq > lastEnqueued, inFlight + rows.count <= maxInFlight,
              rows.last.map({ $0.seq <= releasableThrough }) ?? true else {
            hold(rows)
            mayHoldUnsent = true
            return
        }
        mayHoldUnsent = true  // until every row is handed over, in case enqueueing throws midway
        setAsideAppended = false
        if heldIsComplete, !Self.follows(rows, heldThrough) { forgetHeld() }
        for row in rows {
            try enqueue(row)
            lastEnqueued = row.seq
        }
        heldThrough = max(heldThrough, lastEnqueued)
        mayHoldUnsent = setAsideAppended  // a dead letter appended for a refused row waits for `pump`
    }

    // MARK: Rows held in memory

    /// Keeps committed rows `offer` could not hand over yet; past the limit, forgets them all (the
    /// table is read instead).
    private func hold(_ rows: [PartitionStore.OutboxRow]) {
        guard heldIsComplete else { return }
        let bytes = rows.reduce(0) { $0 + Self.payloadBytes($1) }
        guard Self.follows(rows, heldThrough), heldBytes + bytes <= Self.heldLimitBytes else {
            forgetHeld()
            return
        }
        held += rows
        heldBytes += bytes
        heldThrough = rows.last?.seq ?? heldThrough
    }

    private func forgetHeld() {
        held.removeAll()
        heldStart = 0
        heldBytes = 0
        heldIsComplete = false
    }

    /// Whether `rows` are the seqs `after + 1, after + 2, …` with no gap: a row of the same commit
    /// that `offer` was not given would otherwise hide between two that it was. Pure.
    static func follows(_ rows: [PartitionStore.OutboxRow], _ after: Int64) -> Bool {
        var expected = after
        for row in rows {
            guard row.seq == expected + 1 else { return false }
            expected = row.seq
        }
        return true
    }

    private static func payloadBytes(_ row: PartitionStore.OutboxRow) -> Int {
        (row.record.value?.count ?? 0) + (row.record.key?.count ?? 0)
    }

    /// The unsent rows after `lastEnqueued` through `through`, oldest first, at most `limit`: from
    /// memory when ``held`` is complete, otherwise from the table.
    private func unsentRows(through: Int64, limit: Int) throws -> [PartitionStore.OutboxRow] {
        if heldIsComplete, try store.outboxSeqAllocated() > heldThrough { forgetHeld() }  // appended without `offer`
        guard heldIsComplete else { return try store.outboxRows(after: lastEnqueued, through: through, limit: limit) }
        trimHeld()
        var rows: [PartitionStore.OutboxRow] = []
        var index = heldStart
        while index < held.count, rows.count < limit, held[index].seq <= through {
            rows.append(held[index])
            index += 1
        }
        return rows
    }

    /// Drops held rows already handed over (seq ≤ `lastEnqueued`).
    private func trimHeld() {
        while heldStart < held.count, held[heldStart].seq <= lastEnqueued {
            heldBytes -= Self.payloadBytes(held[heldStart])
            heldStart += 1
        }
        if heldStart == held.count {
            held.removeAll(keepingCapacity: true)
            heldStart = 0
        } else if heldStart > 256, heldStart * 2 > held.count {
            held.removeFirst(heldStart)
            heldStart = 0
        }
    }

    /// Makes ``held`` complete again when the unsent rows left in the table are few: every one of
    /// them is then in memory, and later commits are added by `offer`.
    private func loadHeldIfFew() throws {
        guard try store.outboxCount(after: lastEnqueued, upTo: Self.heldLoadRows + 1) <= Self.heldLoadRows else { return }
        let rows = try store.outboxRows(after: lastEnqueued, limit: Self.heldLoadRows)
        let bytes = rows.reduce(0) { $0 + Self.payloadBytes($1) }
        guard bytes <= Self.heldLimitBytes else { return }
        held = rows
        heldStart = 0
        heldBytes = bytes
        // The next commit's first row follows the highest seq ever allocated (AUTOINCREMENT), which
        // after deletions or a restart is above the table's highest row.
        heldThrough = max(try store.outboxSeqAllocated(), lastEnqueued)
        heldIsComplete = true
    }

    private func enqueue(_ row: PartitionStore.OutboxRow) throws {
        let seq = row.seq
        do {
            try producer.enqueue(row.record) { [reports] error in reports.record(seq: seq, error: error) }
        } catch let error as KafkaError where error.isPermanentForRecord && setAside != nil {
            // librdkafka refused it before sending (MSG_SIZE_TOO_LARGE): it never will send it.
            try replaceWithDeadLetter(row, error: error)
            return
        }
        inFlight += 1
    }

    /// Replaces a row that can never be sent (a permanent per-record error) with a bounded dead
    /// letter in one transaction, logs it and counts it: the row's problem, not the worker's, so the
    /// relay goes on instead of throwing (which crash-looped the worker on the same row).
    /// A refused dead letter is replaced by one without payload; one refused again is dropped,
    /// loudly (critical log), since nothing smaller can be sent in its place.
    private func replaceWithDeadLetter(_ row: PartitionStore.OutboxRow, error: KafkaError) throws {
        guard let setAside else { throw error }
        let id = row.record.headers.last { $0.name == messageIDHeader }?.stringValue ?? "seq-\(row.seq)"
        let cause = "the producer or broker refused this output for good (\(error.reason)); \(KafkaProducer.wireSize(of: row.record)) bytes"
        let metadata: Logger.Metadata = [LogKey.topic: "\(row.record.topic)", LogKey.partition: "\(store.partition)",
                                         LogKey.messageID: "\(maskedForLog(id))", LogKey.error: "\(error.reason)"]
        let isLetter = row.record.topic == setAside.deadLetterTopic
        if isLetter && id.hasPrefix("dlq/unsent/dlq/unsent/") {
            try store.write { try PartitionStore.deleteOutbox($0, seqs: [row.seq]) }
            setAside.logger.critical("UNSENDABLE DEAD LETTER dropped: even its payload-less form was refused", metadata: metadata)
            return
        }
        let letter = DeadLetters.unsentOutput(row.record, seq: row.seq, partition: store.partition, cause: cause,
                                              worker: setAside.worker, topic: setAside.deadLetterTopic, at: setAside.clock(),
                                              withPayload: !isLetter)
        try store.write { db in
            try PartitionStore.deleteOutbox(db, seqs: [row.seq])
            _ = try PartitionStore.append(db, letter)
        }
        mayHoldUnsent = true
        setAsideAppended = true
        forgetHeld()  // the letter is a row only the table has
        setAside.counter?.increment()
        setAside.logger.error("output refused for good: set aside as a dead letter, the relay goes on", metadata: metadata)
    }

    // MARK: Fence

    /// The seq through which outputs wait only for the fence: their changelog records are
    /// delivered, no accepted commit has followed yet. `nil` when nothing waits for it.
    var fenceCandidate: Int64? {
        fencedThrough < sendableThrough && lastEnqueued < sendableThrough ? sendableThrough : nil
    }

    /// The group coordinator accepted an offset commit made after `candidate` was taken from
    /// ``fenceCandidate``: outputs through it may go.
    func fenced(through candidate: Int64) {
        guard candidate > fencedThrough else { return }
        fencedThrough = candidate
        mayHoldUnsent = true
    }

    /// Lifts the fence for good: this member is known to own the partition until it returns it
    /// (a revoke it finishes itself, or a shutdown after an accepted commit).
    func releaseAll() { fenced(through: .max) }

    /// Deletes delivered rows inside the caller's transaction.
    func deleteDelivered(in db: Database) throws {
        try PartitionStore.deleteOutbox(db, seqs: deliveredAwaitingDelete)
        if let version = changelogAwaitingDelete { try PartitionStore.deleteQueuedChangelog(db, through: version) }
    }

    /// Call after the transaction that ran `deleteDelivered` has committed.
    func didDeleteDelivered() {
        deliveredAwaitingDelete.removeAll(keepingCapacity: true)
        changelogAwaitingDelete = nil
        deletionsPendingSince = nil
    }

    /// Sends everything and waits for every report, deleting delivered rows. Blocking.
    /// - Parameter releasedOnly: send only what the fence already released and stop when that is
    ///   delivered and its deletion recorded; rows still held stay in the file (a lost partition:
    ///   what was released is a decision the next owner restores, the rest is its to send).
    /// - Returns: `true` if the outbox is empty at the end (with `releasedOnly`: nothing released is left).
    func drain(timeout: Duration, releasedOnly: Bool = false) throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            try pump()
            if !deliveredAwaitingDelete.isEmpty || changelogAwaitingDelete != nil {
                // With the changelog on, deleting delivered rows is a change with its own record:
                // the loop goes round until that record is delivered and its queue row deleted.
                try store.write { try deleteDelivered(in: $0) }
                didDeleteDelivered()
                continue
            }
            if releasedOnly, isIdle, try store.outboxRows(after: lastEnqueued, through: releasableThrough, limit: 1).isEmpty {
                return true
            }
            if isIdle, try store.outboxDepth() == 0 { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(2000)
        }
    }
}

/// Changelog delivery reports (one per record part) collected on the producer's thread.
final class ChangelogReports: Sendable {
    private struct State { var delivered: [(version: Int64, part: Int)] = []; var failed: [(version: Int64, error: KafkaError)] = [] }
    private let state = Mutex(State())

    func record(version: Int64, part: Int, error: KafkaError?) {
        state.withLock { s in
            if let error { s.failed.append((version, error)) } else { s.delivered.append((version, part)) }
        }
    }

    func take() -> (delivered: [(version: Int64, part: Int)], failed: [(version: Int64, error: KafkaError)]) {
        state.withLock { s in
            defer { s = State() }
            return (s.delivered, s.failed)
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
