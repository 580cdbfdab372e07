import FleetSupport
import Foundation
import Logging
import Testing

/// The supervisor's restart rule for a worker whose configuration is refused.
@Suite("Supervisor: a worker that refuses its configuration stops the fleet instead of restarting", .timeLimit(.minutes(1)))
struct SupervisorTests {
    @Test("exit 64 (EX_USAGE) is not restarted: the other children are stopped and run() throws the worker's error line")
    func usageErrorStops() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("supervisor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let shell = URL(fileURLWithPath: "/bin/sh")
        let supervisor = Supervisor(specs: [
            ChildSpec(name: "refuser", executable: shell,
                      arguments: ["-c", "sleep 0.3; echo 'Error: CARD_IDLE_PAUSE must be off, auto or a probe interval' >&2; exit 64"]),
            ChildSpec(name: "sleeper", executable: shell, arguments: ["-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]),
        ], logDirectory: folder, logger: Logger(label: "test.supervisor"))
        let started = ContinuousClock.now
        do {
            try await supervisor.run()
            Issue.record("run() returned although a child refused its configuration")
        } catch let error as FleetRunError {
            #expect(error.description.contains("refuser refused its configuration (exit 64"), "\(error)")
            #expect(error.description.contains("Error: CARD_IDLE_PAUSE must be off"), "\(error)")
            #expect(error.description.contains(folder.appendingPathComponent("refuser.log").path), "\(error)")
        }
        #expect(supervisor.restarts.withLock { $0["refuser"] ?? 0 } == 0, "never restarted")
        #expect(ContinuousClock.now - started < .seconds(20), "the sleeper was stopped, not waited for")
    }

    @Test("any other exit is restarted with backoff")
    func otherExitRestarts() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("supervisor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let supervisor = Supervisor(specs: [
            ChildSpec(name: "crasher", executable: URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", "exit 1"]),
        ], logDirectory: folder, logger: Logger(label: "test.supervisor"))
        let task = Task { try await supervisor.run() }
        let deadline = ContinuousClock.now + .seconds(10)
        while supervisor.restarts.withLock({ $0["crasher"] ?? 0 }) < 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(supervisor.restarts.withLock { $0["crasher"] ?? 0 } >= 2)
        task.cancel()
        _ = try? await task.value
    }
}
