import Foundation
import FleetSupport
import Kafka
import Testing

/// A worker on a fresh disk restores its partitions from the changelog inside the assignment; a
/// broker that fails those reads for a moment must not stop it (the full-size chaos saw exits).
@Suite("Worker runtime: opening partition state through broker errors", .serialized, .timeLimit(.minutes(3)))
struct OpenRetryTests {
    @Test("the changelog's reads fail at the first try: the worker tries again, restores, and counts exactly")
    func restoreSurvivesFailedReads() async throws {
        let harness = try CountWorkerHarness(partitions: 4)
        var input = KeyedInput()
        try await harness.produce(input.chunk(200, "one"))
        try harness.startWorker(batchSize: 50)
        #expect(KeyedInput.total(try await harness.waitForState(timeout: .seconds(60)) { KeyedInput.total($0) >= 200 }) == 200)
        // Its state is in the changelog; give the relay a moment to deliver the last records.
        try await Task.sleep(for: .seconds(2))
        harness.worker?.signal(SIGKILL)
        _ = await harness.worker?.waitAsync(timeout: .seconds(10))
        try FileManager.default.removeItem(at: harness.stateDirectory)  // the disk is lost

        // ListOffsets (API 2), which the opening's changelog reads use, fails: enough for the
        // first try (and the standby's start, which then runs without copies), not for the retries.
        harness.cluster.failNextRequests(apiKey: 2, count: 6, retriable: false)
        try harness.startWorker(batchSize: 50)
        try await harness.produce(input.chunk(200, "two"))
        let counts = try await harness.waitForState(timeout: .seconds(90)) { KeyedInput.total($0) >= 400 }
        #expect(counts == input.expected, "restored from the changelog, then the new input counted once")
        let log = harness.workerLog()
        #expect(log.contains("could not open partition state; trying again"), "the first try failed:\n\(log.suffix(3000))")
        #expect(log.contains("partition state restored from the changelog"))
        #expect(harness.worker?.isRunning == true, "the worker did not stop")
        harness.worker?.signal(SIGTERM)
        #expect(await harness.worker?.waitAsync(timeout: .seconds(30)) == 0)
    }
}
