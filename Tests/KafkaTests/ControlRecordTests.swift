import Foundation
@testable import Kafka
import Logging
import Testing

/// Transaction markers (KIP-98 control records) take an offset and are never delivered; the
/// embedded broker stores the ones `ControlRecordWriter` writes, as Apache Kafka keeps a
/// transactional producer's.
@Suite("Offsets that legally skip: control records", .timeLimit(.minutes(2)))
struct ControlRecordTests {
    let logger = Logger(label: "test.kafka.control")

    private func setUp(_ topic: String) throws -> (EmbeddedCluster, KafkaProducer) {
        let cluster = try EmbeddedCluster(logger: logger)
        try cluster.createTopic(TopicSpec(name: topic, partitions: 1))
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)),
                                         logger: logger)
        return (cluster, producer)
    }

    private func consumer(_ cluster: EmbeddedCluster, _ topic: String, from offset: Int64?) throws -> KafkaConsumer {
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers), groupID: nil), logger: logger)
        try consumer.assign([TopicPartitionOffset(topic: topic, partition: 0, offset: offset)])
        return consumer
    }

    /// Polls until `done` or `timeout`, collecting everything.
    private func drain(_ consumer: KafkaConsumer, timeout: Duration = .seconds(10), until done: (PollResult) -> Bool) -> PollResult {
        var all = PollResult()
        let deadline = ContinuousClock.now + timeout
        while !done(all) && ContinuousClock.now < deadline {
            let r = consumer.poll(maxMessages: 100, timeout: .milliseconds(100))
            all.messages += r.messages
            all.errors += r.errors
            all.skippedTo += r.skippedTo
        }
        return all
    }

    @Test("the writer's marker takes an offset the broker acknowledges")
    func markerTakesAnOffset() async throws {
        let (cluster, producer) = try setUp("marked")
        try await producer.send(ProducerRecord(topic: "marked", partition: 0, key: nil, value: Array("a".utf8)))
        let offset = try ControlRecordWriter.append(.commit, bootstrap: cluster.bootstrapServers, topic: "marked", partition: 0)
        #expect(offset == 1)
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        #expect(try admin.watermarks(topic: "marked", partition: 0).high == 2)
    }

    @Test("a control record between two records is a hole, not a gap: both delivered, nothing stopped")
    func markerBetweenRecords() async throws {
        let (cluster, producer) = try setUp("between")
        try await producer.send(ProducerRecord(topic: "between", partition: 0, key: nil, value: Array("first".utf8)))
        try ControlRecordWriter.append(.commit, bootstrap: cluster.bootstrapServers, topic: "between", partition: 0)
        try ControlRecordWriter.append(.abort, bootstrap: cluster.bootstrapServers, topic: "between", partition: 0)
        try await producer.send(ProducerRecord(topic: "between", partition: 0, key: nil, value: Array("second".utf8)))

        // Stored offset 0, as a worker that has read nothing yet.
        let consumer = try consumer(cluster, "between", from: 0)
        let result = drain(consumer) { $0.messages.count >= 2 || !$0.errors.isEmpty }
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(result.messages.map(\.offset) == [0, 3])
        #expect(result.messages.map { String(decoding: $0.value ?? [], as: UTF8.self) } == ["first", "second"])
        #expect(consumer.stopped.isEmpty)
    }

    @Test("a control record as the partition's last record: the position moves past it, reported once")
    func markerAtTheEnd() async throws {
        let (cluster, producer) = try setUp("tail")
        try await producer.send(ProducerRecord(topic: "tail", partition: 0, key: nil, value: Array("only".utf8)))
        try ControlRecordWriter.append(.commit, bootstrap: cluster.bootstrapServers, topic: "tail", partition: 0)

        let consumer = try consumer(cluster, "tail", from: 0)
        let result = drain(consumer) { !$0.skippedTo.isEmpty }
        #expect(result.errors.isEmpty)
        #expect(result.messages.map(\.offset) == [0])
        #expect(result.skippedTo == [TopicPartitionOffset(topic: "tail", partition: 0, offset: 2)], "the log end: nothing left to receive")
        // Reported once, not at every poll.
        let later = drain(consumer, timeout: .seconds(1)) { _ in false }
        #expect(later.skippedTo.isEmpty && later.messages.isEmpty)
    }

    @Test("a partition holding only a control record, read from the beginning: caught up at its end")
    func onlyAMarker() throws {
        let (cluster, _) = try setUp("lonely")
        try ControlRecordWriter.append(.commit, bootstrap: cluster.bootstrapServers, topic: "lonely", partition: 0)
        let consumer = try consumer(cluster, "lonely", from: nil)
        let result = drain(consumer) { !$0.skippedTo.isEmpty }
        #expect(result.messages.isEmpty && result.errors.isEmpty)
        #expect(result.skippedTo.last?.offset == 1)
    }
}
