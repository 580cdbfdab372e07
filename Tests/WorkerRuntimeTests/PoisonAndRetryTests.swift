import Foundation
import FleetSupport
import Kafka
import Testing

@Suite("Worker runtime: poison messages and retries", .serialized, .timeLimit(.minutes(3)))
struct PoisonAndRetryTests {
    @Test("a poison message lands in card.dlq with its cause, masked, and the worker goes on")
    func poisonToDeadLetter() async throws {
        let harness = try CountWorkerHarness()
        try harness.startWorker()
        try await harness.produce([("k1", "first"), ("k1", "!13812345678 and 110105201503070013"), ("k1", "third")])
        let state = try await harness.waitForState(timeout: .seconds(60)) { $0["k1"] == 2 }
        #expect(state["k1"] == 2, "the messages around the poison one are counted")

        let letters = try harness.read("card.dlq", timeout: .seconds(30)) { $0.count >= 1 }
        try #require(letters.count == 1)
        let letter = letters[0]
        #expect(letter.key == Array("k1".utf8), "keyed by the original key")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(letter.value ?? [])) as? [String: Any])
        #expect(json["source_topic"] as? String == "test.input")
        #expect(json["offset"] as? Int == 1)
        #expect(json["worker"] as? String == "count")
        #expect(json["key"] as? String == "k1")
        #expect(json["at"] is String)
        let error = try #require(json["error"] as? String)
        #expect(error.contains("cannot count value"))
        #expect(error.contains("138****5678") && error.contains("110105********0013"), "cause masked: \(error)")
        #expect(!error.contains("13812345678") && !error.contains("110105201503070013"))
        let payload = try #require((json["payload_base64"] as? String).flatMap { Data(base64Encoded: $0) })
        #expect(String(decoding: payload, as: UTF8.self) == "!13812345678 and 110105201503070013", "raw payload kept for replay")
        let sourcePartition = try harness.storedOffsets().first { $0.value == 3 }?.key
        #expect(json["partition"] as? Int == sourcePartition.map(Int.init), "the partition k1 was consumed from")

        let log = harness.workerLog()
        #expect(log.contains("message dead-lettered"))
        #expect(!log.contains("13812345678") && !log.contains("110105201503070013"), "no unmasked personal data in logs")
    }

    @Test("a retriable message is retried with backoff without holding up the messages behind it")
    func retryDoesNotBlockThePartition() async throws {
        let harness = try CountWorkerHarness()
        try harness.startWorker()
        // Same key, same partition: the retried one must not hold up the one after it.
        try await harness.produce([("r", "retry:3"), ("r", "plain")])
        let output = try harness.read("test.output", timeout: .seconds(60)) { $0.count >= 2 }
        try #require(output.count >= 2)
        #expect(String(decoding: output[0].value ?? [], as: UTF8.self) == "r:1", "the plain message went first")
        #expect(String(decoding: output[1].value ?? [], as: UTF8.self) == "r:2", "the retried one followed on its third attempt")
        // Measured from the input, not from the first output: with the state changelog an output
        // leaves only after its transaction's changelog record is delivered, which delays "r:1" too.
        let inputs = try harness.read("test.input", timeout: .seconds(10)) { $0.count >= 2 }
        let retried = try #require(inputs.first { $0.value == Array("retry:3".utf8) })
        let gap = (output[1].timestampMilliseconds ?? 0) - (retried.timestampMilliseconds ?? 0)
        #expect(gap >= 1500, "two backoffs (0.5 s + 1 s) passed before the third attempt, got \(gap) ms")
        #expect(try harness.scalar("SELECT COUNT(*) FROM runtime_retry").reduce(0, +) == 0, "nothing left parked")
    }
}
