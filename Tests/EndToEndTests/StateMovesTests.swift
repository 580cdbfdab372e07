import CardDomain
import Foundation
import FleetSupport
import Kafka
import Testing
import OperatorViews
import WorkerRuntime

/// Issue 13's proof: state follows its partition through Kafka (the state changelog), so instances
/// on their own disks can join, leave and restart without forgetting or repeating anything.
@Suite("End to end: state that follows its partition", .serialized, .timeLimit(.minutes(10)))
struct StateMovesTests {
    /// Waits until `log` has a line saying the instance was assigned some partitions.
    private func waitForLog(_ log: URL, _ needles: [String], timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let text = readGrowingTextFile(log)
            if text.split(separator: "\n").contains(where: { line in needles.allSatisfy { line.contains($0) } && !line.contains("[]") }) { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    private func bankEvents(_ fleet: PipelineHarness, _ id: String, _ events: [BankEvent.Kind]) async throws {
        let order = try #require(fleet.orders(id).first?.order)
        for event in events {
            try await fleet.publish("card.bank-events", key: id, json: BankEvent(applicationID: id, orderID: order.orderID, event: event, at: Timestamp(Date())))
        }
    }

    @Test("a closed application stays closed and pending orders keep their bank events across join, leave and rolling restart on fresh disks; nothing repeats")
    func joinLeaveRoll() async throws {
        // Snapshots every 2 KB of changesets: the moves below restore from snapshots and the records after them.
        let fleet = try PipelineHarness(registryGraceSeconds: 20, workerEnvironment: [SnapshotPolicy.bytesVariable: "2048"])
        var extra: [String: ChildProcess] = [:]
        var restarted: [ChildProcess] = []
        defer {
            for worker in Array(extra.values) + restarted { worker.signal(SIGKILL) }
        }
        let families = (20..<28).map { Family($0) }
        for branch in DemoBranches.all {
            try await fleet.publish("bank.branches", key: Branch.key(bank: branch.bank, branch: branch.branch), json: branch)
        }
        for family in families {
            for person in [family.mother, family.child] { try await fleet.publish("registry.persons", key: person.idNumber, json: person) }
        }
        // Families 0–3: routing rejects an unknown branch (BRANCH_UNKNOWN), so intake frees the child.
        // Families 4–7: orders in production, waiting for their bank's events.
        for (i, family) in families.enumerated() {
            let branch = i < 4 ? "BOB-0105-99" : "BOB-0105-01"
            try await fleet.submit(family.submission(id: "move-\(i)", branch: branch), applicantID: family.child.idNumber)
        }
        for i in 0..<4 {
            let statuses = await fleet.waitForStatus("move-\(i)", .rejected, timeout: .seconds(90))
            #expect(statuses.last?.reasons.map(\.code) == [.branchUnknown], "move-\(i): \(statuses.map(\.status))")
        }
        for i in 4..<8 { await fleet.waitForStatus("move-\(i)", .inProduction, timeout: .seconds(90)) }
        // Every freeing message has reached intake before anyone moves.
        await fleet.settle(.seconds(2))

        // MARK: Join: a second instance of every worker type, each on a fresh state directory.
        for name in PipelineHarness.workerNames {
            extra[name] = try fleet.startInstance(name, stateDirectory: fleet.directory.appendingPathComponent("state2/\(name)"),
                                                  log: fleet.directory.appendingPathComponent("\(name)-2.log"))
        }
        for name in PipelineHarness.workerNames {
            #expect(await waitForLog(fleet.directory.appendingPathComponent("\(name)-2.log"), ["partitions assigned", "["]),
                    "\(name)-2 got partitions")
        }
        await fleet.settle(.seconds(3))
        try await fleet.submit(families[0].submission(id: "move-0-again"), applicantID: families[0].child.idNumber)
        try await fleet.submit(families[1].submission(id: "move-1-again"), applicantID: families[1].child.idNumber)
        try await bankEvents(fleet, "move-4", [.accepted, .produced, .atBranch])
        try await bankEvents(fleet, "move-5", [.accepted, .produced, .atBranch])
        for id in ["move-0-again", "move-1-again"] {
            let statuses = await fleet.waitForStatus(id, .received)
            #expect(statuses.first?.status == .received, "\(id): the child was freed, the new application is received: \(statuses.map(\.status))")
        }
        for id in ["move-4", "move-5"] { await fleet.waitForStatus(id, .readyForPickup) }

        // MARK: Leave: the first instances stop; every partition moves to the fresh disks.
        for name in PipelineHarness.workerNames { fleet.workers[name]?.signal(SIGTERM) }
        for name in PipelineHarness.workerNames {
            #expect(await fleet.workers[name]?.waitAsync(timeout: .seconds(45)) == 0, "\(name) left gracefully")
        }
        try await fleet.submit(families[2].submission(id: "move-2-again"), applicantID: families[2].child.idNumber)
        try await fleet.submit(families[3].submission(id: "move-3-again"), applicantID: families[3].child.idNumber)
        try await bankEvents(fleet, "move-6", [.accepted, .produced, .atBranch])
        try await bankEvents(fleet, "move-7", [.accepted, .produced, .atBranch])
        for id in ["move-2-again", "move-3-again"] {
            let statuses = await fleet.waitForStatus(id, .received)
            #expect(statuses.first?.status == .received, "\(id): \(statuses.map(\.status))")
        }
        for id in ["move-6", "move-7"] { await fleet.waitForStatus(id, .readyForPickup) }

        // MARK: Rolling restart: the first instances come back on their old (now stale) disks, then
        // each second instance restarts in turn on its own.
        for name in PipelineHarness.workerNames {
            restarted.append(try fleet.startInstance(name, stateDirectory: fleet.directory.appendingPathComponent("state/\(name)"),
                                                     log: fleet.directory.appendingPathComponent("\(name)-1b.log")))
        }
        for name in PipelineHarness.workerNames {
            #expect(await waitForLog(fleet.directory.appendingPathComponent("\(name)-1b.log"), ["partitions assigned", "["]))
        }
        for name in PipelineHarness.workerNames {
            guard let instance = extra[name] else { continue }
            instance.signal(SIGTERM)
            #expect(await instance.waitAsync(timeout: .seconds(45)) == 0, "\(name)-2 stopped gracefully")
            extra[name] = try fleet.startInstance(name, stateDirectory: fleet.directory.appendingPathComponent("state2/\(name)"),
                                                  log: fleet.directory.appendingPathComponent("\(name)-2b.log"))
            #expect(await waitForLog(fleet.directory.appendingPathComponent("\(name)-2b.log"), ["partitions assigned", "["]))
        }
        for i in 4..<8 { try await bankEvents(fleet, "move-\(i)", [.pickedUp]) }
        for i in 4..<8 { await fleet.waitForStatus("move-\(i)", .pickedUp) }
        for i in 0..<4 { await fleet.waitForStatus("move-\(i)-again", .inProduction, timeout: .seconds(90)) }
        await fleet.settle(.seconds(3))

        // MARK: Nothing forgotten, nothing repeated
        for i in 4..<8 {
            #expect(fleet.statuses("move-\(i)").map(\.status) == [.received, .identityVerified, .routed, .inProduction, .readyForPickup, .pickedUp],
                    "move-\(i): every bank event taken once")
        }
        for i in 0..<4 {
            #expect(fleet.statuses("move-\(i)-again").map(\.status) == [.received, .identityVerified, .routed, .inProduction])
            #expect(fleet.statuses("move-\(i)").map(\.status) == [.received, .identityVerified, .rejected], "the closed application stays closed")
        }
        let statusRecords = fleet.collectedRecords("card.status")
        let statusIDs = statusRecords.compactMap { $0.header(messageIDHeader)?.stringValue }
        #expect(statusIDs.count == statusRecords.count)
        #expect(Set(statusIDs).count == statusIDs.count, "no status twice on card.status: \(statusIDs.count - Set(statusIDs).count) repeated")
        let orderIDs = fleet.collectedRecords("card.orders").compactMap { try? JSONDecoder().decode(CardOrder.self, from: Data($0.value ?? [])).applicationID }
        #expect(orderIDs.count == 8 && Set(orderIDs).count == 8, "one order per application: \(orderIDs.sorted())")
        #expect(fleet.deadLetters().isEmpty, "\(fleet.deadLetters().map(\.error))")
        let logs = (PipelineHarness.workerNames.flatMap { ["\($0)-2.log", "\($0)-1b.log"] }).compactMap {
            let file = fleet.directory.appendingPathComponent($0)
            return FileManager.default.fileExists(atPath: file.path) ? readGrowingTextFile(file) : nil
        }
        #expect(logs.contains { $0.contains("partition state restored from the changelog") }, "fresh disks were restored, not replayed")
        let allLogs = (PipelineHarness.workerNames.flatMap { ["\($0).log", "\($0)-2.log", "\($0)-1b.log", "\($0)-2b.log"] }).compactMap {
            let file = fleet.directory.appendingPathComponent($0)
            return FileManager.default.fileExists(atPath: file.path) ? readGrowingTextFile(file) : nil
        }
        #expect(allLogs.contains { $0.contains("state snapshot written to the changelog") }, "owners wrote snapshots")
        let fromSnapshot = allLogs.flatMap { $0.split(separator: "\n") }.filter {
            $0.contains("partition state restored from the changelog") && $0.contains(/restore\.snapshot\.version=[1-9]/)
        }
        #expect(!fromSnapshot.isEmpty, "some restores started from a snapshot")

        // The operator's view of the same moment: two live instances per worker type (each with its
        // own disk), every one heard within the last seconds, and `fleet members` says so.
        await fleet.settle(.seconds(3))
        let members = try DeadLetterCaseworkTests.fleetCommand(["members", "--brokers", fleet.cluster.bootstrapServers, "--json"])
        #expect(members.status == 0, "\(members.output)")
        let instances = (try? JSONDecoder().decode([MembershipView.Instance].self, from: Data(members.output.utf8))) ?? []
        for name in PipelineHarness.workerNames {
            let live = instances.filter { $0.worker == name && !$0.gone }
            #expect(live.count == 2, "\(name): \(live.map(\.instance))")
            #expect(live.reduce(0) { $0 + $1.active.count } == 24, "\(name): every partition owned once: \(live.map(\.active))")
        }
    }
}
