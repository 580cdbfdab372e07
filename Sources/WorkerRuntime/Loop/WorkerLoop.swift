import Foundation
import GRDB
import Kafka
import Logging
import Synchronization
import CardDomain

/// The effectively-once loop: poll a batch, apply it in one SQLite transaction per partition
/// (state + outbox + next offsets), relay the outbox, commit offsets to Kafka for lag tools.
///
/// `@unchecked Sendable`: all mutable state is touched only on the loop's own thread; the
/// rebalance listener runs inside `poll` on that same thread. `stopRequested` is a Mutex.
final class WorkerLoop: RebalanceListener, @unchecked Sendable {
    private let handler: any WorkerHandler
    private let configuration: WorkerConfiguration
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let reference: ReferenceLoader?
    private let logger: Logger
    private let metrics: WorkerMetrics
    private let stopRequested = Mutex(false)
    private let health: WorkerHealth
    private let placement: InputPlacement
    /// Every output is checked against the producer's `message.max.bytes` before the outbox.
    private let outputLimit: OutputLimit

    private var relays: [Int32: OutboxRelay] = [:]
    private var nextRetryAt: [Int32: Date] = [:]
    private var uncommitted: [TopicPartitionOffset: Int64] = [:]
    private var lastTick = ContinuousClock.now
    private var lastCommit = ContinuousClock.now
    private var lastStageReport = ContinuousClock.now - .seconds(3600)
    private var listenerFailure: Error?
    /// Set when shutdown starts: the drain of every partition, on revoke too, ends by then.
    private var shutdownDeadline: ContinuousClock.Instant?
    /// The state changelog topic this worker writes, or nil when it is off (resolved in `run`).
    private var changelogTopic: String?
    /// Holds outputs until the group accepts a commit made after their changelog record (on with the changelog).
    private let fence: OutputFence
    /// The next offset to read per assigned input partition, as SQLite stores it: what a fence commit sends.
    private var inputOffsets: [TopicPartitionOffset: Int64] = [:]
    /// Quiet input partitions paused and probed instead of fetched (nil: off, as on Apache Kafka).
    private var idle: IdlePause?
    /// Standby copies of partitions other instances own (nil: off; resolved in `run`).
    private var standby: StandbyReplicas?
    /// This instance's id and its state directory's locks, held for the life of the loop.
    private var instanceIdentity: InstanceIdentity?
    /// Set when the group refused this member's commit at shutdown: revokes that follow are
    /// treated as lost (nothing more is released for those partitions).
    private var removedFromGroup = false

    init(handler: any WorkerHandler, configuration: WorkerConfiguration, reference: ReferenceLoader?, health: WorkerHealth,
         logger: Logger) throws {
        self.handler = handler
        self.health = health
        self.configuration = configuration
        self.reference = reference
        self.logger = logger
        self.metrics = WorkerMetrics(worker: configuration.name)
        self.fence = OutputFence(worker: configuration.name, logger: logger)
        try FileManager.default.createDirectory(at: configuration.stateDirectory, withIntermediateDirectories: true)
        var producerConfig = configuration.producer
        producerConfig.client = configuration.kafka
        producer = try KafkaProducer(configuration: producerConfig, logger: logger)
        placement = try InputPlacement(handler: handler, producer: producerConfig,
                                       admin: try KafkaAdmin(configuration: configuration.kafka, logger: logger), logger: logger, metrics: metrics)
        outputLimit = OutputLimit(maxBytes: producer.messageMaxBytes)
        var consumerConfiguration = KafkaConsumerConfiguration(client: configuration.kafka, groupID: configuration.groupID)
        if let wait = configuration.inputFetchMaxWait { consumerConfiguration.fetchMaxWait = wait }
        consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        // `auto` decides on the wait this consumer really uses: CARD_KAFKA_FETCH_WAIT_MAX_MS (an extra
        // property) wins over the cluster's default, and the consumer configuration has applied both.
        let fetchWait = consumerConfiguration.librdkafkaProperties["fetch.wait.max.ms"].flatMap(Int64.init)
            .map(Duration.milliseconds) ?? consumerConfiguration.fetchMaxWait
        if let policy = configuration.idlePause.resolved(fetchMaxWait: fetchWait) { idle = IdlePause(policy: policy) }
        // A delivery report may free outputs (their changelog record is stored) or outbox room:
        // end the poll's wait so the relay acts now, not when the wait runs out.
        producer.onDeliveryReports { [consumer] in consumer.wakeUp() }
    }

    func requestStop() {
        stopRequested.withLock { $0 = true }
        consumer.wakeUp()
    }
    private var isStopping: Bool { stopRequested.withLock { $0 } }

    /// Runs until `requestStop`, then finishes the batch, drains the outbox, commits and leaves the group.
    func run() throws {
        try placement.refresh()
        try resolveChangelog()
        try consumer.subscribe(handler.inputTopics, listener: self)
        logger.info("worker started", metadata: [LogKey.worker: "\(configuration.name)", "topics": "\(handler.inputTopics)"])
        while !isStopping {
            let result = consumer.poll(maxMessages: configuration.maxBatchSize, timeout: inputWait())
            if let failure = listenerFailure { throw failure }
            report(result.errors)
            if !result.messages.isEmpty {
                try apply(result.messages)
            }
            if !result.skippedTo.isEmpty { try recordSkipped(result.skippedTo) }
            try runDueRetries()
            try tickIfDue()
            reportStagesIfDue()
            if changelogTopic != nil { fence.settle(relays: relays) }
            try relayAndCleanUp()
            if changelogTopic != nil { fence.startIfNeeded(relays: relays, offsets: positionList, consumer: consumer) }
            commitIfDue(force: false)
            standby?.pump(active: Set(relays.keys))
            pauseOrResumeQuietInputs()
        }
        try shutDown()
    }

    /// Probes the paused input partitions when due and resumes those with news; pauses those gone
    /// quiet (``IdlePause``). A probe that fails resumes them all: fetching is always safe.
    private func pauseOrResumeQuietInputs() {
        guard var idle else { return }
        defer { self.idle = idle }
        let now = ContinuousClock.now
        if idle.probeDue(now: now) {
            let latest: [TopicPartitionOffset: Int64]?
            do {
                latest = try consumer.latestOffsets(Array(idle.paused.keys), timeout: .milliseconds(500))
            } catch {
                logger.warning("probe of paused input partitions failed; fetching them again", metadata: [LogKey.error: "\(error)"])
                latest = nil
            }
            let resume = idle.probed(latest: latest, now: now)
            if !resume.isEmpty {
                logger.debug("paused input partitions resumed: records arrived", metadata: ["partitions": "\(resume)"])
                do {
                    try consumer.resume(resume)
                    // librdkafka 2.0.2 acts on a partition's resume only when the thread of its
                    // leader's connection next wakes for other work, which on a quiet consumer is the
                    // next probe: a request to those leaders wakes them now. Measured through
                    // count-worker, one hop after a quiet spell with a 100 ms probe: 117–206 ms
                    // without this request, 23–97 ms with it. Resumes are rare: the request is too.
                    _ = try? consumer.latestOffsets(resume, timeout: .milliseconds(200))
                } catch {
                    // Still paused in librdkafka: paused again once quiet, and the next probe resumes it.
                    logger.warning("resuming quiet input partitions failed", metadata: [LogKey.error: "\(error)"])
                }
            }
        }
        let pause = idle.toPause(now: now, stopped: consumer.stopped) { tp in
            let fetched = consumer.cachedWatermarks(topic: tp.topic, partition: tp.partition)
            // Nothing stored and nothing read yet: the worker starts at the log start (earliest).
            let next = inputOffsets[tp] ?? consumer.positions([tp]).first?.offset ?? fetched?.low
            return IdlePause.Offsets(next: next, fetchedHigh: fetched?.high)
        }
        guard !pause.isEmpty else { return }
        do {
            try consumer.pause(pause)
            logger.debug("input partitions paused while quiet", metadata: ["partitions": "\(pause)"])
        } catch {
            idle.resumed(pause, now: now)
            logger.warning("pausing quiet input partitions failed", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// How long the next poll may wait for input: until the soonest work of the loop's own falls
    /// due (tick, parked retry, Kafka commit, stage report), at most `pollTimeout`. Delivery
    /// reports and stop requests end the wait early (``KafkaConsumer/wakeUp()``), and input ends
    /// it as soon as it arrives, so a long wait costs no latency; it saves waking 20 times a
    /// second with nothing to do (README, "Idle").
    private func inputWait() -> Duration {
        let now = ContinuousClock.now
        var due = min(lastTick + configuration.tickInterval, lastStageReport + configuration.stageReportInterval)
        if !uncommitted.isEmpty { due = min(due, lastCommit + configuration.kafkaCommitInterval) }
        if !fence.isWaiting, let retry = fence.retryAt { due = min(due, retry) }
        if let standby { due = min(due, standby.nextDue) }
        if let probe = idle?.nextProbe { due = min(due, probe) }
        for relay in relays.values {
            if let since = relay.deletionsPendingSince { due = min(due, since + OutboxRelay.idleDeletionDelay) }
        }
        if let soonest = nextRetryAt.values.min() {
            // Retry times are on the handler's clock (tests move it); the tick bounds the wait anyway.
            let seconds = max(0, soonest.timeIntervalSince(configuration.clock()))
            due = min(due, now + .milliseconds(Int64(min(seconds, 3600) * 1000)))
        }
        return max(.zero, min(due - now, configuration.pollTimeout))
    }

    /// Decides whether this worker writes a state changelog (docs/state-changelog.md), before any
    /// partition is opened.
    /// - Throws: ``StateChangelogError`` (a bad `CARD_STATE_CHANGELOG`, `on` without the topic, a topic
    ///   not co-partitioned with the inputs); `KafkaError` when the brokers cannot be asked.
    private func resolveChangelog() throws {
        let mode = try configuration.stateChangelog ?? StateChangelogMode.fromEnvironment()
        guard mode != .off else {
            logger.notice("state changelog off: partition state lives only in this instance's files")
            return
        }
        let admin = try KafkaAdmin(configuration: configuration.kafka, logger: logger)
        var counts: [String: Int32] = [:]
        for attempt in 1...5 {
            do {
                counts = try admin.topicPartitionCounts()
                break
            } catch where attempt < 5 {
                logger.warning("could not read topics for the state changelog; trying again", metadata: [LogKey.error: "\(error)"])
                Thread.sleep(forTimeInterval: 1)
            }
        }
        changelogTopic = try StateChangelog.resolve(mode: mode, worker: configuration.name, inputTopics: handler.inputTopics, counts: counts)
        if let changelogTopic {
            logger.info("state changelog on", metadata: [LogKey.topic: "\(changelogTopic)"])
            try resolveStandbys(changelogTopic: changelogTopic, counts: counts)
        } else {
            logger.notice("state changelog off: its topic does not exist (apply Topics/ to turn it on)",
                          metadata: [LogKey.topic: "\(StateChangelog.topic(worker: configuration.name))"])
        }
    }

    /// Starts standby copies (docs/state-changelog.md, "Standbys") when `CARD_STANDBY_REPLICAS` (or
    /// the configuration) asks for any, the membership topic exists and this process alone uses its
    /// state directory.
    /// - Throws: ``StateChangelogError`` for a bad `CARD_STANDBY_REPLICAS`; file errors when the
    ///   instance id cannot be written. A membership topic that cannot be read turns copies off (a warning).
    private func resolveStandbys(changelogTopic: String, counts: [String: Int32]) throws {
        // Taken whether or not this instance keeps copies: its lock tells another instance on the
        // same directory that it may not keep any there.
        let identity = try InstanceIdentity.load(directory: configuration.stateDirectory, logger: logger)
        instanceIdentity = identity
        let replicas = try configuration.standbyReplicas ?? StandbyReplicaSetting.fromEnvironment()
        guard counts[Membership.topic] != nil else {
            logger.notice("standby copies off: the membership topic does not exist (apply Topics/ to turn them on)",
                          metadata: [LogKey.topic: "\(Membership.topic)"])
            return
        }
        // An instance that keeps no copies (0 replicas, or a shared directory) still says what it
        // owns, so others place copies of its partitions and `fleet members` shows it.
        if replicas == 0 {
            logger.notice("standby copies off (\(StandbyReplicaSetting.environmentVariable)=0): a partition that moves here is restored")
        }
        do {
            standby = try StandbyReplicas(worker: configuration.name, identity: identity, replicas: replicas, changelogTopic: changelogTopic,
                                          partitionCount: counts[changelogTopic] ?? 0, handler: handler, configuration: configuration,
                                          producer: producer, logger: logger)
        } catch {
            // Copies only save a move's wait: a worker without them is still correct.
            logger.warning("standby copies off: the membership topic could not be read", metadata: [LogKey.error: "\(error)"])
        }
    }

    // MARK: - Batches

    private func apply(_ messages: [ConsumedMessage]) throws {
        let start = ContinuousClock.now
        var byPartition: [Int32: [ConsumedMessage]] = [:]
        for message in messages { byPartition[message.partition, default: []].append(message) }
        for (partition, batch) in byPartition {
            guard let relay = relays[partition] else {
                logger.warning("message for an unassigned partition dropped from this batch; it will be redelivered to its owner",
                               metadata: [LogKey.partition: "\(partition)"])
                continue
            }
            let now = configuration.clock()
            let context = HandlerContext(now: now, partition: partition, reference: reference?.database)
            var emitted = 0
            var parked = false
            var fresh: [PartitionStore.OutboxRow] = []
            try relay.store.write { db in
                try relay.deleteDelivered(in: db)
                var next: [String: Int64] = [:]
                for message in batch {
                    next[message.topic] = message.offset + 1
                    // A copy that cannot be sent (over message.max.bytes) is not forwarded: the record is
                    // processed where it is, so its sender still hears back (e.g. SUBMISSION_TOO_LARGE).
                    switch placement.rekeyed(message) {
                    case .forward(let copy) where outputLimit.refusal(copy) == nil:
                        fresh.append(try PartitionStore.append(db, copy))
                        emitted += 1
                        continue
                    case .refuse(let cause):
                        fresh.append(try PartitionStore.append(db, DeadLetters.message(
                            for: InboundMessage(message: message, attempt: 1, firstSeenAt: now), cause: cause, worker: configuration.name,
                            topic: configuration.deadLetterTopic, at: now)))
                        metrics.deadLettered.increment()
                        logger.error("record dead-lettered: re-keyed once already, instances disagree on the partitioner", metadata: [
                            LogKey.topic: "\(message.topic)", LogKey.partition: "\(message.partition)", LogKey.offset: "\(message.offset)"])
                        continue
                    default:
                        break
                    }
                    if placement.trustsMessageID(on: message.topic), let id = message.header(messageIDHeader)?.stringValue {
                        // One statement: the insert is ignored exactly when the id was applied before.
                        if try !PartitionStore.markAppliedIfNew(db, id: id, at: now) {
                            metrics.duplicatesDropped.increment()
                            logger.info("duplicate dropped: message id already applied", metadata: [
                                LogKey.topic: "\(message.topic)", LogKey.partition: "\(message.partition)",
                                LogKey.offset: "\(message.offset)", LogKey.messageID: "\(maskedForLog(id))"])
                            continue
                        }
                    }
                    let outcome = try process(InboundMessage(message: message, attempt: 1, firstSeenAt: now), in: db, context: context)
                    emitted += outcome.rows.count
                    parked = parked || outcome.parked
                    fresh += outcome.rows
                }
                for (topic, offset) in next {
                    try PartitionStore.recordOffset(db, topic: topic, partition: partition, next: offset)
                }
            }
            relay.didDeleteDelivered()
            try relay.offer(fresh)
            var advanced: [String: Int64] = [:]
            for message in batch { advanced[message.topic] = message.offset + 1 }
            for (topic, next) in advanced {
                let tp = TopicPartitionOffset(topic: topic, partition: partition)
                uncommitted[tp] = next
                inputOffsets[tp] = next
                health.advanced(tp, next: next)
                idle?.delivered(tp, now: start)
            }
            if parked { nextRetryAt[partition] = try relay.store.nextRetryDue() }
            metrics.consumed.increment(by: Int64(batch.count))
            metrics.emitted.increment(by: Int64(emitted))
        }
        metrics.batchLatency.recordNanoseconds(Int64((ContinuousClock.now - start).seconds * 1e9))
    }

    /// Stores positions the consumer moved past offsets that hold nothing to deliver (a transaction
    /// marker at a partition's end): the stored offset, the committed one (what Burrow and
    /// `fleet lag` read) and the watchdog's progress then reach the log end.
    private func recordSkipped(_ positions: [TopicPartitionOffset]) throws {
        for p in positions {
            guard let next = p.offset, let relay = relays[p.partition] else { continue }
            try relay.store.write { try PartitionStore.recordOffset($0, topic: p.topic, partition: p.partition, next: next) }
            uncommitted[p.withoutOffset] = next
            inputOffsets[p.withoutOffset] = next
            health.advanced(p.withoutOffset, next: next)
        }
    }

    private struct Outcome {
        /// The outbox rows the message appended, for the relay to send once the transaction commits.
        var rows: [PartitionStore.OutboxRow] = []
        var parked = false
    }

    /// Runs the handler in a savepoint and records its decision: outputs, a parked retry, or a dead letter.
    private func process(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> Outcome {
        var result: HandlerResult = .done([])
        do {
            try PartitionStore.inMessageSavepoint(db) {
                result = try handler.handle(message, in: db, context: context)
                if case .done(let outputs) = result, let refusal = outputLimit.refusal(outputs) {
                    // An output that can never be sent would block the outbox: refuse the input whole.
                    result = .deadLetter(cause: "input refused: " + refusal)
                    return .rollback
                }
                if case .done = result { return .commit }
                return .rollback  // a retry or a dead letter leaves no partial state behind
            }
        } catch let error as RetriableHandlerError {
            result = .retry(reason: error.reason)
        } catch let error as PoisonMessage {
            result = .deadLetter(cause: error.cause)
        } catch let error as DatabaseError {
            // The store itself failed (busy, full, corrupt): not the message's fault. Abort the
            // batch; the worker exits, is restarted, and replays from the offsets SQLite kept.
            throw error
        } catch {
            result = .deadLetter(cause: "handler failed: \(error)")
        }
        var outcome = Outcome()
        switch result {
        case .done(let outputs):
            outcome.rows = try outputs.map { try PartitionStore.append(db, $0) }
            if message.attempt > 1 { try PartitionStore.unpark(db, message) }
        case .retry(let reason):
            let delay = configuration.backoff(afterAttempt: message.attempt)
            try PartitionStore.park(db, message, reason: reason, nextAt: context.now.addingTimeInterval(delay.seconds))
            metrics.retried.increment()
            outcome.parked = true
            logger.debug("message parked for retry", metadata: [
                LogKey.topic: "\(message.topic)", LogKey.partition: "\(message.partition)", LogKey.offset: "\(message.offset)",
                "attempt": "\(message.attempt)", "retry.in_seconds": "\(delay.seconds)"])
        case .deadLetter(let cause):
            outcome.rows = [try PartitionStore.append(db, DeadLetters.message(for: message, cause: cause, worker: configuration.name,
                                                                              topic: configuration.deadLetterTopic, at: context.now))]
            if message.attempt > 1 { try PartitionStore.unpark(db, message) }
            metrics.deadLettered.increment()
            logger.warning("message dead-lettered", metadata: [
                LogKey.topic: "\(message.topic)", LogKey.partition: "\(message.partition)", LogKey.offset: "\(message.offset)",
                LogKey.error: "\(maskedForLog(cause))"])
        }
        return outcome
    }

    // MARK: - Retries and ticks

    private func runDueRetries() throws {
        let now = configuration.clock()
        for (partition, due) in nextRetryAt where due <= now {
            guard let relay = relays[partition] else { continue }
            let context = HandlerContext(now: now, partition: partition, reference: reference?.database)
            let fresh = try relay.store.write { db in
                try PartitionStore.dueRetries(db, now: now, limit: configuration.maxBatchSize).flatMap { message in
                    try process(message, in: db, context: context).rows
                }
            }
            try relay.offer(fresh)
            metrics.emitted.increment(by: Int64(fresh.count))
            nextRetryAt[partition] = try relay.store.nextRetryDue()
        }
    }

    private func tickIfDue() throws {
        guard ContinuousClock.now - lastTick >= configuration.tickInterval else { return }
        lastTick = ContinuousClock.now
        let now = configuration.clock()
        for (partition, relay) in relays where handler.ticks {
            let context = HandlerContext(now: now, partition: partition, reference: reference?.database)
            let fresh = try relay.store.write { db in
                try handler.tick(in: db, context: context).map { try PartitionStore.append(db, admitted($0, partition: partition)) }
            }
            try relay.offer(fresh)
            metrics.emitted.increment(by: Int64(fresh.count))
        }
        metrics.outboxDepth.record(try relays.values.reduce(0) { $0 + (try $1.store.outboxDepth()) })
        try pruneAppliedIDsIfDue(now: now)
    }

    private var lastPrune = ContinuousClock.now

    /// Forgets applied message ids older than `appliedIDRetention`: by then Kafka's retention has
    /// dropped the messages they guard against, so the table stays bounded.
    private func pruneAppliedIDsIfDue(now: Date) throws {
        guard ContinuousClock.now - lastPrune >= .seconds(3600) else { return }
        lastPrune = ContinuousClock.now
        let cutoff = now.addingTimeInterval(-configuration.appliedIDRetention.seconds).timeIntervalSince1970
        for relay in relays.values {
            try relay.store.write { try $0.execute(sql: "DELETE FROM runtime_applied WHERE applied_at < ?", arguments: [cutoff]) }
        }
    }

    /// A time-driven output that could never be sent, as a bounded dead letter instead (it has no
    /// input to refuse); anything that fits, unchanged.
    private func admitted(_ output: OutboundMessage, partition: Int32) -> OutboundMessage {
        guard let refusal = outputLimit.refusal(output) else { return output }
        metrics.unsendableOutputs.increment()
        logger.error("time-driven output set aside as a dead letter", metadata: [LogKey.topic: "\(output.topic)", LogKey.error: "\(refusal)"])
        return DeadLetters.unsentOutput(output.outboxRecord, seq: 0, partition: partition, cause: refusal, worker: configuration.name,
                                        topic: configuration.deadLetterTopic, at: configuration.clock(), withPayload: true)
    }

    // MARK: - Stage gauges

    /// Publishes the handler's stage report and the parked-retry gauges, merged over open partitions.
    /// Read-only; a failure is logged and the loop goes on (these are observations, not state).
    private func reportStagesIfDue() {
        guard ContinuousClock.now - lastStageReport >= configuration.stageReportInterval else { return }
        lastStageReport = ContinuousClock.now
        let started = ContinuousClock.now
        defer {
            // It runs on the loop's thread: every message waits while it does.
            let took = ContinuousClock.now - started
            if took > .milliseconds(50) {
                logger.notice("stage report held the loop", metadata: ["duration_ms": "\(Int(took.seconds * 1000))"])
            }
        }
        let now = configuration.clock()
        var reports: [StageReport] = []
        var parked = StageReport(stage: "parked")
        do {
            for (partition, relay) in relays {
                let context = HandlerContext(now: now, partition: partition, reference: reference?.database)
                try relay.store.database.read { db in
                    reports += try handler.stageReport(in: db, context: context, window: configuration.stageReportWindow)
                    let row = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, MIN(first_seen_at) AS oldest FROM runtime_retry")
                    parked.merge(StageReport(stage: "parked", unfinished: row?["n"] ?? 0,
                                             oldestUnfinishedSince: (row?["oldest"] as Double?).map { Date(timeIntervalSince1970: $0) }))
                }
            }
        } catch {
            logger.warning("stage report failed", metadata: [LogKey.error: "\(error)"])
            return
        }
        StageGauges.record(StageGauges.merge(reports), worker: configuration.name, now: now)
        metrics.parkedMessages.record(parked.unfinished)
        metrics.oldestParkedSeconds.record(parked.oldestUnfinishedSince.map { max(0, now.timeIntervalSince($0)) } ?? 0)
    }

    // MARK: - Relay and commits

    private func relayAndCleanUp() throws {
        let now = ContinuousClock.now
        for relay in relays.values {
            for error in try relay.pump() {
                logger.warning("delivery failed; the row stays in the outbox and is sent again", metadata: [LogKey.error: "\(error)"])
            }
            // No batch came to delete what was delivered: delete it now, or a kill -9 re-sends it.
            if let since = relay.deletionsPendingSince, now - since >= OutboxRelay.idleDeletionDelay {
                try relay.store.write { try relay.deleteDelivered(in: $0) }
                relay.didDeleteDelivered()
            }
        }
    }

    private func commitIfDue(force: Bool) {
        guard !uncommitted.isEmpty, force || ContinuousClock.now - lastCommit >= configuration.kafkaCommitInterval else { return }
        lastCommit = ContinuousClock.now
        let offsets = uncommitted.map { TopicPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value) }
        do {
            // Kafka's copy is for lag tools only; SQLite holds the truth, so a failed commit loses nothing.
            try consumer.commit(offsets, async: !force)
            uncommitted.removeAll()
        } catch {
            logger.warning("offset commit to Kafka failed; will retry", metadata: [LogKey.error: "\(error)"])
        }
    }

    private func report(_ errors: [PartitionError]) {
        for error in errors {
            if error.error.code == .offsetGap {
                metrics.offsetGaps.increment()
                logger.critical("OFFSET GAP: partition stopped, messages are missing; operator action needed", metadata: [
                    LogKey.topic: "\(error.partition?.topic ?? "-")", LogKey.partition: "\(error.partition?.partition ?? -1)",
                    LogKey.error: "\(error.error.reason)"])
            } else {
                logger.warning("consumer error", metadata: [LogKey.error: "\(error)"])
            }
        }
    }

    // MARK: - Rebalance (called inside poll, on the loop thread)

    func partitionsAssigned(_ partitions: [TopicPartitionOffset]) -> [TopicPartitionOffset] {
        var positions: [TopicPartitionOffset] = []
        idle?.assigned(partitions, now: .now)
        fence.abandon()
        standby?.assignmentChanged(assigned: true)
        // A standby copy of a partition this instance now owns is its file: closed here, opened below as the owner's.
        standby?.release(Set(partitions.map(\.partition)))
        // A broker down or a leader moving makes the changelog's reads fail for a few seconds: try
        // again (partitions opened already are kept) before giving up, which stops the worker.
        for attempt in 1...Self.openAttempts {
            do {
                positions = try openAssigned(partitions)
                break
            } catch where attempt < Self.openAttempts && !isStopping {
                logger.warning("could not open partition state; trying again", metadata: [
                    LogKey.error: "\(error)", "attempt": "\(attempt)", "attempts": "\(Self.openAttempts)"])
                Thread.sleep(forTimeInterval: Self.openRetryPause.seconds * Double(attempt))
            } catch {
                listenerFailure = error
                logger.error("could not open partition state", metadata: [LogKey.error: "\(error)"])
            }
        }
        metrics.assignedPartitions.record(relays.count)
        if listenerFailure == nil { health.assigned(positions) }
        lastStageReport = ContinuousClock.now - configuration.stageReportInterval
        logger.info("partitions assigned", metadata: ["partitions": "\(positions)"])
        return positions
    }

    /// Tries to open assigned partitions' state this many times (the pauses between grow: 2 s, 4 s, …)
    /// before the worker stops: a 3 s broker outage in `fleet chaos` made a single try fail.
    static let openAttempts = 4
    static let openRetryPause: Duration = .seconds(2)

    /// Opens every assigned partition not open yet (restoring it first where needed) and returns
    /// the stored positions of all of them.
    /// - Throws: what reading the changelog, restoring or opening a file throws.
    private func openAssigned(_ partitions: [TopicPartitionOffset]) throws -> [TopicPartitionOffset] {
        var positions: [TopicPartitionOffset] = []
        // The changelog's last record of every partition to open, read together.
        let opening = Set(partitions.map(\.partition)).filter { relays[$0] == nil }.sorted()
        let reader = changelogTopic.map { ChangelogReader(topic: $0, kafka: configuration.kafka, logger: logger) }
        let tails = try reader?.tails(partitions: opening) ?? [:]
        try placement.refresh()  // partitions may have been added since the start
        for partition in Set(partitions.map(\.partition)).sorted() {
            let relay = try relays[partition] ?? {
                let store = try openPartition(partition, reader: reader, tail: tails[partition])
                return try OutboxRelay(store: store, producer: producer, setAside: .init(
                    deadLetterTopic: configuration.deadLetterTopic, worker: configuration.name, clock: configuration.clock,
                    logger: logger, counter: metrics.unsendableOutputs), fenced: true)
            }()
            relays[partition] = relay
            nextRetryAt[partition] = try relay.store.nextRetryDue()
            let topics = partitions.filter { $0.partition == partition }.map(\.topic)
            let stored = try relay.store.storedOffsets(topics: topics)
            positions += stored
            // Kafka's copy may lag SQLite's (the last owner died before its commit): commit
            // what SQLite holds, or lag tools see applied messages as waiting (STOP) forever.
            for p in stored {
                if let offset = p.offset {
                    uncommitted[p.withoutOffset] = offset
                    inputOffsets[p.withoutOffset] = offset
                }
            }
        }
        return positions
    }

    /// Opens partition `partition`'s file; with the changelog on, first restores it from the
    /// changelog when the local file is missing or older than what the changelog holds. Runs before
    /// the partition's positions are handed to the consumer, so no input is read before.
    private func openPartition(_ partition: Int32, reader: ChangelogReader?, tail: ChangelogReader.Tail?) throws -> PartitionStore {
        let open = { try PartitionStore(partition: partition, handler: self.handler, configuration: self.configuration) }
        let store = try open()
        guard let changelogTopic else { return store }
        guard let reader, let tail else { throw StateChangelogError("partition \(partition): its changelog tail was not read") }
        let policy = try SnapshotPolicy.fromEnvironment()
        let catchUp = ChangelogCatchUp(reader: reader, directory: configuration.stateDirectory, partition: partition, handler: handler,
                                       logger: logger, role: "active", remaining: metrics.restoreRemaining(partition: partition),
                                       willRead: { self.health.restoring(partition, true) })
        defer { health.restoring(partition, false) }
        let result = try catchUp.run(store: store, tail: tail, open: open)
        // Nothing known about the last snapshot of a non-empty changelog: take one soon (in the background).
        var snapshots = tail.high > tail.low ? SnapshotSchedule.due(policy) : SnapshotSchedule(policy: policy)
        if let bytes = result.restoredAfterSnapshotBytes { snapshots = SnapshotSchedule(policy: policy, changesetBytes: bytes) }
        try result.store.enableChangelog(topic: changelogTopic, seenEpoch: result.seenEpoch, snapshots: snapshots)
        return result.store
    }

    func partitionsRevoked(_ partitions: [TopicPartitionOffset]) {
        standby?.assignmentChanged(assigned: false)
        if removedFromGroup { return partitionsLost(partitions) }
        // A revoke is not proof of ownership: the embedded broker completes a rebalance without a
        // member still in its revoke (and Kafka after `max.poll.interval.ms`), and a member whose
        // coordinator is unreachable may already have been removed. The fence decides, once more.
        // Only where a relay still holds outputs: after a shutdown drained them, close()'s revoke
        // needs no second commit.
        let held = partitions.contains { relays[$0.partition] != nil }
        if changelogTopic != nil, held, !vouched() {
            logger.warning("revoke: the group did not accept a commit; outputs not yet released are left to the next owner")
            return partitionsLost(partitions)
        }
        // One deadline for all of them: with the brokers unreachable, 24 partitions × 30 s held
        // a shutdown for 12 minutes.
        let deadline = shutdownDeadline ?? ContinuousClock.now + configuration.drainTimeout
        for partition in Set(partitions.map(\.partition)).sorted() {
            guard let relay = relays.removeValue(forKey: partition) else { continue }
            nextRetryAt[partition] = nil
            // The group accepted a commit just now: no one else can have been given the partition.
            relay.releaseAll()
            do {
                if try !relay.drain(timeout: max(.zero, deadline - ContinuousClock.now)) {
                    logger.warning("outbox not drained before revoke; the next owner sends the rest", metadata: [LogKey.partition: "\(partition)"])
                }
            } catch {
                logger.error("drain on revoke failed", metadata: [LogKey.error: "\(error)"])
            }
        }
        commitIfDue(force: true)
        forget(partitions)
        logger.info("partitions revoked", metadata: ["partitions": "\(partitions)"])
    }

    /// KIP-429's "partitions lost": the group may already have given them to others, so this
    /// member releases no more outputs for them and decides nothing more. What the fence already
    /// released (decisions the next owner restores) is still sent and its deletion recorded, so
    /// the next owner does not send it again; outputs still held stay in the local file, for the
    /// next owner's restored copy (or this instance's, should it get the partition back).
    ///
    /// librdkafka 2.0.2 also reports an assignment lost when a commit made during a rebalance is
    /// refused with ILLEGAL_GENERATION (librdkafka issue #4059, fixed in later versions), although
    /// no one else owns the partitions yet; the fence commits often, so this path also serves
    /// ordinary rebalances, and must leave no copy behind there either.
    func partitionsLost(_ partitions: [TopicPartitionOffset]) {
        standby?.assignmentChanged(assigned: false)
        let deadline = shutdownDeadline ?? ContinuousClock.now + configuration.drainTimeout
        var held = 0
        for partition in Set(partitions.map(\.partition)).sorted() {
            guard let relay = relays.removeValue(forKey: partition) else { continue }
            nextRetryAt[partition] = nil
            do {
                if try !relay.drain(timeout: max(.zero, deadline - ContinuousClock.now), releasedOnly: true) {
                    logger.warning("released outputs not all delivered before the partition was lost; the next owner sends them", metadata: [LogKey.partition: "\(partition)"])
                }
                held += try relay.store.outboxDepth()
            } catch {
                logger.error("drain of a lost partition failed", metadata: [LogKey.error: "\(error)"])
            }
        }
        forget(partitions)
        logger.warning("partitions lost (this member's generation ended): outputs not yet released are left to the next owner", metadata: [
            "partitions": "\(partitions)", "outbox.left_to_next_owner": "\(held)"])
    }

    /// Whether the group accepts a commit of the stored offsets now (within 5 s): the fence for
    /// releasing everything held, at a revoke or a shutdown. Nothing stored yet: nothing to fence.
    private func vouched() -> Bool {
        do {
            try consumer.commit(positionList(), timeout: .seconds(5))
            return true
        } catch {
            logger.warning("commit not accepted", metadata: [LogKey.error: "\(error)"])
            return false
        }
    }

    /// Drops what the loop kept for partitions it no longer owns.
    private func forget(_ partitions: [TopicPartitionOffset]) {
        let gone = Set(partitions.map(\.partition))
        if var idle {
            // Resumed while still assigned and paused, so no pause outlives the assignment: a later
            // resume of a partition librdkafka does not hold paused restarts it from a stale position
            // (librdkafka issue #4686, fixed in a release after 2.0.2).
            let paused = idle.paused.keys.filter { gone.contains($0.partition) }
            if !paused.isEmpty { try? consumer.resume(paused) }
            idle.revoked(partitions: gone)
            self.idle = idle
        }
        fence.abandon()
        uncommitted = uncommitted.filter { !gone.contains($0.key.partition) }
        inputOffsets = inputOffsets.filter { !gone.contains($0.key.partition) }
        health.revoked(partitions: gone)
        metrics.assignedPartitions.record(relays.count)
    }

    /// The stored offsets of the assigned input partitions, as a commit sends them.
    private func positionList() -> [TopicPartitionOffset] {
        inputOffsets.map { TopicPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value) }
    }

    // MARK: - Shutdown

    private func shutDown() throws {
        logger.info("worker stopping: draining outbox")
        let deadline = ContinuousClock.now + configuration.drainTimeout
        shutdownDeadline = deadline
        var drained = true
        if changelogTopic != nil, !relays.isEmpty {
            // The fence for everything still held: a commit the group accepts now proves this
            // member still owns its partitions, so all of it may go before leaving.
            if vouched() {
                for relay in relays.values { relay.releaseAll() }
            } else {
                removedFromGroup = true
                logger.warning("the group did not accept this member's commit: outputs not yet released are left to the partitions' next owners")
            }
        }
        for relay in relays.values {
            drained = try relay.drain(timeout: max(.zero, deadline - ContinuousClock.now), releasedOnly: removedFromGroup) && drained
        }
        relays.removeAll()
        commitIfDue(force: true)
        consumer.close()
        standby?.close()
        try? producer.flush(timeout: .seconds(5))
        logger.info("worker stopped", metadata: ["outbox.drained": "\(drained)"])
    }
}

/// Log-safe rendering of free text that may carry personal data.
func maskedForLog(_ text: String) -> String {
    Masking.redact(text)
}
