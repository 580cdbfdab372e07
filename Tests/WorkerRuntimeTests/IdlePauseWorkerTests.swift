import Foundation
import FleetSupport
import Kafka
import Testing

/// `IdlePause` in a real worker process against the embedded broker: partitions that went quiet
/// are paused, and what is produced while they are paused is still applied, exactly once.
@Suite("Idle pause in a worker against the embedded broker", .serialized, .timeLimit(.minutes(4)))
struct IdlePauseWorkerTests {
    @Test("quiet partitions pause; records produced while paused are applied once, round after round")
    func pauseThenResume() async throws {
        let harness = try CountWorkerHarness()
        var input = KeyedInput()
        try harness.startWorker(environment: ["CARD_IDLE_PAUSE": "50", "CARD_LOG_LEVEL": "debug"])
        try await harness.produce(input.chunk(200, "warm"))
        _ = try await harness.waitForState(timeout: .seconds(60)) { KeyedInput.total($0) >= 200 }
        for round in 1...3 {
            // More than the 2 s quiet time with nothing to read: the worker stops fetching. Paused
            // now means the last pause was logged after the last resume.
            let paused = await waitFor(timeout: .seconds(20)) {
                let log = harness.workerLog()
                guard let pause = log.range(of: "input partitions paused while quiet", options: .backwards) else { return false }
                return log.range(of: "paused input partitions resumed", options: .backwards).map { $0.lowerBound < pause.lowerBound } ?? true
            }
            #expect(paused, "round \(round): no partition paused\n\(harness.workerLog().suffix(3000))")
            let logBefore = harness.workerLog().count
            let expectedTotal = KeyedInput.total(input.expected) + 100
            try await harness.produce(input.chunk(100, "round\(round)"))
            let state = try await harness.waitForState(timeout: .seconds(30)) { KeyedInput.total($0) >= expectedTotal }
            #expect(state == input.expected, "round \(round): every record applied once")
            #expect(harness.workerLog().dropFirst(logBefore).contains("paused input partitions resumed: records arrived"))
        }
        // Nothing applied twice after the last round either (a resume from a stale position would).
        try await Task.sleep(for: .seconds(3))
        #expect(try harness.counts() == input.expected)
        harness.worker?.signal(SIGTERM)
        #expect(await harness.worker?.waitAsync(timeout: .seconds(30)) == 0)
    }
}
