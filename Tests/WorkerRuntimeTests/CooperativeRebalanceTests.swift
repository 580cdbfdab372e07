import Foundation
import FleetSupport
import Kafka
import Testing
import WorkerRuntime

/// `partition.assignment.strategy=cooperative-sticky` (KIP-429), set through the documented escape
/// hatch, changes how librdkafka expects assignments to be made: incrementally.
@Suite("Worker runtime: cooperative rebalancing", .serialized, .timeLimit(.minutes(3)))
struct CooperativeRebalanceTests {
    @Test("cooperative-sticky: one instance consumes everything; a second joins and leaves, partitions move incrementally, no loss, no duplicate")
    func cooperativeSticky() async throws {
        let harness = try CountWorkerHarness(partitions: 4)
        let cooperative = ["--kafka-property", "partition.assignment.strategy=cooperative-sticky"]
        var input = KeyedInput()
        func chunk(_ n: Int, _ tag: String) -> [(key: String, value: String)] { input.chunk(n, tag) }
        let total = KeyedInput.total

        try await harness.produce(chunk(800, "one"))
        try harness.startWorker(batchSize: 50, extraArguments: cooperative)
        #expect(total(try await harness.waitForState(timeout: .seconds(60)) { total($0) >= 800 }) == 800, "the only instance consumes everything")

        let secondLog = harness.directory.appendingPathComponent("second.log")
        let second = try harness.startAnotherWorker(batchSize: 50, extraArguments: cooperative, log: secondLog)
        // The second instance gets some partitions, the first gives them up: revoked, or reported
        // lost when a fence commit met the rebalance (librdkafka 2.0.2, issue #4059), after which
        // it gets its share back; either way nothing is lost or repeated (below).
        let joined = await waitFor(timeout: .seconds(30)) {
            let first = harness.workerLog()
            return (readGrowingTextFile(secondLog)).contains("partitions assigned") &&
                (first.contains("partitions revoked") || first.contains("partitions lost"))
        }
        let lines = { (text: String) in text.split(separator: "\n").filter { $0.contains("rebalance") || $0.contains("partitions") || $0.contains("commit") }.joined(separator: "\n") }
        #expect(joined, "first:\n\(lines(harness.workerLog()))\nsecond:\n\(lines(readGrowingTextFile(secondLog)))")
        try await harness.produce(chunk(800, "two"))
        #expect(total(try await harness.waitForState(timeout: .seconds(60)) { total($0) >= 1600 }) == 1600)

        second.signal(SIGTERM)
        #expect(await second.waitAsync(timeout: .seconds(30)) == 0)
        try await harness.produce(chunk(800, "three"))
        let final = try await harness.waitForState(timeout: .seconds(60)) { total($0) >= 2400 }
        #expect(final == input.expected, "exact per-key counts: nothing lost, nothing applied twice")

        let expectedIDs = input.expectedIDs
        let output = try harness.read("test.output", timeout: .seconds(30)) { messages in
            Set(messages.compactMap { $0.header("card-message-id")?.stringValue }).count >= expectedIDs.count
        }
        #expect(Set(output.compactMap { $0.header("card-message-id")?.stringValue }) == expectedIDs)

        let firstLog = harness.workerLog()
        let secondText = readGrowingTextFile(secondLog)
        #expect(!firstLog.contains("assign failed") && !secondText.contains("assign failed"))
        // The group really ran the cooperative protocol (incremental assign/unassign), never eager.
        for text in [firstLog, secondText] {
            #expect(text.contains("kafka.rebalance_protocol=COOPERATIVE"))
            #expect(!text.contains("kafka.rebalance_protocol=EAGER"))
        }
        harness.worker?.signal(SIGTERM)
        #expect(await harness.worker?.waitAsync(timeout: .seconds(30)) == 0)
    }

    @Test("a worker with co-partitioned input topics refuses an assignor that may split them, at start, with the reason")
    func coPartitionedWorkerRefusesCooperative() async throws {
        let harness = try CountWorkerHarness(partitions: 2)
        let log = harness.directory.appendingPathComponent("intake.log")
        let intake = try ChildProcess(
            name: "intake-worker", executable: BuildProducts.executable("intake-worker"),
            arguments: ["--brokers", harness.cluster.bootstrapServers, "--state-dir", harness.directory.appendingPathComponent("intake").path,
                        "--kafka-property", "partition.assignment.strategy=cooperative-sticky"],
            logFile: log)
        let status = await intake.waitAsync(timeout: .seconds(30))
        #expect(status != nil && status != 0, "exits at start")
        let text = readGrowingTextFile(log)
        #expect(text.contains("partition.assignment.strategy=cooperative-sticky refused"), "\(text.suffix(2000))")
        #expect(text.contains("card.submission and card.application-closed"))
    }

    @Test("the assignor rule: range first for co-partitioned topics, anything for one topic")
    func assignorRule() throws {
        let two = ["card.submission", "card.application-closed"]
        #expect(throws: Never.self) { try AssignmentStrategyRule.validate(strategy: nil, inputTopics: two) }
        #expect(throws: Never.self) { try AssignmentStrategyRule.validate(strategy: "range", inputTopics: two) }
        #expect(throws: Never.self) { try AssignmentStrategyRule.validate(strategy: "range,roundrobin", inputTopics: two) }
        #expect(throws: AssignmentStrategyRule.Refused.self) { try AssignmentStrategyRule.validate(strategy: "cooperative-sticky", inputTopics: two) }
        #expect(throws: AssignmentStrategyRule.Refused.self) { try AssignmentStrategyRule.validate(strategy: "roundrobin,range", inputTopics: two) }
        #expect(throws: Never.self) { try AssignmentStrategyRule.validate(strategy: "cooperative-sticky", inputTopics: ["card.bank-routing"]) }
    }
}
