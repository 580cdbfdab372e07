import Kafka

/// Where accepted submissions go: `card.submission` in production, a recorder in tests that need no broker.
public protocol SubmissionPublisher: Sendable {
    /// Publishes one value under the contract key (the applicant's `id_number`).
    /// - Throws: when the record was not acknowledged; the gateway then answers 503 and keeps nothing.
    func publish(key: [UInt8], value: [UInt8]) async throws
}

/// Publishes to `card.submission` with an idempotent producer whose partitioner is the fleet's
/// (`murmur2_random`, ``KafkaPartitioner/fleetDefault``): the record lands on the partition intake
/// owns for that child, as `fleet submit`'s do.
public struct KafkaSubmissionPublisher: SubmissionPublisher {
    let producer: KafkaProducer

    public init(producer: KafkaProducer) { self.producer = producer }

    public func publish(key: [UInt8], value: [UInt8]) async throws {
        try await producer.send(ProducerRecord(topic: GatewayTopics.submission, key: key, value: value))
    }
}
