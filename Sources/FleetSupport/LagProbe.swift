import Foundation
import Kafka
import Logging

/// One partition of one group's position against the log.
public struct PartitionLag: Sendable, Hashable, Codable {
    public var group: String
    public var topic: String
    public var partition: Int32
    /// The group's committed next offset; `nil` when it never committed.
    public var committed: Int64?
    public var logStart: Int64
    public var logEnd: Int64
    /// Messages not yet consumed: log end − committed (or − log start when nothing is committed).
    public var lag: Int64 { max(0, logEnd - max(committed ?? logStart, logStart)) }
    /// A committed offset behind the log start: messages lost to retention before the group read them.
    public var isBehindRetention: Bool { (committed ?? logStart) < logStart }
}

/// Reads committed offsets and watermarks for consumer groups, against any cluster, through one
/// admin client (``KafkaAdmin/committedOffsets(group:partitions:timeout:)``). Blocking: call
/// through `offload`.
public final class LagProbe: Sendable {
    private let admin: KafkaAdmin

    public init(bootstrapServers: String, logger: Logger = Logger(label: "card.lag")) throws {
        admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: bootstrapServers, clientID: "card-lag-probe"),
                               logger: logger)
    }

    public var kafkaAdmin: KafkaAdmin { admin }

    /// Lag of `group` on every partition of `topics` (topics that do not exist are skipped).
    public func lag(group: String, topics: [String]) throws -> [PartitionLag] {
        let counts = try admin.topicPartitionCounts()
        let partitions = topics.flatMap { topic in (0..<(counts[topic] ?? 0)).map { TopicPartitionOffset(topic: topic, partition: $0) } }
        guard !partitions.isEmpty else { return [] }
        let committed = try admin.committedOffsets(group: group, partitions: partitions)
        let marks = try admin.watermarks(partitions)
        return try committed.map { tp in
            guard let mark = marks[tp.withoutOffset] else { throw KafkaError(code: .metadata, reason: "no watermarks for \(tp.withoutOffset)") }
            return PartitionLag(group: group, topic: tp.topic, partition: tp.partition, committed: tp.offset,
                                logStart: mark.low, logEnd: mark.high)
        }
    }

    /// Messages currently held by `topic` (sum over partitions of log end − log start).
    public func messageCount(topic: String) throws -> Int64 {
        let partitions = try admin.topicPartitionCounts()[topic] ?? 0
        let marks = try admin.watermarks((0..<partitions).map { TopicPartitionOffset(topic: topic, partition: $0) })
        return marks.values.reduce(Int64(0)) { $0 + $1.high - $1.low }
    }
}
