import Foundation
import CardDomain
import Kafka
import Logging

/// Keeps a worker's key-joined input topics co-partitioned, whatever client wrote them.
///
/// - At start and on every assignment: all input topics must have the same partition count, since
///   partition N of each shares one state file (Kafka Streams refuses to start the same way); a
///   mismatch is a `CopartitioningError` and the worker does not run.
/// - On each record of an outside-written topic (`InputOrigin.outside`) whose contract key the
///   handler can derive: if the record is not on the partition that key maps to under the fleet's
///   partitioner, it is re-keyed: the same value and headers (less `card-message-id`) go to that
///   partition under the contract key through the worker's outbox, in the same transaction that
///   moves the offset past the original (effectively once), with a warning and
///   `card_worker_rekeyed_total`. The owner of that partition then processes it. State is never split.
///
/// Used on the worker loop's thread only.
final class InputPlacement {
    /// The header a re-keyed copy carries: `<partition>/<offset>` of the original, for operators (not trusted).
    static let rekeyedFromHeader = "card-rekeyed-from"

    private let handler: any WorkerHandler
    private let partitioner: KafkaPartitioner
    private let admin: KafkaAdmin
    private let logger: Logger
    private let metrics: WorkerMetrics
    private var counts: [String: Int32] = [:]
    private var lastRefresh = ContinuousClock.now - .seconds(3600)

    /// - Throws: `CopartitioningError` when the producer's `partitioner` does not depend on the key alone.
    init(handler: any WorkerHandler, producer: KafkaProducerConfiguration, admin: KafkaAdmin, logger: Logger, metrics: WorkerMetrics) throws {
        guard let partitioner = producer.effectivePartitioner else {
            throw CopartitioningError("librdkafka property partitioner=\(producer.client.extraProperties[KafkaPartitioner.property] ?? "?") does not place a key by the key alone; use murmur2_random (the Kafka ecosystem's default) or consistent_random (librdkafka's)")
        }
        self.handler = handler
        self.partitioner = partitioner
        self.admin = admin
        self.logger = logger
        self.metrics = metrics
    }

    /// Reads the input topics' partition counts and checks they are equal. Metadata that cannot be
    /// read is logged and the previous counts kept (the broker may not be up yet).
    /// - Throws: `CopartitioningError` naming each topic's count.
    func refresh() throws {
        lastRefresh = ContinuousClock.now
        let all: [String: Int32]
        do {
            all = try admin.topicPartitionCounts()
        } catch {
            logger.warning("could not read partition counts; co-partitioning checked on the next assignment", metadata: [LogKey.error: "\(error)"])
            return
        }
        counts = all.filter { handler.inputTopics.contains($0.key) }
        if let problem = Self.copartitioningProblem(topics: handler.inputTopics, counts: counts) { throw CopartitioningError(problem) }
    }

    /// Whether the runtime's dedup by `card-message-id` applies to `topic` (only to fleet-written ones).
    func trustsMessageID(on topic: String) -> Bool { handler.origin(of: topic) == .fleet }

    /// The re-keyed copy to emit instead of processing `message`, or `nil` when it is where its
    /// contract key puts it (or has no derivable contract key, or its topic is the fleet's).
    /// What to do with a record that is not where its contract key puts it.
    enum Misplaced {
        /// Forward this copy to the contract key's partition through the outbox.
        case forward(OutboundMessage)
        /// Dead-letter the record with this cause (it was forwarded once already).
        case refuse(cause: String)
    }

    func rekeyed(_ message: ConsumedMessage) -> Misplaced? {
        guard handler.origin(of: message.topic) == .outside,
              let key = handler.contractKey(of: InboundMessage(message: message, attempt: 1, firstSeenAt: .now)) else { return nil }
        if counts[message.topic] == nil || message.partition >= counts[message.topic]! {
            // A topic created or grown since the last look: look again, at most once a second.
            if ContinuousClock.now - lastRefresh >= .seconds(1) { try? refresh() }
        }
        guard let count = counts[message.topic], message.partition < count else { return nil }
        let target = partitioner.partition(forKey: key, partitionCount: count)
        guard target != message.partition else { return nil }
        // Forwarded once already and still not where this instance's partitioner puts it: instances
        // disagree on the partitioner (a rolling change of `partitioner`), or an outside client set the
        // header. Forwarding again could send it back and forth for ever, and processing it here could
        // split a child's state: it becomes a dead letter, replayable once the partitioners agree.
        if message.header(Self.rekeyedFromHeader) != nil {
            return .refuse(cause: "re-keyed once already (\(Self.rekeyedFromHeader) present) yet on partition \(message.partition), "
                + "not \(target) where this instance's partitioner (\(partitioner.rawValue)) puts its contract key: instances disagree on the partitioner")
        }
        metrics.rekeyed.increment()
        logger.warning("record keyed against the contract: re-keyed to the partition of its contract key", metadata: [
            LogKey.topic: "\(message.topic)", LogKey.partition: "\(message.partition)", LogKey.offset: "\(message.offset)",
            "kafka.key": "\(message.key.map { Masking.redact(String(decoding: $0, as: UTF8.self)) } ?? "(none)")",
            "contract.key": "\(Masking.redact(String(decoding: key, as: UTF8.self)))", "partition.target": "\(target)",
            "partitioner": "\(partitioner.rawValue)"])
        var headers = message.headers.filter { $0.name != messageIDHeader && $0.name != Self.rekeyedFromHeader }
        headers.append(KafkaHeader(name: Self.rekeyedFromHeader, string: "\(message.partition)/\(message.offset)"))
        return .forward(OutboundMessage(topic: message.topic, key: key, value: message.value ?? [],
                                        id: "\(message.topic)/\(message.partition)/\(message.offset)/rekeyed", headers: headers, partition: target))
    }

    /// Pure: why `topics` are not co-partitioned given their partition counts, or `nil` when they are
    /// (topics not created yet are left out; the check runs again on every assignment).
    static func copartitioningProblem(topics: [String], counts: [String: Int32]) -> String? {
        let known = topics.compactMap { topic in counts[topic].map { (topic, $0) } }
        guard Set(known.map(\.1)).count > 1 else { return nil }
        return "input topics joined by key must have equal partition counts (co-partitioning): "
            + known.map { "\($0.0) has \($0.1)" }.joined(separator: ", ")
    }
}

/// A worker's input topics cannot be kept co-partitioned: it refuses to run.
public struct CopartitioningError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = "refusing to start: " + description }
}
