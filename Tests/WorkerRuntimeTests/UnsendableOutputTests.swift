import CardDomain
import Foundation
import FleetSupport
import GRDB
import Kafka
import Logging
import Testing

@testable import WorkerRuntime

/// Issue 11 (sizes): a worker must never emit what it cannot send, and a record the producer or
/// broker refuses for good is that record's problem, never a crash loop.
@Suite("Worker runtime: outputs that cannot be sent", .serialized, .timeLimit(.minutes(3)))
struct UnsendableOutputTests {
    /// The count-worker echoes its input key twice (`key` and `key:count`): a 520,000-byte key, legal
    /// input under the default 1,000,000-byte limit, makes a 1,040,000-byte output.
    @Test("an input whose output is over message.max.bytes is dead-lettered, bounded, and its partition goes on")
    func oversizedOutputRefusesItsInput() async throws {
        let harness = try CountWorkerHarness()
        try harness.startWorker()
        let bigKey = String(repeating: "K", count: 520_000)
        let records = [("k1", "first"), (bigKey, "x"), ("k1", "third")].map {
            ProducerRecord(topic: "test.input", partition: 0, key: Array($0.0.utf8), value: Array($0.1.utf8))
        }
        let errors = await harness.producer.send(records)
        try #require(errors.allSatisfy { $0 == nil }, "\(errors)")

        let state = try await harness.waitForState(timeout: .seconds(60)) { $0["k1"] == 2 }
        #expect(state["k1"] == 2, "the record after the oversized one, on the same partition, is counted")
        #expect(state[bigKey] == nil, "the refused input left no state behind")
        #expect(harness.worker?.isRunning == true, "no crash: \(harness.workerLog().suffix(2000))")
        // Its output was sent: the outbox is not stuck behind an output that could never be sent.
        let outputs = try harness.read("test.output", timeout: .seconds(30)) { $0.contains { $0.header(messageIDHeader)?.stringValue == "count/k1/2" } }
        #expect(outputs.contains { $0.header(messageIDHeader)?.stringValue == "count/k1/2" })

        let letters = try harness.read("card.dlq", timeout: .seconds(30)) { $0.count >= 1 }
        try #require(letters.count == 1)
        #expect((letters[0].value?.count ?? .max) < 1_000_000)
        let letter = try JSONDecoder().decode(DeadLetter.self, from: Data(letters[0].value ?? []))
        #expect(letter.sourceTopic == "test.input" && letter.partition == 0 && letter.offset == 1)
        #expect(letter.error.contains("message.max.bytes"), "cause: \(letter.error)")
        #expect(letter.key?.utf8.count == DeadLetters.maxKeyBytes, "key bounded")
        #expect(letter.payloadBytes == 1 && letter.payloadTruncated == false)
        #expect(letter.payloadSHA256 == SHA256.hex(Array("x".utf8)))
    }

    /// A row the producer refuses before sending: what an older version left in the outbox (the
    /// ow-04 crash loop), or any row over a lowered `message.max.bytes`.
    @Test("a relay given a row the producer refuses for good sets it aside as a bounded dead letter and sends the rest")
    func relaySetsAsideRefusedRow() async throws {
        let fixture = try RelayFixture()
        let big = [UInt8](repeating: UInt8(ascii: "v"), count: 1_200_000)
        try fixture.append([("big/1", big), ("small/2", Array("small".utf8))])
        #expect(try fixture.relay.drain(timeout: .seconds(30)), "the outbox empties; nothing thrown")

        let outputs = try fixture.read("test.output") { $0.count >= 1 }
        #expect(outputs.map { $0.header(messageIDHeader)?.stringValue } == ["small/2"])
        let letter = try fixture.onlyDeadLetter()
        #expect(letter.unsentMessageID == "big/1")
        #expect(letter.sourceTopic == "test.output" && letter.partition == 3)
        #expect(letter.payloadBytes == big.count && letter.payloadTruncated == true)
        #expect(letter.payloadSHA256 == SHA256.hex(big))
        #expect(letter.payload?.count == DeadLetters.maxPayloadBytes)
        #expect(letter.error.contains("MSG_SIZE_TOO_LARGE"), "cause: \(letter.error)")
    }

    @Test("a relay whose record the broker refuses as too large (a delivery report) dead-letters it; no retry loop")
    func relaySetsAsideBrokerRefusal() async throws {
        let fixture = try RelayFixture()
        fixture.cluster.refuseNextProduceRequestsAsTooLarge(count: 1)
        try fixture.append([("refused/1", Array("a record the topic refuses".utf8))])
        #expect(try fixture.relay.drain(timeout: .seconds(30)), "the outbox empties; nothing thrown")
        let letter = try fixture.onlyDeadLetter()
        #expect(letter.unsentMessageID == "refused/1")
        #expect(letter.payload == Data("a record the topic refuses".utf8) && letter.payloadTruncated == false)
        #expect(letter.error.contains("MSG_SIZE_TOO_LARGE"), "cause: \(letter.error)")
        let outputs = try fixture.read("test.output", timeout: .seconds(2)) { _ in false }
        #expect(outputs.isEmpty, "the refused record was not sent again")
    }
}

/// One partition store with its relay against an embedded cluster.
private final class RelayFixture {
    let logger = Logger(label: "test.relay")
    let cluster: EmbeddedCluster
    let directory: URL
    let store: PartitionStore
    let relay: OutboxRelay

    struct NoHandler: WorkerHandler {
        var inputTopics: [String] { ["test.input"] }
        func migrate(_ migrator: inout DatabaseMigrator) {}
        func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult { .done([]) }
    }

    init() throws {
        cluster = try EmbeddedCluster(logger: logger)
        for topic in ["test.output", "card.dlq"] { try cluster.createTopic(TopicSpec(name: topic, partitions: 1)) }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("relay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try PartitionStore(directory: directory, partition: 3, handler: NoHandler())
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)),
                                         logger: logger)
        relay = try OutboxRelay(store: store, producer: producer, setAside: .init(
            deadLetterTopic: "card.dlq", worker: "test", clock: { Date() }, logger: logger, counter: nil))
    }

    /// Appends rows as a committed batch would have (the guard before the outbox is bypassed on purpose).
    func append(_ rows: [(id: String, value: [UInt8])]) throws {
        try store.database.write { db in
            for row in rows { _ = try PartitionStore.append(db, OutboundMessage(topic: "test.output", key: "k", value: row.value, id: row.id)) }
        }
    }

    func read(_ topic: String, timeout: Duration = .seconds(20), until done: @escaping ([ConsumedMessage]) -> Bool) throws -> [ConsumedMessage] {
        let reader = try TopicReader(bootstrapServers: cluster.bootstrapServers)
        try reader.start([topic])
        return reader.read(timeout: timeout, until: done).messages
    }

    func onlyDeadLetter() throws -> DeadLetter {
        let letters = try read("card.dlq") { $0.count >= 1 }
        try #require(letters.count == 1)
        #expect((letters[0].value?.count ?? .max) < 1_000_000, "the dead letter itself fits")
        return try JSONDecoder().decode(DeadLetter.self, from: Data(letters[0].value ?? []))
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}
