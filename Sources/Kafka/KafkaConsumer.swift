import CRdKafka
import Foundation
import Logging
import Synchronization

/// What one poll returned: messages in partition order, and per-partition errors.
public struct PollResult: Sendable {
    public var messages: [ConsumedMessage] = []
    /// Errors tied to a partition (offset gap, offset out of range) or to the client.
    /// A partition that reported a gap has been paused and delivers nothing more.
    public var errors: [PartitionError] = []
    /// Partitions whose position moved past offsets that hold nothing to deliver (KIP-98
    /// control records, aborted transactions' records, compaction holes) after the last message
    /// delivered, each with the next offset to read. Store and commit it like a message's
    /// `offset + 1`: that is what caught up means when a partition ends in a transaction marker.
    /// Filled only when the poll drained the local queue (fewer than `maxMessages` messages).
    public var skippedTo: [TopicPartitionOffset] = []
}

public struct PartitionError: Error, Sendable, CustomStringConvertible {
    /// `nil` for client-wide errors (all brokers down, fatal).
    public var partition: TopicPartitionOffset?
    public var error: KafkaError
    public var description: String { "\(partition.map { "\($0): " } ?? "")\(error)" }
}

/// Called inside `poll` when the group hands partitions over or takes them away.
public protocol RebalanceListener: Sendable {
    /// Partitions were assigned. Return the offset to start each at (the caller's stored truth);
    /// a `nil` offset starts at the configured default (earliest).
    func partitionsAssigned(_ partitions: [TopicPartitionOffset]) -> [TopicPartitionOffset]
    /// Partitions are about to be revoked: finish and record before returning.
    func partitionsRevoked(_ partitions: [TopicPartitionOffset])
    /// Partitions were taken away without a revoke this member could finish first
    /// (`rd_kafka_assignment_lost`, KIP-429 "partitions lost"): the session timed out, the poll
    /// interval was exceeded, or the coordinator no longer knows this member (UNKNOWN_MEMBER_ID,
    /// ILLEGAL_GENERATION). Another member may already own them: nothing more may be written for
    /// them. By default the same as ``partitionsRevoked(_:)``.
    func partitionsLost(_ partitions: [TopicPartitionOffset])
}

extension RebalanceListener {
    public func partitionsLost(_ partitions: [TopicPartitionOffset]) { partitionsRevoked(partitions) }
}

/// A consumer with caller-managed offsets: no auto commit, no auto store.
///
/// Every blocking call (`poll`, `commitSync`, `close`) must run off the cooperative pool;
/// the worker runtime calls them from its own thread.
///
/// Gap detection: the consumer remembers the next offset it expects per partition (from the
/// assignment and every delivered message). A fetched offset beyond it is a hole: legal when
/// the log start offset (low watermark, asked of the broker) has not passed the expected offset
/// (control records, aborted transactions, compaction), loss otherwise. Loss, or the broker
/// reporting the expected offset gone, is surfaced as `.offsetGap` and the partition is paused:
/// never a silent skip. Disable it only for compacted topics, where holes are the rule.
///
/// Rebalance protocols: eager (`range`, `roundrobin`, librdkafka's default) and cooperative
/// (`partition.assignment.strategy=cooperative-sticky`, KIP-429), chosen by librdkafka from
/// the configured strategy; the listener sees only the partitions that move either way.
public final class KafkaConsumer: Sendable {
    private let client: RDKafkaClient
    private let logger: Logger
    private let detectGaps: Bool
    private let gapGuard = Mutex(OffsetGapGuard())
    private let stoppedPartitions = Mutex<Set<TopicPartitionOffset>>([])
    /// Partitions paused through ``pause(_:)`` and not resumed or assigned since (without offsets).
    /// A paused partition is fetched no more and its queued records are dropped, so its position
    /// cannot move: `poll` need not ask it (an idle worker's partitions are all paused, and asking
    /// them at every wake-up was a tenth of its CPU: perf, issue 14).
    private let pausedPartitions = Mutex<Set<TopicPartitionOffset>>([])
    /// The partitions this consumer was given (without offsets): by `assign`, or by the group
    /// through the rebalance callback (added on assign, removed on revoke or loss, as librdkafka
    /// is told). `poll` reads it instead of `rd_kafka_assignment`, which is a round trip to
    /// librdkafka's main thread: at every poll of every consumer, that woke it for nothing.
    private let assignedPartitions = Mutex<Set<TopicPartitionOffset>>([])

    public init(configuration: KafkaConsumerConfiguration, detectGaps: Bool = true, logger: Logger) throws {
        self.logger = logger
        self.detectGaps = detectGaps
        self.client = try RDKafkaClient(kind: .consumer, properties: configuration.properties, logger: logger) { conf in
            rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback)
        }
        client.context.startOffset = configuration.startWhenNoOffset == .latest ? Int64(RD_KAFKA_OFFSET_END) : Int64(RD_KAFKA_OFFSET_BEGINNING)
        // Route the main queue to the consumer queue so one poll serves everything.
        _ = client.withHandle { rd_kafka_poll_set_consumer($0) }
    }

    /// Joins the group for `topics`; assignment arrives through `listener` inside `poll`.
    public func subscribe(_ topics: [String], listener: any RebalanceListener) throws {
        client.context.rebalance = { [weak self] event in
            guard let self else { return nil }
            switch event {
            case .assigned(let partitions):
                let positions = listener.partitionsAssigned(partitions)
                self.expectPositions(positions)
                self.assignedPartitions.withLock { a in partitions.forEach { a.insert($0.withoutOffset) } }
                return positions
            case .revoked(let partitions, let lost):
                if lost { listener.partitionsLost(partitions) } else { listener.partitionsRevoked(partitions) }
                self.gapGuard.withLock { g in partitions.forEach { g.forget($0) } }
                self.pausedPartitions.withLock { p in partitions.forEach { p.remove($0.withoutOffset) } }
                self.assignedPartitions.withLock { a in partitions.forEach { a.remove($0.withoutOffset) } }
                return nil
            }
        }
        let err = client.withHandle { rk in
            RDKafkaTopicPartitionList.with(topics.map { TopicPartitionOffset(topic: $0, partition: RD_KAFKA_PARTITION_UA) }) {
                rd_kafka_subscribe(rk, $0)
            }
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.rd(.consume, err, "subscribe") }
    }

    /// Reads the given partitions without a group (reference tables, tools), from the given offsets.
    public func assign(_ partitions: [TopicPartitionOffset]) throws {
        let positions = partitions.map { tp in
            TopicPartitionOffset(topic: tp.topic, partition: tp.partition, offset: tp.offset ?? client.context.startOffset)
        }
        expectPositions(partitions)
        let err = client.withHandle { rk in RDKafkaTopicPartitionList.with(positions) { rd_kafka_assign(rk, $0) } }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.rd(.consume, err, "assign") }
        assignedPartitions.withLock { $0 = Set(partitions.map(\.withoutOffset)) }  // rd_kafka_assign replaces the whole assignment
    }

    private func expectPositions(_ positions: [TopicPartitionOffset]) {
        let now = Dictionary(self.positions(positions).compactMap { p in p.offset.map { (p.withoutOffset, $0) } }) { a, _ in a }
        gapGuard.withLock { g in positions.forEach { g.expect($0, positionNow: now[$0.withoutOffset]) } }
        stoppedPartitions.withLock { s in positions.forEach { s.remove($0.withoutOffset) } }
        // Whatever librdkafka keeps of an earlier pause, asking a partition's position is always safe.
        pausedPartitions.withLock { p in positions.forEach { p.remove($0.withoutOffset) } }
    }

    /// Makes a `poll` blocked in another thread return now, with what it has (possibly nothing);
    /// when no poll is waiting, the next one that finds nothing queued returns at once.
    /// Safe from any thread (`rd_kafka_queue_yield` on the consumer queue).
    ///
    /// Why: a loop that also has other work (delivery reports to act on, a stop request) can
    /// wait long for input when idle and still react at once.
    public func wakeUp() {
        client.withHandle { rk in
            guard let queue = rd_kafka_queue_get_consumer(rk) else { return }
            rd_kafka_queue_yield(queue)
            rd_kafka_queue_destroy(queue)
        }
    }

    /// Polls up to `maxMessages`, waiting at most `timeout` for the first (less after ``wakeUp()``). Blocking.
    /// - Parameter reportingSkips: whether to fill ``PollResult/skippedTo`` (asks every assigned,
    ///   unpaused partition's position); false for a caller that never reads it (standby copies
    ///   follow each record's offset), which spares those calls at every poll.
    public func poll(maxMessages: Int, timeout: Duration, reportingSkips: Bool = true) -> PollResult {
        var result = PollResult()
        var waitMs = Int32(clamping: timeout.milliseconds)
        while result.messages.count < maxMessages {
            guard let message = client.withHandle({ rd_kafka_consumer_poll($0, waitMs) }) else { break }
            waitMs = 0
            defer { rd_kafka_message_destroy(message) }
            handle(message, into: &result)
        }
        if reportingSkips, result.messages.count < maxMessages { result.skippedTo = skippedAhead() }
        return result
    }

    /// Assigned partitions whose position (librdkafka's application position, which moves past
    /// control records too) is ahead of the next offset expected; moves the expectation there.
    /// Stopped and paused partitions are not asked: neither moves.
    private func skippedAhead() -> [TopicPartitionOffset] {
        var live = assignedPartitions.withLock { $0 }
        guard !live.isEmpty else { return [] }
        live.subtract(pausedPartitions.withLock { $0 })
        live.subtract(stoppedPartitions.withLock { $0 })
        guard !live.isEmpty else { return [] }
        return positions(live.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }).filter { p in
            guard let offset = p.offset else { return false }
            return gapGuard.withLock { $0.advance(p, to: offset) }
        }
    }

    /// The next offset the application will receive per partition (`rd_kafka_position`): one past
    /// the last message or control record handed over; `nil` when nothing was handed over yet.
    public func positions(_ partitions: [TopicPartitionOffset]) -> [TopicPartitionOffset] {
        client.withHandle { rk in
            RDKafkaTopicPartitionList.with(partitions.map(\.withoutOffset)) { list in
                guard rd_kafka_position(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { return [] }
                return RDKafkaTopicPartitionList.read(list)
            }
        }
    }

    private func handle(_ message: UnsafeMutablePointer<rd_kafka_message_t>, into result: inout PollResult) {
        let m = message.pointee
        let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) }
        let tp = topic.map { TopicPartitionOffset(topic: $0, partition: m.partition) }
        if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let isGap = m.err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m.err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE
            var error = KafkaError.rd(isGap ? .offsetGap : .consume, m.err, tp.map { "\($0)" } ?? "consumer")
            if isGap, let tp {
                error.reason += ": the broker no longer has the next offset; messages were lost to retention"
                stop(tp)
            }
            result.errors.append(PartitionError(partition: tp, error: error))
            return
        }
        guard let tp else { return }
        if stoppedPartitions.withLock({ $0.contains(tp) }) { return }
        if detectGaps {
            switch gapGuard.withLock({ $0.judge(tp, offset: m.offset) }) {
            case .deliver:
                break
            case .alreadyDelivered:
                return
            case .hole(let expectedOffset):
                let logStart = try? watermarks(topic: tp.topic, partition: tp.partition, timeout: .seconds(5)).low
                if OffsetGapGuard.isLoss(expected: expectedOffset, logStart: logStart) {
                    stop(tp)
                    let start = logStart.map { "log start \($0)" } ?? "log start unknown"
                    result.errors.append(PartitionError(partition: tp, error: KafkaError(
                        code: .offsetGap,
                        reason: "\(tp): expected offset \(expectedOffset) but fetched \(m.offset) (\(start)): up to \(m.offset - expectedOffset) message(s) missing")))
                    return
                }
                // Above the log start: offsets that never reach a consumer (control records, compaction).
                logger.debug("offsets skipped: nothing deliverable there", metadata: [
                    "kafka.partition": "\(tp)", "kafka.expected_offset": "\(expectedOffset)", "kafka.offset": "\(m.offset)"])
                gapGuard.withLock { $0.accept(tp, offset: m.offset) }
            }
        } else {
            gapGuard.withLock { $0.accept(tp, offset: m.offset) }
        }
        result.messages.append(ConsumedMessage(
            topic: tp.topic, partition: m.partition, offset: m.offset,
            key: m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) },
            value: m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) },
            headers: Self.headers(of: message),
            timestampMilliseconds: Self.timestamp(of: message)))
    }

    private func stop(_ tp: TopicPartitionOffset) {
        stoppedPartitions.withLock { _ = $0.insert(tp) }
        try? pause([tp])
    }

    private static func headers(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var hdrs: OpaquePointer?
        guard rd_kafka_message_headers(message, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs else { return [] }
        var headers: [KafkaHeader] = []
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(hdrs, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            headers.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "",
                                       value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []))
            index += 1
        }
        return headers
    }

    private static func timestamp(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> Int64? {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(message, &type)
        return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts < 0 ? nil : ts
    }

    /// Partitions stopped after a gap, until they are assigned again.
    public var stopped: Set<TopicPartitionOffset> { stoppedPartitions.withLock { $0 } }

    public func pause(_ partitions: [TopicPartitionOffset]) throws {
        let err = client.withHandle { rk in RDKafkaTopicPartitionList.with(partitions) { rd_kafka_pause_partitions(rk, $0) } }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.rd(.consume, err, "pause") }
        pausedPartitions.withLock { p in partitions.forEach { p.insert($0.withoutOffset) } }
    }

    public func resume(_ partitions: [TopicPartitionOffset]) throws {
        // Out of the set first: a resume that fails leaves the partition asked, never skipped.
        pausedPartitions.withLock { p in partitions.forEach { p.remove($0.withoutOffset) } }
        let err = client.withHandle { rk in RDKafkaTopicPartitionList.with(partitions) { rd_kafka_resume_partitions(rk, $0) } }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.rd(.consume, err, "resume") }
    }

    /// Commits offsets (next offset to read) to the group, for lag tools. `async` returns at once.
    public func commit(_ offsets: [TopicPartitionOffset], async: Bool) throws {
        guard !offsets.isEmpty else { return }
        let err = client.withHandle { rk in RDKafkaTopicPartitionList.with(offsets) { rd_kafka_commit(rk, $0, async ? 1 : 0) } }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET {
            throw KafkaError.rd(.commit, err, "commit")
        }
    }

    /// Commits offsets (next offset to read) without waiting; `completion` gets the group
    /// coordinator's answer, called inside a later ``poll(maxMessages:timeout:)`` on the polling
    /// thread, which that poll then leaves at once (as after ``wakeUp()``).
    ///
    /// Why: a commit the coordinator accepts proves this member still belonged to the group's
    /// current generation when it was answered (OffsetCommit carries the generation id and member
    /// id; a member that was removed gets `UNKNOWN_MEMBER_ID` or `ILLEGAL_GENERATION`, one in a
    /// rebalance `REBALANCE_IN_PROGRESS`). The worker runtime releases outputs only after such an
    /// answer: the fence against zombies (docs/state-changelog.md, "Fencing").
    /// - Parameter completion: `nil` when every partition's offset was accepted; otherwise the
    ///   request's error, or the first partition's. Called exactly once (at once, with the error,
    ///   when librdkafka refuses to queue the commit, e.g. `_UNKNOWN_GROUP` outside a group).
    public func commit(_ offsets: [TopicPartitionOffset], completion: @escaping @Sendable (KafkaError?) -> Void) {
        let box = Unmanaged.passRetained(CommitCompletion(completion)).toOpaque()
        let err = client.withHandle { rk -> rd_kafka_resp_err_t in
            guard let queue = rd_kafka_queue_get_consumer(rk) else { return RD_KAFKA_RESP_ERR__STATE }
            defer { rd_kafka_queue_destroy(queue) }
            return RDKafkaTopicPartitionList.with(offsets) { rd_kafka_commit_queue(rk, $0, queue, commitCallback, box) }
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            Unmanaged<CommitCompletion>.fromOpaque(box).release()
            completion(KafkaError.rd(.commit, err, "commit"))
        }
    }

    /// Commits offsets and waits at most `timeout` for the group coordinator's answer. Blocking;
    /// callable inside a rebalance callback (the answer comes on a queue of its own, not the
    /// consumer's, whose poll is the caller). A synchronous `rd_kafka_commit` has no timeout: with
    /// the coordinator unreachable it waits until it is back.
    /// - Throws: `KafkaError` (`.commit`) with the request's or the first partition's error, or
    ///   `_TIMED_OUT` when no answer came within `timeout`.
    public func commit(_ offsets: [TopicPartitionOffset], timeout: Duration) throws {
        guard !offsets.isEmpty else { return }
        let error: KafkaError? = client.withHandle { rk in
            guard let queue = rd_kafka_queue_new(rk) else { return KafkaError(code: .commit, reason: "commit: no queue") }
            defer { rd_kafka_queue_destroy(queue) }
            let queued = RDKafkaTopicPartitionList.with(offsets) { rd_kafka_commit_queue(rk, $0, queue, nil, nil) }
            if queued != RD_KAFKA_RESP_ERR_NO_ERROR { return KafkaError.rd(.commit, queued, "commit") }
            guard let event = rd_kafka_queue_poll(queue, Int32(clamping: timeout.milliseconds)) else {
                return KafkaError.rd(.commit, RD_KAFKA_RESP_ERR__TIMED_OUT, "commit: no answer within \(timeout)")
            }
            defer { rd_kafka_event_destroy(event) }
            return commitAnswer(rd_kafka_event_error(event), rd_kafka_event_topic_partition_list(event))
        }
        if let error { throw error }
    }

    /// Low and high watermarks of a partition, asked of the broker. Blocking.
    public func watermarks(topic: String, partition: Int32, timeout: Duration) throws -> (low: Int64, high: Int64) {
        try client.withHandle { try RDKafkaWatermarks.query($0, topic: topic, partition: partition, timeout: timeout) }
    }

    /// Low and high watermarks of an assigned partition as the last fetch response reported them
    /// (`rd_kafka_get_watermark_offsets`: no request, so cheap enough for a gauge); `nil` before the
    /// first fetch answered. The high watermark lags the broker's by at most one fetch; `low` (the
    /// log start offset) is `nil` while no response has reported it.
    public func cachedWatermarks(topic: String, partition: Int32) -> (low: Int64?, high: Int64)? {
        var low: Int64 = -1
        var high: Int64 = -1
        let err = client.withHandle { rd_kafka_get_watermark_offsets($0, topic, partition, &low, &high) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return (low >= 0 ? low : nil, high)
    }

    /// The offset the next record appended to each partition will get: the high watermark, or
    /// under `isolation.level=read_committed` (librdkafka's default) the last stable offset.
    /// One ListOffsets request per partition leader for all of them (`rd_kafka_offsets_for_times`
    /// with `RD_KAFKA_OFFSET_END`, the protocol's "latest" timestamp, -1), where
    /// ``watermarks(topic:partition:timeout:)`` sends two per partition. Blocking, up to `timeout`.
    /// - Returns: offsets by partition (offset `nil` in the key); a partition the leader answered
    ///   with an error is left out.
    /// - Throws: `KafkaError` when the request as a whole fails or times out.
    public func latestOffsets(_ partitions: [TopicPartitionOffset], timeout: Duration) throws -> [TopicPartitionOffset: Int64] {
        let answers = try client.withHandle { rk in
            try RDKafkaWatermarks.offsets(rk, at: Int64(RD_KAFKA_OFFSET_END), partitions, timeout: timeout)
        }
        return answers.compactMapValues { $0.error == RD_KAFKA_RESP_ERR_NO_ERROR && $0.offset >= 0 ? $0.offset : nil }
    }

    /// Leaves the group (revoking through the listener) and closes. Blocking.
    public func close() {
        let err = client.withHandle { rd_kafka_consumer_close($0) }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("consumer close failed", metadata: ["kafka.error": "\(KafkaError.rd(.consume, err))"])
        }
    }
}

/// A commit's completion, kept alive through librdkafka's `commit_opaque`.
private final class CommitCompletion {
    let body: @Sendable (KafkaError?) -> Void
    init(_ body: @escaping @Sendable (KafkaError?) -> Void) { self.body = body }
}

/// A commit's answer as an error: the request's, else the first partition's; `nil` when all were accepted.
private func commitAnswer(_ err: rd_kafka_resp_err_t, _ offsets: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> KafkaError? {
    if err != RD_KAFKA_RESP_ERR_NO_ERROR { return KafkaError.rd(.commit, err, "commit") }
    guard let offsets, let failed = RDKafkaTopicPartitionList.firstError(offsets) else { return nil }
    return KafkaError.rd(.commit, failed.error, "commit \(failed.partition)")
}

/// `rd_kafka_commit_queue`'s callback, served by `rd_kafka_consumer_poll` on the consumer queue:
/// reports the request's error or the first partition's, then makes that poll return.
private let commitCallback: @convention(c) (OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?) -> Void = { rk, err, offsets, opaque in
    guard let opaque else { return }
    let completion = Unmanaged<CommitCompletion>.fromOpaque(opaque).takeRetainedValue()
    completion.body(commitAnswer(err, offsets))
    if let rk, let queue = rd_kafka_queue_get_consumer(rk) {
        rd_kafka_queue_yield(queue)
        rd_kafka_queue_destroy(queue)
    }
}

enum RDKafkaWatermarks {
    /// Each partition's offset for `timestamp` (ms since the epoch, or the protocol's special
    /// values: `RD_KAFKA_OFFSET_END` −1 latest, `RD_KAFKA_OFFSET_BEGINNING` −2 earliest), one
    /// ListOffsets request per partition leader (`rd_kafka_offsets_for_times`), with each
    /// partition's own error. Blocking, up to `timeout`.
    /// - Throws: `KafkaError` (code `.metadata`) when the request as a whole fails or times out.
    static func offsets(_ rk: OpaquePointer, at timestamp: Int64, _ partitions: [TopicPartitionOffset], timeout: Duration) throws
        -> [TopicPartitionOffset: (offset: Int64, error: rd_kafka_resp_err_t)] {
        let keys = Array(Set(partitions.map(\.withoutOffset)))
        guard !keys.isEmpty else { return [:] }
        return try RDKafkaTopicPartitionList.with(keys.map { TopicPartitionOffset(topic: $0.topic, partition: $0.partition, offset: timestamp) }) { list in
            let err = rd_kafka_offsets_for_times(rk, list, Int32(clamping: timeout.milliseconds))
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.rd(.metadata, err, "offsets of \(keys.count) partitions") }
            var answers: [TopicPartitionOffset: (offset: Int64, error: rd_kafka_resp_err_t)] = [:]
            for i in 0..<Int(list.pointee.cnt) {
                let element = list.pointee.elems[i]
                answers[TopicPartitionOffset(topic: String(cString: element.topic), partition: element.partition)] = (element.offset, element.err)
            }
            return answers
        }
    }

    static func query(_ rk: OpaquePointer, topic: String, partition: Int32, timeout: Duration) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, Int32(clamping: timeout.milliseconds))
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.rd(.metadata, err, "watermarks \(topic)[\(partition)]") }
        return (low, high)
    }
}

/// Assigns with the listener's stored offsets, or unassigns after it has finished, in the group's
/// rebalance protocol: eager (the whole assignment is replaced: `rd_kafka_assign`) or cooperative
/// (KIP-429: only the partitions that move, `rd_kafka_incremental_assign`/`_unassign`; eager
/// calls are refused there). An assignment that fails is handed back to the listener as revoked,
/// so nothing reports partitions that are not consumed.
private let rebalanceCallback: @convention(c) (OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?) -> Void = { rk, err, partitions, opaque in
    guard let rk, let partitions, let opaque else { return }
    let context = Unmanaged<RDKafkaContext>.fromOpaque(opaque).takeUnretainedValue()
    let list = RDKafkaTopicPartitionList.read(partitions)
    let protocolName = rd_kafka_rebalance_protocol(rk).map { String(cString: $0) } ?? "NONE"
    let cooperative = protocolName == "COOPERATIVE"
    context.logger.info("rebalance", metadata: [
        "kafka.rebalance_protocol": .string(protocolName),
        "kafka.rebalance_event": .string(err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assign" : "revoke"),
        "kafka.partitions": .string("\(list.count)")])
    switch err {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        let positions = context.rebalance?(.assigned(list.map(\.withoutOffset))) ?? list
        let explicit = positions.map { tp in
            TopicPartitionOffset(topic: tp.topic, partition: tp.partition, offset: tp.offset ?? context.startOffset)
        }
        let failure: KafkaError? = RDKafkaTopicPartitionList.with(explicit) { list in
            if cooperative {
                return rd_kafka_incremental_assign(rk, list).map { KafkaError.consume(.rebalance, $0, "incremental assign") }
            }
            let assignErr = rd_kafka_assign(rk, list)
            return assignErr == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError.rd(.rebalance, assignErr, "assign")
        }
        if let failure {
            context.logger.error("assign failed: the partitions are not consumed", metadata: ["kafka.error": "\(failure)"])
            _ = context.rebalance?(.revoked(list.map(\.withoutOffset), lost: false))
        }
    default:
        let lost = rd_kafka_assignment_lost(rk) != 0
        if lost { context.logger.warning("assignment lost: the group gave these partitions to others (KIP-429)", metadata: ["kafka.partitions": .string("\(list.count)")]) }
        _ = context.rebalance?(.revoked(list.map(\.withoutOffset), lost: lost))
        if cooperative {
            if let error = rd_kafka_incremental_unassign(rk, partitions) {
                context.logger.error("unassign failed", metadata: ["kafka.error": "\(KafkaError.consume(.rebalance, error, "incremental unassign"))"])
            }
        } else {
            rd_kafka_assign(rk, nil)
        }
    }
}
