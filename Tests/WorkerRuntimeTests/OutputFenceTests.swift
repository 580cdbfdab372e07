import Foundation
import FleetSupport
import Kafka
import Testing

/// The zombie fence (docs/state-changelog.md, "Fencing"): with the state changelog on, outputs
/// leave only after the group coordinator accepted an offset commit made after their changelog
/// record was delivered. A member the coordinator no longer knows decides, but sends nothing.
@Suite("Worker runtime: outputs fenced by the group's offset commits", .serialized, .timeLimit(.minutes(3)))
struct OutputFenceTests {
    private static func ids(_ messages: [ConsumedMessage]) -> [String] {
        messages.compactMap { $0.header("card-message-id")?.stringValue }
    }

    private static func total(_ counts: [String: Int]) -> Int { counts.values.reduce(0, +) }

    /// A count worker whose first ten outputs went out (each fenced by an accepted commit).
    private static func workerWithTenSent() async throws -> (harness: CountWorkerHarness, sent: [ConsumedMessage]) {
        let harness = try CountWorkerHarness(partitions: 4)
        try harness.startWorker(batchSize: 50)
        try await harness.produce((0..<10).map { ("before-\($0)", "x") })
        let sent = try harness.read("test.output", timeout: .seconds(30)) { Set(ids($0)).count >= 10 }
        #expect(Set(ids(sent)).count == 10, "outputs flow while the group accepts commits")
        return (harness, sent)
    }

    /// Makes the coordinator answer UNKNOWN_MEMBER_ID and has the worker decide ten more inputs.
    private static func decideTenWhileRefused(_ harness: CountWorkerHarness) async throws {
        harness.cluster.refuseNextOffsetCommitsAsUnknownMember(count: 100_000)
        try await harness.produce((0..<10).map { ("during-\($0)", "x") })
        let decided = try await harness.waitForState(timeout: .seconds(60)) { total($0) >= 20 }
        #expect(total(decided) == 20, "the worker still reads and decides: \(decided)")
    }

    /// Every id's copies carry the same bytes.
    private static func oneContentPerID(_ messages: [ConsumedMessage]) -> Bool {
        var copies: [String: Set<[UInt8]>] = [:]
        for message in messages { if let id = message.header("card-message-id")?.stringValue { copies[id, default: []].insert(message.value ?? []) } }
        return copies.values.allSatisfy { $0.count == 1 }
    }

    @Test("while the coordinator answers UNKNOWN_MEMBER_ID the worker decides but sends nothing; once it accepts a commit every output goes, once per id")
    func refusedCommitsHoldOutputs() async throws {
        // Before: outputs flow. Then the coordinator says: unknown member (what a member whose session expired hears).
        let (harness, before) = try await Self.workerWithTenSent()
        try await Self.decideTenWhileRefused(harness)
        // librdkafka takes the refusal as the end of this member (KIP-429 "partitions lost"); it
        // rejoins, gets its partitions back with its files current, and its fence is refused again.
        let refusedAfterRejoin = await waitFor(timeout: .seconds(30)) {
            let log = harness.workerLog()
            guard let lost = log.range(of: "partitions lost") else { return false }
            return log[lost.upperBound...].contains("offset commit refused: outputs held")
        }
        let relevant = harness.workerLog().split(separator: "\n").filter { !$0.contains("CONFWARN") }
        #expect(refusedAfterRejoin, "lost, rejoined, refused again: \(relevant.joined(separator: "\n"))")
        let held = try harness.read("test.output", timeout: .seconds(3)) { _ in false }
        #expect(Set(Self.ids(held)) == Set(Self.ids(before)), "no output decided while refused may leave: \(Self.ids(held).filter { $0.contains("during") })")

        // The coordinator accepts again: everything held goes, once per id, with identical copies.
        harness.cluster.clearInjectedErrors(apiKey: 8)
        let after = try harness.read("test.output", timeout: .seconds(60)) { Set(Self.ids($0)).count >= 20 }
        let expected = Set((0..<10).flatMap { ["count/before-\($0)/1", "count/during-\($0)/1"] })
        #expect(Set(Self.ids(after)) == expected)
        #expect(Self.oneContentPerID(after), "a re-sent output is byte-identical")
        #expect(try harness.counts() == Dictionary(uniqueKeysWithValues: expected.map { (String($0.split(separator: "/")[1]), 1) }),
                "each input applied once")
        #expect(harness.worker?.isRunning == true, "refusals are not fatal")
    }

    @Test("a worker stopped while the group refuses its commits leaves its held outputs in its file; the next owner sends them, once")
    func stopWhileRefusedLeavesOutputsToTheNextOwner() async throws {
        let (harness, _) = try await Self.workerWithTenSent()
        try await Self.decideTenWhileRefused(harness)
        harness.worker?.signal(SIGTERM)
        #expect(await harness.worker?.waitAsync(timeout: .seconds(60)) == 0, "a clean stop, not a crash")
        let log = harness.workerLog()
        #expect(log.contains("outputs not yet released are left"), "the stop says what it left: \(log.split(separator: "\n").filter { $0.contains("WorkerRuntime") }.suffix(12).joined(separator: "\n"))")
        let held = try harness.read("test.output", timeout: .seconds(3)) { _ in false }
        #expect(!Self.ids(held).contains { $0.contains("during") }, "nothing decided while refused left")

        // The next owner (here on the same disk) gets the group's acceptance and sends what was held.
        harness.cluster.clearInjectedErrors(apiKey: 8)
        let next = try harness.startAnotherWorker(batchSize: 50, log: harness.directory.appendingPathComponent("next.log"))
        defer { next.signal(SIGKILL) }
        let after = try harness.read("test.output", timeout: .seconds(60)) { Set(Self.ids($0)).count >= 20 }
        #expect(Set(Self.ids(after)) == Set((0..<10).flatMap { ["count/before-\($0)/1", "count/during-\($0)/1"] }))
        #expect(Self.oneContentPerID(after), "identical bytes under one id")
        #expect(try harness.counts().values.allSatisfy { $0 == 1 }, "each input applied once")
    }
}
