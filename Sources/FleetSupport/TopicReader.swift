import Foundation
import Kafka
import Logging

/// Reads whole topics from the start without a group: for tests, tools and verification runs.
public final class TopicReader: Sendable {
    private let consumer: KafkaConsumer
    private let admin: KafkaAdmin

    /// - Parameter fetchMaxWait: `fetch.wait.max.ms`: how long the broker may hold an empty fetch.
    ///   Default 10 ms (a verifier waiting for outputs); tailers for display pass
    ///   ``KafkaConsumerConfiguration/tailingFetchMaxWait``.
    public init(bootstrapServers: String, fetchMaxWait: Duration = .milliseconds(10),
                logger: Logger = Logger(label: "card.reader")) throws {
        let client = KafkaClientConfiguration(bootstrapServers: bootstrapServers, clientID: "card-reader")
        var configuration = KafkaConsumerConfiguration(client: client, groupID: nil)
        configuration.fetchMaxWait = fetchMaxWait
        consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        admin = try KafkaAdmin(configuration: client, logger: logger)
    }

    /// Starts reading `topics` from the oldest message each partition still holds (its low
    /// watermark: after retention that is no longer offset 0).
    public func start(_ topics: [String]) throws {
        let counts = try admin.topicPartitionCounts()
        var keys: [TopicPartitionOffset] = []
        for topic in topics {
            guard let count = counts[topic] else { throw KafkaError(code: .metadata, reason: "no topic \(topic)") }
            keys += (0..<count).map { TopicPartitionOffset(topic: topic, partition: $0) }
        }
        let marks = try admin.watermarks(keys)
        try consumer.assign(try keys.map { key in
            guard let low = marks[key]?.low else { throw KafkaError(code: .metadata, reason: "no watermarks for \(key)") }
            return TopicPartitionOffset(topic: key.topic, partition: key.partition, offset: low)
        })
    }

    /// Polls until `done` says enough was read or `timeout` passes. Blocking.
    /// - Returns: every message read, in per-partition order.
    public func read(timeout: Duration, until done: ([ConsumedMessage]) -> Bool) -> (messages: [ConsumedMessage], errors: [PartitionError]) {
        var messages: [ConsumedMessage] = []
        var errors: [PartitionError] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline && !done(messages) {
            let result = consumer.poll(maxMessages: 10_000, timeout: .milliseconds(100))
            messages += result.messages
            errors += result.errors
        }
        return (messages, errors)
    }

    /// Every message `topic` holds now: each partition from its low watermark up to the high
    /// watermark it had when asked (later messages are not waited for), in per-partition order.
    /// Blocking. For a topic only the fleet writes (no transaction markers), so every offset up to
    /// the end arrives.
    /// - Returns: nothing for a missing or empty topic.
    /// - Throws: `KafkaError` (`.consume`) naming the partitions not read to their end within
    ///   `timeout`: a partial read is no answer.
    public func readToEnd(_ topic: String, timeout: Duration = .seconds(60)) throws -> [ConsumedMessage] {
        guard let count = try admin.topicPartitionCounts()[topic] else { return [] }
        var remaining: Int64 = 0
        var ends: [Int32: Int64] = [:]
        for partition in 0..<count {
            let (low, high) = try admin.watermarks(topic: topic, partition: partition)
            remaining += high - low
            ends[partition] = high
        }
        guard remaining > 0 else { return [] }
        try start([topic])
        var messages: [ConsumedMessage] = []
        let deadline = ContinuousClock.now + timeout
        // Done when every partition reached the end it had when we looked.
        var reached: [Int32: Int64] = [:]
        func behind() -> [Int32] { ends.filter { $0.value > 0 && (reached[$0.key] ?? -1) + 1 < $0.value }.map(\.key).sorted() }
        while ContinuousClock.now < deadline, !behind().isEmpty {
            for message in poll(timeout: .milliseconds(100)).messages where message.offset < ends[message.partition] ?? 0 {
                messages.append(message)
                reached[message.partition] = max(reached[message.partition] ?? -1, message.offset)
            }
        }
        if !behind().isEmpty {
            throw KafkaError(code: .consume, reason: "\(topic) could not be read to its end within \(Int(timeout.components.seconds)) s (partitions \(behind()))")
        }
        return messages
    }

    /// One poll: whatever arrives within `timeout`. Blocking for at most `timeout`.
    public func poll(timeout: Duration = .milliseconds(20)) -> PollResult {
        consumer.poll(maxMessages: 10_000, timeout: timeout)
    }

    public var kafkaAdmin: KafkaAdmin { admin }
}
