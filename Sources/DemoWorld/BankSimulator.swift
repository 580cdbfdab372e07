import ArgumentParser
import CardDomain
import FleetSupport
import Foundation
import JSONCodec
import Kafka
import Logging
import OperatorViews
import ServiceLifecycle
import Synchronization

/// `fleet bank`: a simulated bank system that answers card.orders on card.bank-events.
package struct BankSimulatorCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bank",
        abstract: "Simulate the banks: answer card.orders with accepted, produced, at_branch, picked_up on card.bank-events.",
        discussion: """
            Consumes card.orders in group card-bank-simulator (from the earliest order the group has not answered) and \
            answers each order, keyed by application_id, with accepted, produced, at_branch and picked_up 1, 3, 6 and \
            10 seconds after it arrived (divided by --speed); a share (--fail-share) fails instead of reaching the \
            branch. Runs until Ctrl-C. An order's offset is committed once all its events are delivered, so a \
            restarted simulator answers again what it had not finished (the production worker ignores repeats). \
            With --once it answers every waiting order at once with the whole sequence and exits.
            """)

    @Option(help: "Bootstrap servers; default: the embedded broker's <run-dir>/bootstrap.") var brokers: String?
    @Option(help: "Run folder of the embedded broker.") var runDir = "run"
    @Option(help: "Time factor: 2 answers twice as fast.") var speed = 1.0
    @Option(help: "Share of orders that fail instead of reaching the branch (default 0.02; 0 with --once).") var failShare: Double?
    @Option(help: "Consumer group.") var group = "card-bank-simulator"
    @Flag(help: "Answer all waiting orders now with the full sequence, then exit.") var once = false
    @Option(help: "With --once: give up waiting for the orders after this many seconds.") var timeout = 60.0

    package init() {}

    package func validate() throws {
        guard speed > 0 else { throw ValidationError("--speed must be positive") }
        if let failShare, !(0...1).contains(failShare) { throw ValidationError("--fail-share is a share between 0 and 1") }
    }

    package func run() async throws {
        let servers = try brokers ?? BrokerList.embedded(runDir: runDir)
        let logger = Logger(label: "card.bank-simulator")
        let client = KafkaClientConfiguration(bootstrapServers: servers, clientID: "fleet-bank-simulator")
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client), logger: logger)
        let script = BankScript(speed: speed, failShare: failShare ?? (once ? 0 : 0.02))
        if once {
            let answered = try await answerWaitingOrders(client: client, producer: producer, script: script, logger: logger)
            Terminal.say("answered \(answered.orders) order(s) with \(answered.events) bank event(s) on card.bank-events")
        } else {
            let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(client: client, groupID: group), logger: logger)
            let admin = try KafkaAdmin(configuration: client, logger: logger)
            let simulator = BankSimulator(consumer: consumer, producer: producer, script: script,
                                          startAt: CommittedOffsets(admin: admin, group: group))
            Terminal.say("bank simulator answering card.orders (group \(group), speed \(speed), fail share \(script.failShare)); Ctrl-C to stop")
            try await ServiceGroup(services: [simulator], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
        }
    }

    /// `--once`: reads card.orders from the group's committed offsets up to the current end, answers
    /// every order with its whole sequence, then commits.
    ///
    /// It joins the group to commit: the embedded broker refuses commits from outside a group that
    /// has ever had members (real Kafka accepts them for an empty group). So no other `fleet bank`
    /// of the group may run meanwhile, or it would hold some of the partitions.
    private func answerWaitingOrders(client: KafkaClientConfiguration, producer: KafkaProducer, script: BankScript,
                                     logger: Logger) async throws -> (orders: Int, events: Int) {
        let group = group
        let timeout = timeout
        let read = try await OffPool.run("bank-once-read") { () -> (messages: [ConsumedMessage], ends: [TopicPartitionOffset], consumer: KafkaConsumer?) in
            let admin = try KafkaAdmin(configuration: client, logger: logger)
            guard let count = try admin.topicPartitionCounts()["card.orders"] else {
                throw ValidationError("no topic card.orders on the broker")
            }
            let partitions = (0..<count).map { TopicPartitionOffset(topic: "card.orders", partition: $0) }
            let committed = try admin.committedOffsets(group: group, partitions: partitions)
            var lows: [Int32: Int64] = [:]
            var ends: [Int32: Int64] = [:]
            var waiting = false
            let allMarks = try admin.watermarks(partitions)
            for tp in partitions {
                guard let marks = allMarks[tp] else { continue }
                lows[tp.partition] = marks.low
                ends[tp.partition] = marks.high
                let start = committed.first { $0.partition == tp.partition }?.offset ?? marks.low
                if start < marks.high { waiting = true }
            }
            guard waiting else { return ([], [], nil) }

            let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(client: client, groupID: group), logger: logger)
            let starts = StartRecorder(inner: CommittedOffsets(admin: admin, group: group))
            try consumer.subscribe(["card.orders"], listener: starts)
            var messages: [ConsumedMessage] = []
            var next: [Int32: Int64] = [:]
            let deadline = ContinuousClock.now + .seconds(timeout)
            while true {
                let assigned = starts.positions
                let done = assigned.count == partitions.count && partitions.allSatisfy { tp in
                    let start = assigned[tp.partition] ?? nil
                    return (next[tp.partition] ?? start ?? lows[tp.partition]!) >= ends[tp.partition]!
                }
                if done { break }
                guard ContinuousClock.now < deadline else {
                    consumer.close()
                    throw ValidationError("""
                        card.orders not read to its end within \(timeout) s (\(assigned.count) of \(partitions.count) \
                        partitions assigned; is another `fleet bank` running in group \(group)?)
                        """)
                }
                let result = consumer.poll(maxMessages: 10_000, timeout: .milliseconds(100))
                if let error = result.errors.first {
                    consumer.close()
                    throw ValidationError("reading card.orders: \(error)")
                }
                for message in result.messages where message.offset < ends[message.partition]! {
                    messages.append(message)
                    next[message.partition] = message.offset + 1
                }
            }
            let commit = partitions.map { TopicPartitionOffset(topic: $0.topic, partition: $0.partition, offset: ends[$0.partition]) }
            return (messages, commit, consumer)
        }
        guard let consumer = read.consumer else { return (0, 0) }

        var records: [ProducerRecord] = []
        let base = Date().timeIntervalSince1970
        for (n, message) in read.messages.enumerated() {
            guard let order = OrderReference(message.value) else {
                Terminal.error("skipping card.orders[\(message.partition)]@\(message.offset): not an order with application_id and order_id")
                continue
            }
            let events = script.events(for: order)
            for (step, kind) in events.enumerated() {
                // Strictly increasing times, a millisecond apart, keep the sequence's order visible.
                let at = Timestamp(secondsSinceEpoch: base + Double(n * events.count + step) / 1000)
                records.append(script.record(for: order, kind: kind, at: at))
            }
        }
        let failures = await producer.send(records).compactMap { $0 }
        try await OffPool.run("bank-once-commit") {
            defer { consumer.close() }
            // Only once every event is delivered: otherwise the orders are answered again next time.
            if failures.isEmpty { try consumer.commit(read.ends, async: false) }
        }
        guard failures.isEmpty else { throw ValidationError("\(failures.count) bank event(s) not delivered: \(failures[0])") }
        return (read.messages.count, records.count)
    }
}

/// Remembers where each assigned partition starts, for `--once` to know when it has read everything.
final class StartRecorder: RebalanceListener {
    private let inner: CommittedOffsets
    private let recorded = Mutex<[Int32: Int64?]>([:])

    init(inner: CommittedOffsets) { self.inner = inner }

    /// Partition → its start offset (`nil`: the earliest), for the partitions assigned now.
    var positions: [Int32: Int64?] { recorded.withLock { $0 } }

    func partitionsAssigned(_ partitions: [TopicPartitionOffset]) -> [TopicPartitionOffset] {
        let positions = inner.partitionsAssigned(partitions)
        recorded.withLock { map in positions.forEach { map[$0.partition] = .some($0.offset) } }
        return positions
    }

    func partitionsRevoked(_ partitions: [TopicPartitionOffset]) {
        recorded.withLock { map in partitions.forEach { map[$0.partition] = nil } }
    }
}

// MARK: - What the bank answers

/// The two fields of a card.orders value the simulator needs; the rest is the bank's business.
struct OrderReference: Sendable, Hashable, Decodable {
    var applicationID: String
    var orderID: String

    enum CodingKeys: String, CodingKey {
        case applicationID = "application_id"
        case orderID = "order_id"
    }

    init(applicationID: String, orderID: String) {
        self.applicationID = applicationID
        self.orderID = orderID
    }

    init?(_ value: [UInt8]?) {
        guard let value, let order = try? CardJSON.decode(OrderReference.self, from: value) else { return nil }
        self = order
    }
}

/// Which events an order gets and when.
struct BankScript: Sendable {
    var speed: Double
    var failShare: Double
    /// Seconds after the order for accepted, produced, at_branch (or failed), picked_up, at speed 1.
    static let delays: [Double] = [1, 3, 6, 10]
    static let failureReasons = ["照片不符合制卡要求", "芯片写入失败", "卡片质检不合格"]

    /// The sequence for an order: the full one, or accepted, produced, failed for the failing share.
    /// Which orders fail depends only on the application id, so a replay answers the same way.
    func events(for order: OrderReference) -> [BankEvent.Kind] {
        fails(order) ? [.accepted, .produced, .failed] : [.accepted, .produced, .atBranch, .pickedUp]
    }

    func fails(_ order: OrderReference) -> Bool {
        guard failShare > 0 else { return false }
        return Double(DemoRandom.hash(order.applicationID) >> 11) / Double(1 << 53) < failShare
    }

    /// Seconds after the order at which the `step`-th event is due.
    func delay(step: Int) -> Double { Self.delays[min(step, Self.delays.count - 1)] / speed }

    func record(for order: OrderReference, kind: BankEvent.Kind, at: Timestamp) -> ProducerRecord {
        let reason = kind == .failed
            ? Self.failureReasons[Int(DemoRandom.hash(order.orderID) % UInt64(Self.failureReasons.count))] : nil
        let event = BankEvent(applicationID: order.applicationID, orderID: order.orderID, event: kind, reason: reason, at: at)
        return ProducerRecord(topic: "card.bank-events", key: Array(order.applicationID.utf8),
                              value: Array((try? CardJSON.encode(event)) ?? Data()))
    }
}

// MARK: - The running simulator

/// Consumes orders and emits their events when due, on a thread of its own; commits an order's
/// offset once every event of it (and of every earlier order of its partition) is delivered.
final class BankSimulator: Service, Sendable {
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let script: BankScript
    private let state = Mutex(State())
    private let stopping = Atomic<Bool>(false)
    private let startAt: CommittedOffsets

    struct Scheduled {
        var due: Double
        var order: OrderReference
        var partition: Int32
        var offset: Int64
        var kind: BankEvent.Kind
        var isLast: Bool
    }

    struct State {
        var scheduled: [Scheduled] = []
        /// Per partition: offsets of orders whose last event is not delivered yet.
        var unfinished: [Int32: Set<Int64>] = [:]
        /// Per partition: the next offset after the last order read.
        var nextOffset: [Int32: Int64] = [:]
        var committed: [Int32: Int64] = [:]
        var delivered = 0
        var failedDeliveries = 0
        var orders = 0

        /// What may be committed: the oldest unfinished order, or everything read.
        mutating func commitable() -> [TopicPartitionOffset] {
            var result: [TopicPartitionOffset] = []
            for (partition, next) in nextOffset {
                let offset = unfinished[partition]?.min() ?? next
                if committed[partition] != offset {
                    committed[partition] = offset
                    result.append(TopicPartitionOffset(topic: "card.orders", partition: partition, offset: offset))
                }
            }
            return result
        }
    }

    init(consumer: KafkaConsumer, producer: KafkaProducer, script: BankScript, startAt: CommittedOffsets) {
        self.startAt = startAt
        self.consumer = consumer
        self.producer = producer
        self.script = script
    }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await OffPool.run("bank-simulator") { try self.loop() }
        } onGracefulShutdown: {
            self.stopping.store(true, ordering: .relaxed)
        }
    }

    /// Polls, schedules, emits and commits until told to stop. Blocking: runs on its own thread.
    private func loop() throws {
        var listener = startAt
        listener.onRevoke = { [self] revoked in forget(revoked) }
        try consumer.subscribe(["card.orders"], listener: listener)
        var lastCommit = Date().timeIntervalSince1970
        while !stopping.load(ordering: .relaxed) {
            let result = consumer.poll(maxMessages: 1000, timeout: .milliseconds(100))
            for error in result.errors {
                Terminal.error("card.orders: \(error)")
            }
            let now = Date().timeIntervalSince1970
            if !result.messages.isEmpty { schedule(result.messages, now: now) }
            emitDue(now: now)
            if now - lastCommit >= 1 {
                commit()
                lastCommit = now
            }
        }
        // Shutting down: what is not delivered stays uncommitted and is answered again next time.
        if producer.outstanding > 0 { try? producer.flush(timeout: .seconds(10)) }
        commit()
        let (pending, delivered) = state.withLock { ($0.scheduled.count, $0.delivered) }
        Terminal.say("bank simulator stopped: \(delivered) event(s) delivered"
            + (pending > 0 ? ", \(pending) not yet due: their orders stay uncommitted and are answered again next time" : ""))
        consumer.close()
    }

    /// Partitions taken away: their offsets are another member's to commit now.
    private func forget(_ partitions: [TopicPartitionOffset]) {
        state.withLock { state in
            for tp in partitions {
                state.unfinished[tp.partition] = nil
                state.nextOffset[tp.partition] = nil
                state.committed[tp.partition] = nil
            }
        }
    }

    private func schedule(_ messages: [ConsumedMessage], now: Double) {
        state.withLock { state in
            for message in messages {
                state.nextOffset[message.partition] = message.offset + 1
                guard let order = OrderReference(message.value) else {
                    Terminal.error("skipping card.orders[\(message.partition)]@\(message.offset): not an order with application_id and order_id")
                    continue
                }
                state.orders += 1
                state.unfinished[message.partition, default: []].insert(message.offset)
                let kinds = script.events(for: order)
                for (step, kind) in kinds.enumerated() {
                    state.scheduled.append(Scheduled(
                        due: now + script.delay(step: step), order: order, partition: message.partition,
                        offset: message.offset, kind: kind, isLast: step == kinds.count - 1))
                }
            }
            state.scheduled.sort { $0.due < $1.due }
        }
    }

    private func emitDue(now: Double) {
        let due = state.withLock { state -> [Scheduled] in
            let count = state.scheduled.prefix { $0.due <= now }.count
            defer { state.scheduled.removeFirst(count) }
            return Array(state.scheduled.prefix(count))
        }
        for item in due {
            let record = script.record(for: item.order, kind: item.kind, at: Timestamp.now())
            do {
                try producer.enqueue(record) { [self] error in delivered(item, error: error) }
            } catch {
                Terminal.error("bank event for \(item.order.applicationID) not sent: \(error)")
            }
        }
    }

    private func delivered(_ item: Scheduled, error: KafkaError?) {
        let count = state.withLock { state -> Int? in
            guard error == nil else {
                state.failedDeliveries += 1
                return nil
            }
            state.delivered += 1
            if item.isLast { state.unfinished[item.partition]?.remove(item.offset) }
            return state.delivered
        }
        if let error {
            Terminal.error("bank event \(item.kind.rawValue) for \(item.order.applicationID) not delivered: \(error)")
        } else if let count, count % 100 == 0 {
            let (orders, waiting) = state.withLock { ($0.orders, $0.scheduled.count) }
            Terminal.say("\(ApplicationHistory.shanghai(Timestamp.now())) \(count) bank events sent for \(orders) order(s); \(waiting) event(s) scheduled")
        }
    }

    private func commit() {
        let offsets = state.withLock { $0.commitable() }
        do {
            try consumer.commit(offsets, async: true)
        } catch {
            Terminal.error("commit of card.orders offsets failed: \(error)")
        }
    }
}

/// Starts each assigned partition at the group's committed offset, or at the earliest when the
/// group has none.
///
/// The offsets are asked for explicitly (through a separate handle, inside `poll` on the
/// simulator's thread) rather than with librdkafka's OFFSET_STORED, so the consumer's gap guard
/// knows where each partition starts, and a committed offset the broker no longer has is an
/// error instead of a silent jump.
struct CommittedOffsets: RebalanceListener {
    let admin: KafkaAdmin
    let group: String
    var onRevoke: @Sendable ([TopicPartitionOffset]) -> Void = { _ in }

    init(admin: KafkaAdmin, group: String) {
        self.admin = admin
        self.group = group
    }

    func partitionsAssigned(_ partitions: [TopicPartitionOffset]) -> [TopicPartitionOffset] {
        do {
            let committed = try admin.committedOffsets(group: group, partitions: partitions)
            return partitions.map { tp in
                TopicPartitionOffset(topic: tp.topic, partition: tp.partition,
                                     offset: committed.first { $0.partition == tp.partition }?.offset)
            }
        } catch {
            // Answering again from the start is safe (the production worker ignores repeats); skipping is not.
            Terminal.error("cannot read the committed offsets of \(group) (\(error)): starting from the earliest orders")
            return partitions.map(\.withoutOffset)
        }
    }

    func partitionsRevoked(_ partitions: [TopicPartitionOffset]) { onRevoke(partitions) }
}
