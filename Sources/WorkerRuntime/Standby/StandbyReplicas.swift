import Foundation
import GRDB
import Kafka
import Logging
import Metrics
import SQLiteChangeset

/// How many standby copies of each partition a worker type keeps (Kafka Streams'
/// `num.standby.replicas`), from `CARD_STANDBY_REPLICAS`.
public enum StandbyReplicaSetting {
    public static let environmentVariable = "CARD_STANDBY_REPLICAS"
    /// Default 1 (Kafka Streams' default is 0): with one instance per worker type there is nobody
    /// to keep a copy, so it costs nothing; with several, a move (scale, roll, a lost instance) finds
    /// the new owner's file current or a few records behind instead of restoring from a snapshot,
    /// for the price of applying each changeset once more on another instance.
    public static let defaultReplicas = 1

    /// - Throws: ``StateChangelogError`` for a value that is not a whole number from 0 to 8.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int {
        guard let text = environment[environmentVariable], !text.isEmpty else { return defaultReplicas }
        guard let value = Int(text), (0...8).contains(value) else {
            throw StateChangelogError("\(environmentVariable)=\(text) is not a whole number from 0 to 8")
        }
        return value
    }
}

/// What a standby copy does with the next changelog record it reads. Pure (docs/state-changelog.md, "Standbys").
enum StandbyStep: Equatable {
    /// It follows the copy's state: apply it.
    case apply
    /// A zombie's record (an epoch below the copy's writer), or a copy of one applied already.
    case skip
    /// Another branch (a new owner that restored from an older state): read the changelog again.
    case catchUp

    static func of(_ entry: ChangelogEntry, at state: StatePoint) -> StandbyStep {
        if entry.epoch < state.epoch { return .skip }
        if entry.predecessor == state.version, entry.predecessorEpoch.map({ $0 == state.epoch }) ?? true { return .apply }
        if entry.epoch == state.epoch, entry.version <= state.version { return .skip }
        return .catchUp
    }
}

/// Standby copies of partitions another instance owns: each is the partition's own file
/// (`partition-NNN.sqlite`) kept at the changelog's head by applying its records as they arrive, so
/// that when the partition moves here the checkpoint rule finds the file current (or a few records
/// behind, applied in place) instead of restoring it. A copy never sends anything: the outbox rows
/// it holds are the owner's, sent by whoever owns the partition.
///
/// Runs on the worker loop's thread (``pump(active:)`` after every poll), so a copy and the active
/// file of one partition are never open for writing together: the loop hands a partition over with
/// ``release(_:)`` before it opens it.
final class StandbyReplicas {
    private struct Copy {
        var store: PartitionStore
        var state: StatePoint
        /// Next changelog offset to read.
        var next: Int64
        var assembler = ChangelogRecordAssembler()
        /// Out of step with the changelog: caught up again before more records are applied.
        var stale = false
    }

    private let worker: String
    private let identity: InstanceIdentity
    private let replicas: Int
    private let changelogTopic: String
    private let partitionCount: Int32
    private let handler: any WorkerHandler
    private let configuration: WorkerConfiguration
    private let producer: KafkaProducer
    private let consumer: KafkaConsumer
    private let logger: Logger

    private var copies: [Int32: Copy] = [:]
    /// Placed here but not (yet) caught up, in the order they are taken.
    private var waiting: [Int32] = []
    private var members: [String: (view: MemberView, heardAtMs: Int64)] = [:]
    private var membershipNext: Int64
    /// The membership topic's end when this instance started: placement waits until it has read
    /// that far (it would otherwise see itself alone and place every partition here).
    private let membershipStartHigh: Int64
    private var lastHeartbeat: ContinuousClock.Instant
    /// When the group last moved this instance's partitions (nil: no assignment yet). Placement waits
    /// a heartbeat interval after it: mid-rebalance the instance holds nothing for a moment and
    /// would place copies of its own partitions.
    private var lastAssignmentChange: ContinuousClock.Instant?
    private var consumerAssignment: [TopicPartitionOffset] = []
    private let copiesGauge: Gauge
    private let catchUps: Counter
    private let applyDelay: Timer
    /// Longest apply delay (ms) since the last membership record: the record's `standby_delay_ms`.
    private var longestDelayMs: Int64 = 0

    /// - Throws: `KafkaError` when the membership topic's end cannot be read or the consumer made.
    init(worker: String, identity: InstanceIdentity, replicas: Int, changelogTopic: String, partitionCount: Int32,
         handler: any WorkerHandler, configuration: WorkerConfiguration, producer: KafkaProducer, logger: Logger) throws {
        self.worker = worker
        self.identity = identity
        self.replicas = replicas
        self.changelogTopic = changelogTopic
        self.partitionCount = partitionCount
        self.handler = handler
        self.configuration = configuration
        self.producer = producer
        self.logger = logger
        var consumerConfiguration = KafkaConsumerConfiguration(client: configuration.kafka, groupID: nil)
        // A standby is not a hop of an application: waiting up to 500 ms for news is its lag, not anyone's latency.
        consumerConfiguration.fetchMaxWait = KafkaConsumerConfiguration.tailingFetchMaxWait
        consumer = try KafkaConsumer(configuration: consumerConfiguration, detectGaps: false, logger: logger)
        // The last minute of heartbeats is all placement needs (2 s each, a handful of instances).
        let (low, high) = try consumer.watermarks(topic: Membership.topic, partition: 0, timeout: .seconds(10))
        membershipNext = max(low, high - 2000)
        membershipStartHigh = high
        lastHeartbeat = ContinuousClock.now - Membership.heartbeatInterval
        let d = [("worker", worker)]
        copiesGauge = Gauge(label: "card_worker_standby_partitions", dimensions: d)
        catchUps = Counter(label: "card_worker_standby_catch_ups_total", dimensions: d)
        applyDelay = Timer(label: "card_worker_standby_apply_delay_seconds", dimensions: d)
        try reassign()
        logger.info("standby copies on", metadata: ["standby.replicas": "\(replicas)", "instance": "\(identity.id)",
                                                    LogKey.topic: "\(Membership.topic)"])
    }

    /// When the loop should next call ``pump(active:)`` at the latest: records may be waiting.
    var nextDue: ContinuousClock.Instant {
        if !waiting.isEmpty || copies.values.contains(where: \.stale) { return .now }
        // With copies, records may come at any time: a pass at least every 500 ms (the fetch wait)
        // bounds their lag; without, only the heartbeat is due.
        let heartbeat = lastHeartbeat + Membership.heartbeatInterval
        return copies.isEmpty ? heartbeat : min(heartbeat, .now + .milliseconds(500))
    }

    /// Reads what the membership topic and the copies' changelog partitions have, applies it,
    /// publishes this instance's record when due and re-places the copies, and catches up at most one
    /// copy. Never throws: a copy that fails is dropped with a warning (it is placed again later),
    /// and nothing here may stop the active work.
    /// - Parameter active: the partitions this instance owns now.
    func pump(active: Set<Int32>) {
        // Another process came to this directory: its partitions' files are here too, so no copy may stay open.
        if identity.isShared {
            if !copies.isEmpty || !waiting.isEmpty {
                logger.warning("another process uses this state directory now: standby copies dropped")
                for copy in copies.values { try? copy.store.database.close() }
                copies.removeAll()
                waiting.removeAll()
                copiesGauge.record(0)
                reassignQuietly()
            }
            publishIfDue(active: active, place: false)
            return
        }
        let result = consumer.poll(maxMessages: 2000, timeout: .zero)
        for error in result.errors { logger.debug("standby consumer error", metadata: [LogKey.error: "\(error)"]) }
        var taken: [Int32: [(ChangelogEntry, Int64?)]] = [:]
        for message in result.messages {
            if message.topic == Membership.topic {
                guard message.offset >= membershipNext else { continue }
                membershipNext = message.offset + 1
                heard(message)
            } else if var copy = copies[message.partition], message.offset == copy.next {
                copy.next += 1
                if case .record(let entry) = copy.assembler.take(message) { taken[message.partition, default: []].append((entry, message.timestampMilliseconds)) }
                copies[message.partition] = copy
            }
        }
        for (partition, entries) in taken { apply(entries, to: partition) }
        publishIfDue(active: active, place: true)
        if let partition = copies.first(where: { $0.value.stale })?.key ?? waiting.first {
            catchUp(partition)
        }
    }

    private func publishIfDue(active: Set<Int32>, place placing: Bool) {
        guard ContinuousClock.now - lastHeartbeat >= Membership.heartbeatInterval else { return }
        lastHeartbeat = .now
        if placing, membershipNext >= membershipStartHigh, let changed = lastAssignmentChange,
           ContinuousClock.now - changed >= Membership.heartbeatInterval {
            place(active: active)
        }
        publish(active: active)
    }

    /// The group assigned or took partitions (called from the rebalance callbacks).
    func assignmentChanged() {
        lastAssignmentChange = .now
        // Others learn of it at the next heartbeat, which comes now.
        lastHeartbeat = ContinuousClock.now - Membership.heartbeatInterval
    }

    /// Gives partitions up before this instance opens them as their owner: their copies are closed
    /// (the files stay: the owner's opening finds them current or nearly so).
    func release(_ partitions: Set<Int32>) {
        var changed = false
        for partition in partitions {
            waiting.removeAll { $0 == partition }
            if let copy = copies.removeValue(forKey: partition) {
                try? copy.store.database.close()
                changed = true
                logger.info("standby copy handed over to the active owner", metadata: [
                    LogKey.partition: "\(partition)", "state.version": "\(copy.state.version)"])
            }
        }
        if changed { reassignQuietly() }
        copiesGauge.record(copies.count)
    }

    /// Closes the copies and tells the others this instance is gone (a tombstone), so they re-place
    /// its standbys at once instead of after ``Membership/expiry``.
    func close() {
        try? producer.enqueue(ProducerRecord(topic: Membership.topic, partition: 0, key: Membership.key(worker: worker, instance: identity.id),
                                             value: nil)) { _ in }
        for copy in copies.values { try? copy.store.database.close() }
        copies.removeAll()
        consumer.close()
    }

    // MARK: - Membership

    private func heard(_ message: ConsumedMessage) {
        guard let key = message.key.map({ String(decoding: $0, as: UTF8.self) }), key.hasPrefix(worker + "/") else { return }
        let instance = String(key.dropFirst(worker.count + 1))
        guard instance != identity.id else { return }
        guard let record = Membership.decode(message.value), record.worker == worker, record.instance == instance else {
            members[instance] = nil  // a tombstone: it left
            return
        }
        members[instance] = (MemberView(instance: instance, active: Set(record.active)), message.timestampMilliseconds ?? Self.nowMs())
    }

    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    private func place(active: Set<Int32>) {
        let cutoff = Self.nowMs() - Int64(Membership.expiry.seconds * 1000)
        members = members.filter { $0.value.heardAtMs >= cutoff }
        let wanted = StandbyPlacement.standbys(me: identity.id, myActive: active, members: members.values.map(\.view),
                                               partitionCount: partitionCount, replicas: replicas).subtracting(active)
        let held = Set(copies.keys).union(waiting)
        guard wanted != held else { return }
        for partition in held.subtracting(wanted) {
            waiting.removeAll { $0 == partition }
            if let copy = copies.removeValue(forKey: partition) { try? copy.store.database.close() }
        }
        waiting += wanted.subtracting(held).sorted()
        logger.info("standby copies placed", metadata: ["standby.partitions": "\(wanted.sorted())",
                                                        "members": "\(members.count + 1)"])
        reassignQuietly()
        copiesGauge.record(copies.count)
    }

    private func publish(active: Set<Int32>) {
        var lag: [String: Int64] = [:]
        for (partition, copy) in copies {
            let behind = consumer.cachedWatermarks(topic: changelogTopic, partition: partition).map { max(0, $0.high - copy.next) } ?? 0
            lag[String(partition)] = behind
            Gauge(label: "card_worker_standby_lag_records", dimensions: [("worker", worker), ("partition", "\(partition)")]).record(behind)
        }
        let record = Membership.Record(worker: worker, instance: identity.id, active: active.sorted(), standby: copies.keys.sorted(),
                                       standbyLag: lag, intervalMs: Int(Membership.heartbeatInterval.seconds * 1000),
                                       standbyDelayMs: longestDelayMs)
        longestDelayMs = 0
        do {
            try producer.enqueue(ProducerRecord(topic: Membership.topic, partition: 0, key: Membership.key(worker: worker, instance: identity.id),
                                                value: Membership.encode(record))) { [logger] error in
                if let error { logger.warning("membership record not delivered", metadata: [LogKey.error: "\(error)"]) }
            }
        } catch {
            logger.warning("membership record not sent", metadata: [LogKey.error: "\(error)"])
        }
    }

    // MARK: - Copies

    private func open(_ partition: Int32) throws -> PartitionStore {
        try PartitionStore(directory: configuration.stateDirectory, partition: partition, handler: handler,
                           cacheKiB: configuration.partitionCacheKiB)
    }

    private func catchUp(_ partition: Int32) {
        waiting.removeAll { $0 == partition }
        let existing = copies.removeValue(forKey: partition)
        do {
            let reader = ChangelogReader(topic: changelogTopic, kafka: configuration.kafka, logger: logger)
            guard let tail = try reader.tails(partitions: [partition])[partition] else { return }
            let store = try existing?.store ?? open(partition)
            let result = try ChangelogCatchUp(reader: reader, directory: configuration.stateDirectory, partition: partition,
                                              handler: handler, logger: logger, role: "standby")
                .run(store: store, tail: tail) { try self.open(partition) }
            copies[partition] = Copy(store: result.store, state: result.state, next: tail.high)
            catchUps.increment()
        } catch {
            try? existing?.store.database.close()
            logger.warning("standby copy could not catch up; it is placed again later", metadata: [
                LogKey.partition: "\(partition)", LogKey.error: "\(error)"])
            // Forget it until the next placement puts it back (after a heartbeat interval).
        }
        copiesGauge.record(copies.count)
        reassignQuietly()
    }

    private func apply(_ entries: [(ChangelogEntry, Int64?)], to partition: Int32) {
        guard var copy = copies[partition], !copy.stale else { return }
        var state = copy.state
        var toApply: [(ChangelogEntry, Int64?)] = []
        for (entry, timestamp) in entries {
            switch StandbyStep.of(entry, at: state) {
            case .apply:
                toApply.append((entry, timestamp))
                state = StatePoint(version: entry.version, epoch: entry.epoch)
            case .skip:
                continue
            case .catchUp:
                copy.stale = true
            }
            if copy.stale { break }
        }
        do {
            if !toApply.isEmpty {
                try copy.store.database.write { db in
                    for (entry, _) in toApply { _ = try Changeset(bytes: entry.changeset).apply(to: db, policy: .replace) }
                    try PartitionStore.setAnchor(db, state)
                }
                copy.state = state
                let now = Self.nowMs()
                for case (_, let timestamp?) in toApply {
                    let delay = max(0, now - timestamp)
                    applyDelay.recordMilliseconds(delay)
                    longestDelayMs = max(longestDelayMs, delay)
                }
            }
        } catch {
            logger.warning("standby copy could not apply a changelog record; it catches up again", metadata: [
                LogKey.partition: "\(partition)", LogKey.error: "\(error)"])
            copy.stale = true
        }
        if copy.stale { logger.info("standby copy out of step with the changelog (a new owner's branch): catching up", metadata: [LogKey.partition: "\(partition)"]) }
        copies[partition] = copy
    }

    private func reassignQuietly() {
        do { try reassign() } catch { logger.warning("standby consumer could not be reassigned", metadata: [LogKey.error: "\(error)"]) }
    }

    /// The membership partition and every caught-up copy's changelog partition, each from where it is.
    private func reassign() throws {
        var wanted = [TopicPartitionOffset(topic: Membership.topic, partition: 0, offset: membershipNext)]
        for (partition, copy) in copies.sorted(by: { $0.key < $1.key }) where !copy.stale {
            wanted.append(TopicPartitionOffset(topic: changelogTopic, partition: partition, offset: copy.next))
        }
        guard wanted.map(\.withoutOffset) != consumerAssignment.map(\.withoutOffset) else { return }
        try consumer.assign(wanted)
        consumerAssignment = wanted
    }
}
