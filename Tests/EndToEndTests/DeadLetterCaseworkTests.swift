import CardDomain
import Foundation
import FleetSupport
import Kafka
import Testing

@testable import DemoWorld
@testable import OperatorViews

/// `fleet dlq`: a dead letter from a real failure, replayed after the cause is gone, reaches its
/// status; a repaired submission reaches received; a second replay sends nothing; the audit
/// trail lists every action; a replay that fails again points to its predecessor.
@Suite("End to end: dead letters as casework", .serialized, .timeLimit(.minutes(5)))
struct DeadLetterCaseworkTests {
    @Test("replay after the fix, repair by JSON Patch, replay once, audit trail, failed replay points back")
    func casework() async throws {
        let fleet = try PipelineHarness(registryGraceSeconds: 20)
        let early = Family(21), repaired = Family(22)
        for branch in DemoBranches.all {
            try await fleet.publish("bank.branches", key: Branch.key(bank: branch.bank, branch: branch.branch), json: branch)
        }
        for family in [early, repaired] {
            for person in [family.mother, family.child] { try await fleet.publish("registry.persons", key: person.idNumber, json: person) }
        }

        // A bank event for an order that does not exist yet: a dead letter "unknown order".
        try await fleet.publish("card.bank-events", key: "dlq-early",
                                json: BankEvent(applicationID: "dlq-early", orderID: CardOrder.orderID(forApplication: "dlq-early"),
                                                event: .atBranch, at: Timestamp(Date())))
        // A submission whose id travels under another name: a dead letter "no usable submission_id".
        let misnamed = repaired.submission(id: "dlq-repaired").replacingOccurrences(of: "\"submission_id\"", with: "\"submissionId\"")
        try await fleet.submit(misnamed, applicantID: repaired.child.idNumber)
        #expect(await fleet.waitUntil { fleet.deadLetters().count >= 2 }, "both failures are dead letters: \(fleet.deadLetters())")
        let ids = Self.ids(fleet)
        let bankLetter = try #require(ids.first { $0.letter.sourceTopic == "card.bank-events" })
        let submissionLetter = try #require(ids.first { $0.letter.sourceTopic == "card.submission" })
        #expect(bankLetter.letter.error.contains("unknown order"))

        // The cause goes away: the application reaches production, so its order exists.
        try await fleet.submit(early.submission(id: "dlq-early"), applicantID: early.child.idNumber)
        await fleet.waitForStatus("dlq-early", .inProduction)

        let servers = fleet.cluster.bootstrapServers
        let listed = try Self.fleetCommand(["dlq", "list", "--brokers", servers])
        #expect(listed.status == 0 && listed.output.contains("2 of 2 dead letters match"), "\(listed.output)")
        #expect(listed.output.contains(bankLetter.id) && listed.output.contains(submissionLetter.id))
        #expect(!listed.output.contains(repaired.child.idNumber), "an unmasked ID number in `dlq list`")

        let shown = try Self.fleetCommand(["dlq", "show", submissionLetter.id, "--brokers", servers])
        #expect(shown.status == 0 && shown.output.contains("\"submissionId\""), "\(shown.output)")
        for secret in [repaired.child.idNumber, repaired.mother.idNumber, "13412342458", repaired.mother.name] {
            #expect(!shown.output.contains(secret), "`dlq show` leaks personal data unless --reveal")
        }
        let refused = try Self.fleetCommand(["dlq", "show", submissionLetter.id, "--brokers", servers, "--reveal"])
        #expect(refused.status != 0 && refused.output.contains("--reveal needs --reason"))
        let revealed = try Self.fleetCommand(["dlq", "show", submissionLetter.id, "--brokers", servers, "--reveal",
                                             "--reason", "compare with the portal's copy", "--operator-name", "tester"])
        #expect(revealed.status == 0 && revealed.output.contains(repaired.child.idNumber))

        // Replay the bank event: it now reaches its order.
        let replay = try Self.fleetCommand(["dlq", "replay", bankLetter.id, "--brokers", servers, "--reason", "order arrived", "--operator-name", "tester"])
        #expect(replay.status == 0 && replay.output.contains("replayed \(bankLetter.id) → card.bank-events"), "\(replay.output)")
        let ready = await fleet.waitForStatus("dlq-early", .readyForPickup)
        #expect(ready.map(\.status) == [.received, .identityVerified, .routed, .inProduction, .readyForPickup])

        // Replaying it again sends nothing.
        let again = try Self.fleetCommand(["dlq", "replay", bankLetter.id, "--brokers", servers, "--reason", "again", "--operator-name", "tester"])
        #expect(again.status == 0 && again.output.contains("skipped \(bankLetter.id): already replayed"), "\(again.output)")

        // Repair the submission with a JSON Patch (the diff is shown), replay it: received.
        let patch = FileManager.default.temporaryDirectory.appendingPathComponent("patch-\(UUID().uuidString).json")
        try Data(#"[{"op": "move", "from": "/submissionId", "path": "/submission_id"}]"#.utf8).write(to: patch)
        defer { try? FileManager.default.removeItem(at: patch) }
        let dry = try Self.fleetCommand(["dlq", "replay", submissionLetter.id, "--brokers", servers, "--reason", "misnamed id",
                                         "--patch", patch.path, "--dry-run"])
        #expect(dry.output.contains("would replay \(submissionLetter.id)") && dry.output.contains("move /submissionId → /submission_id"), "\(dry.output)")
        let fixed = try Self.fleetCommand(["dlq", "replay", submissionLetter.id, "--brokers", servers, "--reason", "misnamed id",
                                           "--patch", patch.path, "--operator-name", "tester"])
        #expect(fixed.status == 0, "\(fixed.output)")
        await fleet.waitForStatus("dlq-repaired", .received)

        // A replay that fails again: a new dead letter pointing to its predecessor.
        try await fleet.publish("card.submission", key: "garbage", value: Array("{not json".utf8))
        #expect(await fleet.waitUntil { fleet.deadLetters().count >= 3 })
        let garbage = try #require(Self.ids(fleet).first { $0.letter.key == "garbage" })
        _ = try Self.fleetCommand(["dlq", "replay", garbage.id, "--brokers", servers, "--reason", "try again", "--operator-name", "tester"])
        let predecessor = garbage.id
        let chained = await fleet.waitUntil { fleet.deadLetters().contains { $0.replayOf == predecessor } }
        #expect(chained, "the replayed record's new dead letter names \(predecessor)")

        // The audit trail: one replay per replayed letter (the second attempt sent nothing), and the reveal.
        let audit = try DeadLetterCasework(bootstrapServers: servers, logger: fleet.logger).auditTrail()
        #expect(audit.filter { $0.action == .replay && $0.deadLetter == bankLetter.id }.count == 1)
        #expect(audit.contains { $0.action == .replay && $0.deadLetter == submissionLetter.id && $0.patch == ["move /submissionId → /submission_id"] })
        #expect(audit.contains { $0.action == .reveal && $0.deadLetter == submissionLetter.id && $0.operatorName == "tester" })
        let sent = try fleet.read("card.bank-events").filter { $0.header("card-replay-of")?.stringValue == bankLetter.id }.count
        #expect(sent == 1, "the bank event was sent \(sent) times")
        _ = await fleet.stop()
    }

    static func ids(_ fleet: PipelineHarness) -> [DeadLetterEntry] {
        (fleet.collected["card.dlq"] ?? []).compactMap { message in
            (try? JSONDecoder().decode(DeadLetter.self, from: Data(message.value ?? []))).map {
                DeadLetterEntry(id: DeadLetterAudit.id(partition: message.partition, offset: message.offset), letter: $0)
            }
        }
    }

    static func fleetCommand(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = BuildProducts.executable("fleet")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
