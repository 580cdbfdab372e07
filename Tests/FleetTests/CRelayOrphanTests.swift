import FleetSupport
import Foundation
import Kafka
import Logging
import Testing

/// `card-c-relay`, the C baseline `fleet bench` runs, must not outlive the process that started it:
/// one left behind by a CI run relayed into a vanished broker for most of an hour.
@Suite("card-c-relay stops when the process that started it is gone", .timeLimit(.minutes(1)))
struct CRelayOrphanTests {
    /// Whether `pid` still runs (a zombie no one reaps counts as gone).
    func running(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].hasPrefix(" Z")
    }

    @Test("orphaned (its CARD_PARENT_PID gone), the relay stops within seconds")
    func orphanStops() async throws {
        let cluster = try EmbeddedCluster(logger: Logger(label: "test.c-relay"))
        for topic in ["orphan.in", "orphan.out"] { try cluster.createTopic(TopicSpec(name: topic, partitions: 1)) }
        let relay = BuildProducts.executable("card-c-relay").path
        // A shell starts the relay in the background, prints its pid, lives 2 s more and exits:
        // the relay is then orphaned.
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "CARD_PARENT_PID=$$ '\(relay)' --brokers \(cluster.bootstrapServers) --from orphan.in --to orphan.out "
                           + "--group orphan >/dev/null 2>&1 & echo $!; sleep 2"]
        let output = Pipe()
        shell.standardOutput = output
        try shell.run()
        var text = ""
        while !text.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let pid = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), "relay pid from \(text)")
        defer { if running(pid) { kill(pid, SIGKILL) } }
        try await Task.sleep(for: .milliseconds(1000))
        #expect(running(pid), "while the process that started it lives, the relay runs")
        // Polled, not `waitUntilExit()`: that one did not return inside this async test.
        let shellDeadline = ContinuousClock.now + .seconds(10)
        while shell.isRunning, ContinuousClock.now < shellDeadline { try await Task.sleep(for: .milliseconds(50)) }
        let deadline = ContinuousClock.now + .seconds(25)
        while running(pid), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!running(pid), "card-c-relay \(pid) still runs after its parent exited")
    }
}
