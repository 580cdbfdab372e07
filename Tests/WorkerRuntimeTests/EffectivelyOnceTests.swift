import Foundation
import FleetSupport
import Kafka
import Testing

@Suite("Worker runtime: effectively once through crashes", .serialized, .timeLimit(.minutes(6)))
struct EffectivelyOnceTests {
    @Test("10,000 messages, the worker SIGKILLed at random moments and restarted: exact counts, every id applied once")
    func killNineRepeatedly() async throws {
        let harness = try CountWorkerHarness()
        let keys = (0..<50).map { "key-\($0)" }
        var expected: [String: Int] = [:]
        var chunks: [[(key: String, value: String)]] = []
        for chunk in 0..<5 {
            chunks.append((0..<2000).map { i in
                let key = keys.randomElement()!
                expected[key, default: 0] += 1
                return (key, "m\(chunk)-\(i)")
            })
        }
        var kills = 0
        for chunk in chunks.dropLast() {
            try await harness.produce(chunk)
            let before = try harness.counts().values.reduce(0, +)
            try harness.startWorker(batchSize: 50)
            // Kill only once it has made progress, then at a random instant after.
            _ = try await harness.waitForState(timeout: .seconds(60)) { $0.values.reduce(0, +) > before }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...400)))
            harness.worker?.signal(SIGKILL)
            #expect(await harness.worker?.waitAsync(timeout: .seconds(10)) != nil)
            kills += 1
        }
        #expect(kills == 4)
        try await harness.produce(chunks.last!)
        try harness.startWorker(batchSize: 50)
        let final = try await harness.waitForState(timeout: .seconds(120)) { $0.values.reduce(0, +) >= 10_000 }
        #expect(final == expected, "state must equal the exact per-key counts")

        // Downstream: dedup by the deterministic id header, as every consumer of ours does.
        let expectedIDs = Set(expected.flatMap { key, n in (1...n).map { "count/\(key)/\($0)" } })
        let output = try harness.read("test.output", timeout: .seconds(60)) { messages in
            Set(messages.compactMap { $0.header("card-message-id")?.stringValue }).count >= expectedIDs.count
        }
        let ids = output.compactMap { $0.header("card-message-id")?.stringValue }
        #expect(ids.count == output.count, "every emitted message carries its id")
        #expect(Set(ids) == expectedIDs, "every id seen, none invented")
        for message in output {
            // The same id always carries the same value: a re-send is the same message, not a new count.
            let id = try #require(message.header("card-message-id")?.stringValue)
            let parts = id.split(separator: "/")
            #expect(String(decoding: message.value ?? [], as: UTF8.self) == "\(parts[1]):\(parts[2])")
        }
        print("kill -9 run: \(kills) kills, \(output.count) output messages for \(expectedIDs.count) ids (\(output.count - expectedIDs.count) re-sends absorbed by id dedup)")
        harness.worker?.signal(SIGTERM)
        #expect(await harness.worker?.waitAsync(timeout: .seconds(30)) == 0)
    }

    @Test("an idle worker deletes what was delivered without waiting for more input, so a kill -9 then re-sends nothing")
    func idleDeletesDelivered() async throws {
        let harness = try CountWorkerHarness()
        try await harness.produce((0..<400).map { ("k\($0 % 37)", "v\($0)") })
        try harness.startWorker(batchSize: 100)
        _ = try await harness.waitForState(timeout: .seconds(60)) { $0.values.reduce(0, +) >= 400 }
        _ = try harness.read("test.output", timeout: .seconds(30)) { $0.count >= 400 }
        // No more input comes: the delivered rows must still leave the files within moments.
        let deadline = ContinuousClock.now + .seconds(10)
        var left = try harness.scalar("SELECT COUNT(*) FROM runtime_outbox").reduce(0, +)
        while left > 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            left = try harness.scalar("SELECT COUNT(*) FROM runtime_outbox").reduce(0, +)
        }
        #expect(left == 0, "delivered rows left in idle partition files")
        harness.worker?.signal(SIGKILL)
        #expect(await harness.worker?.waitAsync(timeout: .seconds(10)) != nil)
        try harness.startWorker(batchSize: 100)
        try await Task.sleep(for: .seconds(6))
        let output = try harness.read("test.output", timeout: .seconds(10)) { _ in false }
        #expect(output.count == 400, "a restart after kill -9 on an idle worker sent \(output.count - 400) outputs again")
        harness.worker?.signal(SIGTERM)
        #expect(await harness.worker?.waitAsync(timeout: .seconds(30)) == 0)
    }

    @Test("graceful shutdown mid-stream: exit 0, no unsent outbox rows, offsets committed to Kafka")
    func gracefulShutdown() async throws {
        let harness = try CountWorkerHarness()
        try await harness.produce((0..<5000).map { ("k\($0 % 97)", "v\($0)") })
        try harness.startWorker(batchSize: 100)
        _ = try await harness.waitForState(timeout: .seconds(60)) { $0.values.reduce(0, +) > 0 }
        harness.worker?.signal(SIGTERM)
        #expect(await harness.worker?.waitAsync(timeout: .seconds(60)) == 0)

        #expect(try harness.scalar("SELECT COUNT(*) FROM runtime_outbox").reduce(0, +) == 0, "outbox drained")
        let processed = try harness.counts().values.reduce(0, +)
        #expect(processed > 0)
        let stored = try harness.storedOffsets()
        #expect(stored.values.reduce(0, +) == Int64(processed), "one offset per processed message")
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: harness.cluster.bootstrapServers), logger: harness.logger)
        let committed = try admin.committedOffsets(group: "card-count", partitions: (0..<4).map { TopicPartitionOffset(topic: "test.input", partition: $0) })
        for tp in committed where stored[tp.partition] != nil {
            #expect(tp.offset == stored[tp.partition], "Kafka's committed offset agrees with SQLite for \(tp)")
        }
        // Everything the state counted was delivered downstream before exit.
        let output = try harness.read("test.output", timeout: .seconds(20)) { $0.count >= processed }
        #expect(Set(output.compactMap { $0.header("card-message-id")?.stringValue }).count == processed)
        #expect(harness.workerLog().contains("outbox.drained=true"))
    }
}
