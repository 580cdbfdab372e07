import Foundation
import FleetSupport
@testable import Kafka
import Logging
import Synchronization
import Testing

@Suite("Kafka wrapper against the embedded broker", .timeLimit(.minutes(3)))
struct KafkaRoundTripTests {
    let logger = Logger(label: "test.kafka")

    @Test("a record produced by another process arrives with its key and headers")
    func roundTripBetweenProcesses() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        try cluster.createTopic(TopicSpec(name: "roundtrip", partitions: 3))
        let producer = try ChildProcess(
            name: "fleet produce", executable: BuildProducts.executable("fleet"),
            arguments: ["produce", "--brokers", cluster.bootstrapServers, "--topic", "roundtrip", "--key", "app-42",
                        "--header", "trace-id=abc123", "--header", "card-message-id=app-42/received/1", "first", "second"])
        #expect(await producer.waitAsync(timeout: .seconds(60)) == 0)

        let reader = try TopicReader(bootstrapServers: cluster.bootstrapServers)
        try reader.start(["roundtrip"])
        let (messages, errors) = reader.read(timeout: .seconds(30)) { $0.count >= 2 }
        #expect(errors.isEmpty)
        try #require(messages.count == 2)
        #expect(messages.map { String(decoding: $0.value ?? [], as: UTF8.self) } == ["first", "second"])
        #expect(Set(messages.map(\.partition)).count == 1, "one key lands on one partition")
        #expect(messages.allSatisfy { $0.key == Array("app-42".utf8) })
        #expect(messages.allSatisfy { $0.header("trace-id")?.stringValue == "abc123" })
        #expect(messages.allSatisfy { $0.header("card-message-id")?.stringValue == "app-42/received/1" })
        #expect(messages.map(\.offset) == [0, 1])
        #expect(messages.allSatisfy { $0.timestampMilliseconds != nil })
    }

    @Test("async send returns on the delivery report; watermarks and group commits are visible to admin")
    func sendCommitAndWatermarks() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        let admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers),
                                   embedded: cluster, logger: logger)
        try admin.createTopics([TopicSpec(name: "commits", partitions: 2)])
        #expect(try admin.topicPartitionCounts()["commits"] == 2)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)),
                                         logger: logger)
        for i in 0..<5 {
            try await producer.send(ProducerRecord(topic: "commits", partition: 1, key: nil, value: Array("v\(i)".utf8)))
        }
        let marks = try admin.watermarks(topic: "commits", partition: 1)
        #expect(marks.low == 0 && marks.high == 5)
        // Both partitions in one batched query: each its own log end.
        let both = try admin.watermarks([TopicPartitionOffset(topic: "commits", partition: 0), TopicPartitionOffset(topic: "commits", partition: 1)])
        #expect(both[TopicPartitionOffset(topic: "commits", partition: 0)].map { [$0.low, $0.high] } == [0, 0])
        #expect(both[TopicPartitionOffset(topic: "commits", partition: 1)].map { [$0.low, $0.high] } == [0, 5])
        #expect(throws: KafkaError.self) { try admin.watermarks([TopicPartitionOffset(topic: "commits", partition: 7)], timeout: .seconds(2)) }

        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers), groupID: "g1"), logger: logger)
        try consumer.commit([TopicPartitionOffset(topic: "commits", partition: 1, offset: 3)], async: false)
        let committed = try admin.committedOffsets(group: "g1", partitions: [TopicPartitionOffset(topic: "commits", partition: 1),
                                                                             TopicPartitionOffset(topic: "commits", partition: 0)])
        #expect(committed.first { $0.partition == 1 }?.offset == 3)
        #expect(committed.first { $0.partition == 0 }?.offset == nil)
    }

    @Test("a partition without a stored offset starts where startWhenNoOffset says")
    func startPositionWithoutStoredOffset() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        try cluster.createTopic(TopicSpec(name: "start", partitions: 1))
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)),
                                         logger: logger)
        #expect(await producer.send([ProducerRecord(topic: "start", partition: 0, key: nil, value: Array("old".utf8))]).allSatisfy { $0 == nil })
        func firstValue(_ start: KafkaConsumerConfiguration.StartPosition, produceAfterAssign: String?) async throws -> String? {
            var config = KafkaConsumerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers), groupID: nil)
            config.startWhenNoOffset = start
            let consumer = try KafkaConsumer(configuration: config, logger: logger)
            try consumer.assign([TopicPartitionOffset(topic: "start", partition: 0)])
            // Let the position settle before producing; anything read meanwhile counts.
            var messages = consumer.poll(maxMessages: 10, timeout: .milliseconds(500)).messages
            if let value = produceAfterAssign {
                try await producer.send(ProducerRecord(topic: "start", partition: 0, key: nil, value: Array(value.utf8)))
            }
            let deadline = ContinuousClock.now + .seconds(10)
            while messages.isEmpty && ContinuousClock.now < deadline { messages += consumer.poll(maxMessages: 10, timeout: .milliseconds(200)).messages }
            return messages.first.map { String(decoding: $0.value ?? [], as: UTF8.self) }
        }
        #expect(try await firstValue(.earliest, produceAfterAssign: nil) == "old")
        #expect(try await firstValue(.latest, produceAfterAssign: "new") == "new")
    }

    @Test("producing to a topic that does not exist reports an error instead of hanging")
    func sendToMissingTopicFails() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        var config = KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers))
        config.messageTimeout = .seconds(2)
        let producer = try KafkaProducer(configuration: config, logger: logger)
        await #expect(throws: KafkaError.self) {
            try await producer.send(ProducerRecord(topic: "no.such.topic", partition: 5, key: nil, value: [1]))
        }
    }

    @Test("a consumer pushed behind the broker's retention reports an offset gap and stops the partition")
    func retentionGapIsAnError() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        try cluster.createTopic(TopicSpec(name: "small", partitions: 1))
        var config = KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers))
        config.compression = .none
        let producer = try KafkaProducer(configuration: config, logger: logger)
        // The mock keeps ~5 MiB per partition: 8 MiB of incompressible records pushes offset 0 out.
        var generator = SystemRandomNumberGenerator()
        let records = (0..<2048).map { _ in
            ProducerRecord(topic: "small", partition: 0, key: nil, value: (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        let failures = await producer.send(records).compactMap { $0 }
        #expect(failures.isEmpty)
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        let low = try admin.watermarks(topic: "small", partition: 0).low
        try #require(low > 0, "the broker should have dropped the oldest records")
        // The batched query agrees with the per-partition one, log start included.
        let batched = try admin.watermarks([TopicPartitionOffset(topic: "small", partition: 0)])
        let single = try admin.watermarks(topic: "small", partition: 0)
        #expect(batched[TopicPartitionOffset(topic: "small", partition: 0)].map { [$0.low, $0.high] } == [single.low, single.high])

        // A consumer whose stored next offset is 0 must not silently jump to `low`.
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers), groupID: nil), logger: logger)
        try consumer.assign([TopicPartitionOffset(topic: "small", partition: 0, offset: 0)])
        var messages: [ConsumedMessage] = []
        var errors: [PartitionError] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while errors.isEmpty && ContinuousClock.now < deadline {
            let result = consumer.poll(maxMessages: 100, timeout: .milliseconds(200))
            messages += result.messages
            errors += result.errors
        }
        #expect(messages.isEmpty, "nothing past the gap may be delivered")
        let gap = try #require(errors.first)
        #expect(gap.error.code == .offsetGap)
        #expect(gap.partition?.partition == 0)
        #expect(consumer.stopped.contains(TopicPartitionOffset(topic: "small", partition: 0)))
    }

    /// `fleet chaos` once lost acknowledged messages: with several Produce requests in flight, the
    /// idempotent producer took a later batch's success as proof the failed earlier one was kept.
    @Test("every acknowledged record is stored while the broker fails Produce requests")
    func acknowledgedMeansStoredUnderProduceErrors() async throws {
        let cluster = try EmbeddedCluster(brokers: 3, logger: logger)
        try cluster.createTopic(TopicSpec(name: "acks", partitions: 24))
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)),
                                         logger: logger)
        let acked = Mutex<Set<Int>>([])
        let padding = [UInt8](repeating: UInt8(ascii: "x"), count: 180)
        var sent = 0
        // A steady stream (4,000/s for 12 s, as a worker's relay sends) with 20 failed Produce
        // requests every second, so failures land while other requests are in flight.
        let start = Date()
        var faults = 0
        while Date().timeIntervalSince(start) < 12 {
            let elapsed = Date().timeIntervalSince(start)
            while sent < Int(elapsed * 4_000) {
                let id = sent
                try producer.enqueue(ProducerRecord(topic: "acks", key: Array("k\(id)".utf8), value: Array("\(id);".utf8) + padding)) { error in
                    if error == nil { acked.withLock { _ = $0.insert(id) } }
                }
                sent += 1
            }
            if Int(elapsed) > faults {
                faults += 1
                cluster.failNextRequests(apiKey: 0, count: 20)
            }
            usleep(2_000)
        }
        try producer.flush(timeout: .seconds(60))

        let reader = try TopicReader(bootstrapServers: cluster.bootstrapServers)
        try reader.start(["acks"])
        let ackedIDs = acked.withLock { $0 }
        var stored = Set<Int>()
        let (messages, errors) = reader.read(timeout: .seconds(20)) { $0.count >= ackedIDs.count }
        for message in messages {
            let value = message.value ?? []
            if let end = value.firstIndex(of: UInt8(ascii: ";")), let id = Int(String(decoding: value[..<end], as: UTF8.self)) {
                stored.insert(id)
            }
        }
        #expect(errors.isEmpty)
        #expect(ackedIDs.count > sent / 2, "most records should be acknowledged within the flush")
        let missing = ackedIDs.subtracting(stored)
        #expect(missing.isEmpty, "\(missing.count) acknowledged record(s) not stored, e.g. \(missing.sorted().prefix(5))")
    }
}

@Suite("Offset gap rule")
struct OffsetGapGuardTests {
    let tp = TopicPartitionOffset(topic: "t", partition: 3)

    @Test func contiguousOffsetsAreDelivered() {
        var guardian = OffsetGapGuard()
        guardian.expect(TopicPartitionOffset(topic: "t", partition: 3, offset: 5))
        #expect(guardian.judge(tp, offset: 5) == .deliver)
        #expect(guardian.judge(tp, offset: 6) == .deliver)
    }

    @Test func anOffsetBeyondTheExpectedOneIsAHole() {
        var guardian = OffsetGapGuard()
        guardian.expect(TopicPartitionOffset(topic: "t", partition: 3, offset: 5))
        #expect(guardian.judge(tp, offset: 9) == .hole(expected: 5))
        // Still a hole on the next look: the expectation does not silently move on.
        #expect(guardian.judge(tp, offset: 10) == .hole(expected: 5))
        // Judged legal (a control record, a compaction hole): delivery goes on after it.
        guardian.accept(tp, offset: 10)
        #expect(guardian.judge(tp, offset: 11) == .deliver)
    }

    @Test("a hole is loss only when the log start has passed the expected offset")
    func holeIsLossOnlyBehindTheLogStart() {
        #expect(!OffsetGapGuard.isLoss(expected: 5, logStart: 0), "a control record or compaction hole above the log start")
        #expect(!OffsetGapGuard.isLoss(expected: 5, logStart: 5))
        #expect(OffsetGapGuard.isLoss(expected: 5, logStart: 6), "retention deleted offset 5 before it was read")
        #expect(OffsetGapGuard.isLoss(expected: 5, logStart: nil), "no answer from the broker: stop, never guess")
    }

    @Test("the position moving past undeliverable offsets moves the expectation, never backwards")
    func advanceToPosition() {
        var guardian = OffsetGapGuard()
        guardian.expect(TopicPartitionOffset(topic: "t", partition: 3, offset: 5))
        let same = guardian.advance(tp, to: 5), behind = guardian.advance(tp, to: 4), ahead = guardian.advance(tp, to: 7)
        #expect(!same && !behind && ahead)
        #expect(guardian.next(tp) == 7)
        #expect(guardian.judge(tp, offset: 7) == .deliver)
    }

    @Test("a position left over from an earlier assignment is not progress of this one")
    func stalePositionIsIgnored() {
        var guardian = OffsetGapGuard()
        // Stored offset 5, but the client last handed over offset 8 before the partition was revoked.
        guardian.expect(TopicPartitionOffset(topic: "t", partition: 3, offset: 5), positionNow: 9)
        let stale = guardian.advance(tp, to: 9)
        #expect(!stale, "offsets 5…8 were never applied: storing 9 would lose them")
        #expect(guardian.judge(tp, offset: 5) == .deliver)
        let own = guardian.advance(tp, to: 9)
        #expect(own, "once this assignment delivers, the position is its own")
    }

    @Test func anOffsetBelowTheExpectedOneWasAlreadyDelivered() {
        var guardian = OffsetGapGuard()
        guardian.expect(TopicPartitionOffset(topic: "t", partition: 3, offset: 5))
        #expect(guardian.judge(tp, offset: 4) == .alreadyDelivered)
        #expect(guardian.judge(tp, offset: 5) == .deliver)
    }

    @Test func withoutAStoredOffsetTheFirstFetchSetsTheExpectation() {
        var guardian = OffsetGapGuard()
        #expect(guardian.judge(tp, offset: 42) == .deliver)
        #expect(guardian.judge(tp, offset: 44) == .hole(expected: 43))
    }
}
