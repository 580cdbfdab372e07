import Foundation
import GRDB
import Kafka
import Logging
import Metrics

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
/// Records are applied on the worker loop's thread (``pump(active:)`` after every poll); a catch-up
/// (which reads the changelog partition from its start) runs on a thread of its own, one at a
/// time, so the loop's batches, commits and heartbeats never wait for it. The loop hands a
/// partition over with ``release(_:)`` before it opens it as the owner: its copy is closed, and a
/// catch-up of it still running is waited for, so a copy and the owner's file of one partition
/// are never open for writing together.
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

    /// One catch-up on the background thread; its fields are written there and read by the loop
    /// only after `done` (a DispatchGroup's wait/notify orders the two).
    private final class CatchUpJob: @unchecked Sendable {
        let partition: Int32
        var store: PartitionStore?
        var outcome: Result<(state: StatePoint, next: Int64), Error> = .failure(StateChangelogError("not run"))
        let done = DispatchGroup()
        init(partition: Int32, store: PartitionStore?) {
            self.partition = partition
            self.store = store
        }
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
    private let catchUpQueue = DispatchQueue(label: "card.standby.catch-up")

    private var copies: [Int32: Copy] = [:]
    /// Placed here but not (yet) caught up, in the order they are taken.
    private var waiting: [Int32] = []
    /// The catch-up running on the background thread.
    private var running: CatchUpJob?
    /// The partitions the last placement gave this instance: a catch-up that ends after its
    /// partition left this set is closed, not kept.
    private var placed: Set<Int32> = []
    /// Partitions whose catch-up failed, and until when they are not placed again.
    private var backoff: [Int32: ContinuousClock.Instant] = [:]
    private var members: [String: (view: MemberView, heardAt: ContinuousClock.Instant)] = [:]
    private var membershipNext: Int64
    /// The membership topic's end when this instance started: placement waits until it has read
    /// that far (it would otherwise see itself alone and place every partition here).
    private let membershipStartHigh: Int64
    private var lastHeartbeat: ContinuousClock.Instant
    /// When the group last moved this instance's partitions (nil: no assignment yet). Placement waits
    /// a heartbeat interval after it: mid-rebalance the instance holds nothing for a moment and
    /// would place copies of its own partitions.
    private var lastAssignmentChange: ContinuousClock.Instant?
    /// Set while another process uses the state directory: no copies kept, heartbeats go on.
    private var shared = false
    /// Partitions were taken and the rebalance's assignment has not come yet.
    private var awaitingAssignment = false
    private var consumerAssignment: [TopicPartitionOffset] = []
    private let copiesGauge: Gauge
    private let catchUps: Counter
    private let applyDelay: Timer
    /// Longest apply delay (ms) since the last membership record: the record's `standby_delay_ms`.
    private var longestDelayMs: Int64 = 0

    /// How long a partition whose catch-up failed stays unplaced. 30 s: a changelog that cannot be
    /// read now (a broker down, a chain cut by retention) is not read again every heartbeat.
    static let failureBackoff: Duration = .seconds(30)

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

    /// When the loop should next call ``pump(active:)`` at the latest.
    var nextDue: ContinuousClock.Instant {
        let heartbeat = lastHeartbeat + Membership.heartbeatInterval
        // With copies (or a catch-up to start or collect), records may come at any time: a pass at
        // least every 500 ms (the fetch wait) bounds their lag; without, only the heartbeat is due.
        let busy = !copies.isEmpty || !waiting.isEmpty || running != nil
        return busy ? min(heartbeat, .now + .milliseconds(500)) : heartbeat
    }

    /// Reads what the membership topic and the copies' changelog partitions have, applies it,
    /// collects a finished catch-up and starts the next, and publishes this instance's record and
    /// re-places the copies when due. Never throws: a copy that fails is dropped with a warning
    /// (placed again after ``failureBackoff``); nothing here may stop the active work.
    /// - Parameter active: the partitions this instance owns now.
    func pump(active: Set<Int32>) {
        // Another process came to this directory: its partitions' files are here too, so no copy may
        // stay open; this instance goes on saying what it owns.
        let sharedNow = identity.isShared
        if sharedNow && !shared && identity.ownsDirectory {
            logger.warning("another process uses this state directory now: standby copies dropped, none kept until it leaves")
        }
        if sharedNow && (!copies.isEmpty || !waiting.isEmpty || running != nil) { dropEverything() }
        shared = sharedNow
        let result = consumer.poll(maxMessages: 2000, timeout: .zero, reportingSkips: false)
        for error in result.errors {
            // A changelog partition that failed (its offset gone to retention, say) is paused by the
            // consumer: the copy is caught up again, which reassigns and resumes it.
            if let partition = error.partition, partition.topic == changelogTopic, copies[partition.partition] != nil {
                copies[partition.partition]?.stale = true
                logger.warning("standby copy's changelog read failed; it catches up again", metadata: [
                    LogKey.partition: "\(partition.partition)", LogKey.error: "\(error.error)"])
            } else {
                logger.debug("standby consumer error", metadata: [LogKey.error: "\(error)"])
            }
        }
        var taken: [Int32: [(ChangelogEntry, Int64?)]] = [:]
        for message in result.messages {
            if message.topic == Membership.topic {
                guard message.offset >= membershipNext else { continue }
                membershipNext = message.offset + 1
                heard(message)
            } else if var copy = copies[message.partition], !copy.stale, message.offset == copy.next {
                copy.next += 1
                if case .record(let entry) = copy.assembler.take(message) { taken[message.partition, default: []].append((entry, message.timestampMilliseconds)) }
                copies[message.partition] = copy
            }
        }
        for (partition, entries) in taken { apply(entries, to: partition) }
        collectCatchUp(active: active)
        if ContinuousClock.now - lastHeartbeat >= Membership.heartbeatInterval {
            lastHeartbeat = .now
            if !shared, !awaitingAssignment, membershipNext >= membershipStartHigh, let changed = lastAssignmentChange,
               ContinuousClock.now - changed >= Membership.heartbeatInterval {
                place(active: active)
            }
            publish(active: active)
        }
        if !shared { startCatchUp() }
    }

    /// The group assigned (`assigned`) or took partitions (called from the rebalance callbacks).
    /// After partitions are taken the instance waits for the rebalance's assignment before placing:
    /// an eager rebalance revokes everything and may take longer than a heartbeat to assign.
    func assignmentChanged(assigned: Bool) {
        awaitingAssignment = !assigned
        lastAssignmentChange = .now
        // Others learn of it at the next heartbeat, which comes now.
        lastHeartbeat = ContinuousClock.now - Membership.heartbeatInterval
    }

    /// Gives partitions up before this instance opens them as their owner: their copies are closed
    /// (the files stay: the owner's opening finds them current or nearly so). A catch-up of one of
    /// them still running is waited for first.
    func release(_ partitions: Set<Int32>) {
        if let job = running, partitions.contains(job.partition) { abandonCatchUp() }
        var changed = false
        placed.subtract(partitions)
        for partition in partitions {
            waiting.removeAll { $0 == partition }
            if let copy = closeCopy(partition) {
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
        dropEverything()
        tombstone()
        consumer.close()
    }

    private func dropEverything() {
        abandonCatchUp()
        for partition in Array(copies.keys) { closeCopy(partition) }
        waiting.removeAll()
        placed.removeAll()
        copiesGauge.record(0)
        reassignQuietly()
    }

    // MARK: - Membership

    private func tombstone() {
        try? producer.enqueue(ProducerRecord(topic: Membership.topic, partition: 0, key: Membership.key(worker: worker, instance: identity.id),
                                             value: nil)) { _ in }
    }

    private func heard(_ message: ConsumedMessage) {
        guard let key = message.key.map({ String(decoding: $0, as: UTF8.self) }), key.hasPrefix(worker + "/") else { return }
        let instance = String(key.dropFirst(worker.count + 1))
        guard instance != identity.id else { return }
        if message.value == nil || message.value?.isEmpty == true {
            members[instance] = nil  // a tombstone: it left
            return
        }
        // A value that is not a member record (a foreign writer's) is ignored, never fatal.
        guard let record = Membership.decode(message.value), record.worker == worker, record.instance == instance,
              record.active.allSatisfy({ (0..<partitionCount).contains($0) }) else { return }
        // Liveness on this instance's clock: a record read live was heard now; one of the backlog
        // read at start is dated by its Kafka timestamp (the writer's clock), never later than now.
        var heardAt = ContinuousClock.now
        if message.offset < membershipStartHigh, let timestamp = message.timestampMilliseconds {
            let age = max(0, Self.nowMs() - timestamp)
            heardAt = ContinuousClock.now - .milliseconds(age)
        }
        members[instance] = (MemberView(instance: instance, active: Set(record.active)), heardAt)
    }

    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    private func place(active: Set<Int32>) {
        let now = ContinuousClock.now
        members = members.filter { now - $0.value.heardAt < Membership.expiry }
        backoff = backoff.filter { $0.value > now }
        let wanted = StandbyPlacement.standbys(me: identity.id, myActive: active, members: members.values.map(\.view),
                                               partitionCount: partitionCount, replicas: replicas)
            .subtracting(active).subtracting(backoff.keys)
        placed = wanted
        var held = Set(copies.keys).union(waiting)
        if let job = running { held.insert(job.partition) }
        guard wanted != held else { return }
        for partition in held.subtracting(wanted) {
            waiting.removeAll { $0 == partition }
            closeCopy(partition)
            // A running catch-up of it is collected and closed when it ends (no longer wanted then).
        }
        waiting += wanted.subtracting(held).sorted()
        logger.info("standby copies placed", metadata: ["standby.partitions": "\(wanted.sorted())",
                                                        "members": "\(members.count + 1)"])
        reassignQuietly()
        copiesGauge.record(copies.count)
    }

    /// Removes partition `partition`'s copy, closes its file and zeroes its lag gauge.
    /// - Returns: the copy, or nil when there was none.
    @discardableResult
    private func closeCopy(_ partition: Int32) -> Copy? {
        guard let copy = copies.removeValue(forKey: partition) else { return nil }
        try? copy.store.close()
        lagGauge(partition).record(0)
        return copy
    }

    /// Waits for the running catch-up to end and closes what it opened (its outcome is not kept).
    private func abandonCatchUp() {
        guard let job = running else { return }
        job.done.wait()
        try? job.store?.close()
        running = nil
    }

    private func lagGauge(_ partition: Int32) -> Gauge {
        Gauge(label: "card_worker_standby_lag_records", dimensions: [("worker", worker), ("partition", "\(partition)")])
    }

    private func publish(active: Set<Int32>) {
        var lag: [String: Int64] = [:]
        for (partition, copy) in copies {
            let behind = consumer.cachedWatermarks(topic: changelogTopic, partition: partition).map { max(0, $0.high - copy.next) } ?? 0
            lag[String(partition)] = behind
            lagGauge(partition).record(behind)
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

    /// Starts the next catch-up (a stale copy first, then a newly placed partition) on the
    /// background thread, unless one runs.
    private func startCatchUp() {
        guard running == nil, let partition = copies.first(where: { $0.value.stale })?.key ?? waiting.first else { return }
        waiting.removeAll { $0 == partition }
        let existing = copies.removeValue(forKey: partition)
        let job = CatchUpJob(partition: partition, store: existing?.store)
        running = job
        reassignQuietly()
        let (topic, configuration, handler, logger) = (changelogTopic, configuration, handler, logger)
        job.done.enter()
        catchUpQueue.async {
            defer { job.done.leave() }
            do {
                let reader = ChangelogReader(topic: topic, kafka: configuration.kafka, logger: logger)
                guard let tail = try reader.tails(partitions: [partition])[partition] else {
                    throw StateChangelogError("changelog partition \(partition) not found")
                }
                let open = { try PartitionStore(partition: partition, handler: handler, configuration: configuration) }
                let store = try job.store ?? open()
                job.store = store
                let result = try ChangelogCatchUp(reader: reader, directory: configuration.stateDirectory, partition: partition,
                                                  handler: handler, logger: logger, role: "standby", exactHead: true)
                    .run(store: store, tail: tail, open: open)
                job.store = result.store
                job.outcome = .success((result.state, result.resumeAt ?? tail.high))
            } catch {
                job.outcome = .failure(error)
            }
        }
    }

    /// Takes a finished catch-up: its copy is kept if still wanted here, else closed.
    private func collectCatchUp(active: Set<Int32>) {
        guard let job = running, job.done.wait(timeout: .now()) == .success else { return }
        running = nil
        switch job.outcome {
        case .success(let (state, next)) where placed.contains(job.partition) && !active.contains(job.partition) && !shared:
            if let store = job.store { copies[job.partition] = Copy(store: store, state: state, next: next) }
            catchUps.increment()
        case .success:
            try? job.store?.close()
        case .failure(let error):
            try? job.store?.close()
            backoff[job.partition] = ContinuousClock.now + Self.failureBackoff
            logger.warning("standby copy could not catch up; it is placed again later", metadata: [
                LogKey.partition: "\(job.partition)", LogKey.error: "\(error)"])
        }
        copiesGauge.record(copies.count)
        reassignQuietly(force: true)
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
                _ = try copy.store.database.write { try ChangelogRestore.apply(toApply.map(\.0), in: $0) }
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

    private func reassignQuietly(force: Bool = false) {
        do { try reassign(force: force) } catch { logger.warning("standby consumer could not be reassigned", metadata: [LogKey.error: "\(error)"]) }
    }

    /// The membership partition and every caught-up copy's changelog partition, each from where it
    /// is (assigned again whenever a copy's start changes, which also lifts a pause after an error).
    private func reassign(force: Bool = false) throws {
        var wanted = [TopicPartitionOffset(topic: Membership.topic, partition: 0, offset: membershipNext)]
        for (partition, copy) in copies.sorted(by: { $0.key < $1.key }) where !copy.stale {
            wanted.append(TopicPartitionOffset(topic: changelogTopic, partition: partition, offset: copy.next))
        }
        // Offsets move as records are read: only a new set, or a copy started afresh, reassigns.
        guard force || wanted.map(\.withoutOffset) != consumerAssignment.map(\.withoutOffset) else { return }
        try consumer.assign(wanted)
        try? consumer.resume(wanted)
        consumerAssignment = wanted
    }
}
