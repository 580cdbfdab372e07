import Foundation
import FleetSupport
import Kafka
import Testing

@testable import WorkerRuntime

/// Standby copies between two instances on their own state directories (docs/state-changelog.md, "Standbys").
@Suite("Worker runtime: standby copies", .serialized, .timeLimit(.minutes(3)))
struct StandbyTests {
    @Test("each instance keeps a current copy of the other's partitions; after kill -9 the survivor takes them without a restore, nothing lost or repeated")
    func survivorTakesOverFromItsCopies() async throws {
        let harness = try CountWorkerHarness(partitions: 4)
        var input = KeyedInput()
        func chunk(_ n: Int, _ tag: String) -> [(key: String, value: String)] { input.chunk(n, tag) }
        let total = KeyedInput.total

        try await harness.produce(chunk(400, "one"))
        try harness.startWorker(batchSize: 50)
        #expect(total(try await harness.waitForState(timeout: .seconds(60)) { total($0) >= 400 }) == 400)

        let secondDirectory = harness.directory.appendingPathComponent("state-b")
        let secondLog = harness.directory.appendingPathComponent("second.log")
        let second = try harness.startAnotherWorker(batchSize: 50, log: secondLog, stateDirectory: secondDirectory)
        defer { second.signal(SIGKILL) }
        #expect(await waitFor(timeout: .seconds(30)) { readGrowingTextFile(secondLog).contains("partitions assigned") })
        try await harness.produce(chunk(400, "two"))

        // The second instance's membership record names a copy of every partition it does not own, none behind.
        let secondID = try #require(await waitForInstanceID(secondDirectory))
        let firstID = try #require(await waitForInstanceID(harness.stateDirectory))
        var latest: Membership.Record?
        let warmed = await waitFor(timeout: .seconds(60)) {
            let records = (try? harness.read(Membership.topic, timeout: .seconds(2)) { _ in false }) ?? []
            latest = records.last { $0.key.map { String(decoding: $0, as: UTF8.self) } == "count/\(secondID)" }.flatMap { Membership.decode($0.value) }
            guard let latest, !latest.active.isEmpty, latest.active.count < 4 else { return false }
            return Set(latest.standby) == Set(Int32(0)..<4).subtracting(latest.active) && latest.standbyLag.values.allSatisfy { $0 == 0 }
        }
        #expect(warmed, "second instance's record: \(String(describing: latest))\n\(readGrowingTextFile(secondLog).suffix(3000))")
        let moving = Set(Int32(0)..<4).subtracting(latest?.active ?? [])
        #expect(!moving.isEmpty)
        // Let the copies apply the second chunk's last records too (they read every 500 ms at most).
        try await Task.sleep(for: .seconds(2))

        let before = readGrowingTextFile(secondLog).count
        harness.worker?.signal(SIGKILL)
        try await harness.produce(chunk(400, "three"))
        let final = try await harness.waitForState(in: secondDirectory, timeout: .seconds(90)) { total($0) >= 1200 }
        #expect(final == input.expected, "exact per-key counts in the survivor's files: nothing lost, nothing applied twice")

        let takeover = String(readGrowingTextFile(secondLog).dropFirst(before))
        let lines = takeover.split(separator: "\n")
        #expect(!lines.contains { $0.contains("partition state restored from the changelog") }, "a partition was restored in full:\n\(takeover.suffix(4000))")
        let handedOver = lines.filter { $0.contains("standby copy handed over to the active owner") }.count
        #expect(handedOver == moving.count, "copies handed over: \(handedOver) of \(moving.count)")
        let opened = lines.filter { $0.contains("state.role=active") && ($0.contains("local file used as is") || $0.contains("caught up from the changelog in place")) }
        #expect(opened.count >= moving.count, "the moved partitions opened from their copies:\n\(opened.joined(separator: "\n"))")

        let expectedIDs = input.expectedIDs
        let output = try harness.read("test.output", timeout: .seconds(30)) { messages in
            Set(messages.compactMap { $0.header("card-message-id")?.stringValue }).count >= expectedIDs.count
        }
        #expect(Set(output.compactMap { $0.header("card-message-id")?.stringValue }) == expectedIDs)
        // The killed instance's record is the last it wrote; the survivor's goes on. A graceful stop leaves a tombstone.
        second.signal(SIGTERM)
        #expect(await second.waitAsync(timeout: .seconds(30)) == 0)
        let membership = try harness.read(Membership.topic, timeout: .seconds(10)) { messages in
            messages.contains { $0.key.map { String(decoding: $0, as: UTF8.self) } == "count/\(secondID)" && $0.value == nil }
        }
        #expect(membership.contains { $0.key.map { String(decoding: $0, as: UTF8.self) } == "count/\(secondID)" && $0.value == nil },
                "a graceful stop writes a tombstone")
        #expect(membership.contains { $0.key.map { String(decoding: $0, as: UTF8.self) } == "count/\(firstID)" })
    }

    @Test("two processes on one state directory keep no standby copies in it: a copy would be the other's active file")
    func sharedDirectoryKeepsNoCopies() async throws {
        let harness = try CountWorkerHarness(partitions: 4)
        try await harness.produce((0..<200).map { ("key-\($0 % 20)", "v-\($0)") })
        try harness.startWorker(batchSize: 50)
        #expect(await waitFor(timeout: .seconds(30)) { harness.workerLog().contains("partitions assigned") })
        let secondLog = harness.directory.appendingPathComponent("second.log")
        let second = try harness.startAnotherWorker(batchSize: 50, log: secondLog)
        defer { second.signal(SIGKILL) }
        #expect(await waitFor(timeout: .seconds(30)) { readGrowingTextFile(secondLog).contains("another live process uses this state directory") })
        try await harness.produce((0..<200).map { ("key-\($0 % 20)", "w-\($0)") })
        let counts = try await harness.waitForState(timeout: .seconds(60)) { $0.values.reduce(0, +) >= 400 }
        #expect(counts.values.reduce(0, +) == 400)
        // Placement runs every 2 s; give it a few rounds, then look: nobody placed a copy.
        try await Task.sleep(for: .seconds(6))
        for log in [harness.workerLog(), readGrowingTextFile(secondLog)] {
            #expect(!log.split(separator: "\n").contains { $0.contains("state.role=standby") }, "a standby copy was opened in a shared directory")
        }
        // Both still say what they own, under ids of their own (the second's is the directory's id + its pid).
        let records = try harness.read(Membership.topic, timeout: .seconds(5)) { _ in false }
        let owners = Dictionary(grouping: records.compactMap { Membership.decode($0.value) }, by: \.instance).mapValues { $0.last! }
        #expect(owners.count == 2, "\(owners.keys.sorted())")
        #expect(owners.values.allSatisfy { $0.standby.isEmpty })
        #expect(Set(owners.values.flatMap(\.active)) == Set(Int32(0)..<4), "every partition owned by one of them")
    }

    private func waitForInstanceID(_ directory: URL) async -> String? {
        var id: String?
        _ = await waitFor(timeout: .seconds(20)) {
            id = (try? String(contentsOf: directory.appendingPathComponent("instance-id"), encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return id?.isEmpty == false
        }
        return id
    }
}
