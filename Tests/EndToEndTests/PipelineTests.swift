import CardDomain
import Foundation
import FleetSupport
import Kafka
import Testing

/// The four workers as real processes on the embedded broker, driven through the contract's topics.
@Suite("End to end: submission to the bank branch", .serialized, .timeLimit(.minutes(5)))
struct PipelineTests {
    @Test("every path of the contract, through real worker processes")
    func pipeline() async throws {
        let fleet = try PipelineHarness(registryGraceSeconds: 20)
        let families = (0...12).map { Family($0) }
        for branch in DemoBranches.all {
            try await fleet.publish("bank.branches", key: Branch.key(bank: branch.bank, branch: branch.branch), json: branch)
        }
        // Family 5's registry records arrive late; family 6 is never registered.
        for family in families where family.index != 5 && family.index != 6 {
            for person in [family.mother, family.child] { try await fleet.publish("registry.persons", key: person.idNumber, json: person) }
        }

        // MARK: Submit every scenario at once
        try await fleet.submit(families[1].submission(id: "e2e-happy"), applicantID: families[1].child.idNumber)
        try await fleet.submit(families[2].submission(id: "e2e-bad-mobile", mobile: "12345"), applicantID: families[2].child.idNumber)
        try await fleet.submit(families[3].submission(id: "e2e-wrong-name", childName: "王五"), applicantID: families[3].child.idNumber)
        try await fleet.submit(families[4].submission(id: "e2e-closed-branch", branch: "BOB-0105-02"), applicantID: families[4].child.idNumber)
        try await fleet.submit(families[5].submission(id: "e2e-late-registry"), applicantID: families[5].child.idNumber)
        try await fleet.submit(families[6].submission(id: "e2e-unknown-person"), applicantID: families[6].child.idNumber)
        let twice = families[7].submission(id: "e2e-twice")
        try await fleet.submit(twice, applicantID: families[7].child.idNumber)
        try await fleet.submit(twice, applicantID: families[7].child.idNumber)
        try await fleet.submit(families[8].submission(id: "e2e-bank-fails"), applicantID: families[8].child.idNumber)
        try await fleet.submit(families[9].submission(id: "e2e-overdue", bank: "ICBC", branch: "ICBC-0105-01"), applicantID: families[9].child.idNumber)
        try await fleet.publish("card.submission", key: "garbage", value: Array("{not json".utf8))
        // Family 5's registry records arrive after its submission, well inside the grace period.
        try await Task.sleep(for: .seconds(1))
        for person in [families[5].mother, families[5].child] { try await fleet.publish("registry.persons", key: person.idNumber, json: person) }

        // MARK: Happy path to picked_up
        let production = await fleet.waitForStatus("e2e-happy", .inProduction)
        #expect(production.map(\.status) == [.received, .identityVerified, .routed, .inProduction])
        #expect(production.last?.dueBy != nil)
        #expect(production.first { $0.status == .identityVerified }?.relationshipLabel == .motherSon)
        let orders = fleet.orders("e2e-happy")
        try #require(orders.count == 1, "one order per application")
        #expect(orders[0].key == "BOB", "card.orders is keyed by bank code")
        #expect(orders[0].order.bank.rawValue == "BOB" && orders[0].order.branch == "BOB-0105-01")
        let orderID = orders[0].order.orderID
        let dueGap = orders[0].order.dueBy.secondsSinceEpoch - orders[0].order.orderedAt.secondsSinceEpoch
        #expect(dueGap == 30 * 86_400, "due_by = ordered_at + 30 natural days")
        for event in ["accepted", "produced", "at_branch", "at_branch", "picked_up", "accepted"] as [String] {
            try await fleet.publish("card.bank-events", key: "e2e-happy",
                                    json: BankEvent(applicationID: "e2e-happy", orderID: orderID, event: BankEvent.Kind(rawValue: event)!, at: Timestamp(Date())))
        }
        await fleet.waitForStatus("e2e-happy", .pickedUp)
        await fleet.settle()
        let happy = fleet.statuses("e2e-happy")
        #expect(happy.map(\.status) == [.received, .identityVerified, .routed, .inProduction, .readyForPickup, .pickedUp],
                "each status exactly once, duplicates and late bank events changing nothing")
        #expect(happy.map(\.seq) == Array(1...6))
        #expect(happy.first { $0.status == .readyForPickup }?.eCard == true)

        // MARK: Rejections at each stage
        let badMobile = await fleet.waitForStatus("e2e-bad-mobile", .rejected)
        #expect(badMobile.count == 1 && badMobile[0].seq == 1)
        #expect(badMobile[0].reasons.contains { $0.code == .mobileInvalid && $0.field == "agent.mobile" })
        #expect(badMobile[0].reasons.allSatisfy { !$0.message.isEmpty })

        let wrongName = await fleet.waitForStatus("e2e-wrong-name", .rejected)
        #expect(wrongName.map(\.status) == [.received, .rejected])
        #expect(wrongName.last?.seq == 2)
        #expect(wrongName.last?.reasons.contains { $0.code == .identityMismatch } == true)

        let closedBranch = await fleet.waitForStatus("e2e-closed-branch", .rejected)
        #expect(closedBranch.map(\.status) == [.received, .identityVerified, .rejected])
        #expect(closedBranch.last?.reasons.map(\.code) == [.branchClosed])

        // MARK: Registry timing
        let late = await fleet.waitForStatus("e2e-late-registry", .identityVerified)
        #expect(late.map(\.status).prefix(2) == [.received, .identityVerified], "retried until the registry caught up, then verified")
        let unknown = await fleet.waitForStatus("e2e-unknown-person", .rejected, timeout: .seconds(120))
        #expect(unknown.map(\.status) == [.received, .rejected])
        #expect(Set(unknown.last?.reasons.filter { $0.code == .personNotFound }.compactMap(\.field) ?? []) == ["agent", "applicant"])

        // MARK: Idempotency and the one-active-application rule
        await fleet.waitForStatus("e2e-twice", .received)
        try await fleet.submit(families[7].submission(id: "e2e-second-while-active"), applicantID: families[7].child.idNumber)
        let second = await fleet.waitForStatus("e2e-second-while-active", .rejected)
        #expect(second.count == 1 && second[0].reasons.map(\.code) == [.duplicateActiveApplication])
        try await fleet.submit(families[3].submission(id: "e2e-after-rejection"), applicantID: families[3].child.idNumber)
        let afterRejection = await fleet.waitForStatus("e2e-after-rejection", .identityVerified)
        #expect(afterRejection.first?.status == .received, "a rejected application frees the child")
        await fleet.settle()
        #expect(fleet.statuses("e2e-twice").filter { $0.status == .received }.count == 1, "the same submission twice is received once")

        // MARK: Bank failure frees the child
        await fleet.waitForStatus("e2e-bank-fails", .inProduction)
        let failOrder = try #require(fleet.orders("e2e-bank-fails").first?.order)
        try await fleet.publish("card.bank-events", key: "e2e-bank-fails",
                                json: BankEvent(applicationID: "e2e-bank-fails", orderID: failOrder.orderID, event: .failed, reason: "芯片写入失败", at: Timestamp(Date())))
        let failed = await fleet.waitForStatus("e2e-bank-fails", .failed)
        #expect(failed.last?.status == .failed && failed.last?.seq == 5)
        #expect(failed.last?.reasons.isEmpty == false)
        await fleet.settle(.seconds(1))
        try await fleet.submit(families[8].submission(id: "e2e-after-failure"), applicantID: families[8].child.idNumber)
        #expect(await fleet.waitForStatus("e2e-after-failure", .received).first?.status == .received)

        // MARK: Dead letters
        try await fleet.publish("card.bank-events", key: "nobody",
                                json: BankEvent(applicationID: "nobody", orderID: "ORD-nobody", event: .atBranch, at: Timestamp(Date())))
        await fleet.waitUntil { fleet.deadLetters().count >= 2 }
        let letters = fleet.deadLetters()
        #expect(letters.contains { $0.sourceTopic == "card.submission" && $0.worker == "intake" && $0.payload == Data("{not json".utf8) })
        #expect(letters.contains { $0.sourceTopic == "card.bank-events" && $0.worker == "production" && $0.error.contains("unknown order") })

        // MARK: Overdue on a driven clock
        await fleet.waitForStatus("e2e-overdue", .inProduction)
        try fleet.advanceClock(bySeconds: 31 * 86_400)
        await fleet.waitForStatus("e2e-overdue", .overdue, timeout: .seconds(30))
        await fleet.settle(.seconds(3))
        let overdue = fleet.statuses("e2e-overdue")
        #expect(overdue.filter { $0.status == .overdue }.count == 1, "overdue is reported once")
        #expect(overdue.last?.status == .overdue && overdue.last?.seq == 5)
        #expect(fleet.statuses("e2e-happy").count == 6, "a picked-up application is never overdue")

        // MARK: Shutdown and logs
        let exits = await fleet.stop()
        #expect(exits.values.allSatisfy { $0 == 0 }, "graceful exits: \(exits)")
        let allIDs = families.flatMap { [$0.mother.idNumber, $0.child.idNumber] }
        for (worker, log) in fleet.logs() {
            #expect(!log.isEmpty)
            for id in allIDs { #expect(!log.contains(id), "\(worker) logged an unmasked ID number") }
            #expect(!log.contains("13412342458"), "\(worker) logged an unmasked mobile")
        }
    }
}
