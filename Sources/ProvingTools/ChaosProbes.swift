import CardDomain
import DemoWorld
import Foundation
import JSONCodec
import Kafka

/// What `fleet chaos` sends after the chaos phase, once every application has ended, to prove that
/// the moved state still holds (issue 13): no child is blocked, no active child is forgotten, no
/// order is forgotten.
///
/// - **Freed children**: a new application (a new submission_id, otherwise the same submission)
///   for a sample of children whose application a later stage rejected (identity or routing), so
///   intake freed them through card.application-closed. It must be `received` (seq 1), not
///   rejected with DUPLICATE_ACTIVE_APPLICATION; it then ends as the first did.
/// - **Active children**: the same for a sample of children whose application is in production.
///   It must be rejected with DUPLICATE_ACTIVE_APPLICATION: an intake that forgot the child would
///   take a second active application.
/// - **Orders**: bank events `accepted`, `produced`, `at_branch` for a sample of orders in
///   production (the bank simulator is off in chaos runs). Each must reach `ready_for_pickup`
///   (exactly once, seq one above `in_production`); a production that forgot the order
///   dead-letters them ("unknown order").
struct ChaosProbes {
    struct Reapplication: Sendable {
        var application: ScaledPopulation.Application
        var original: String
        /// Whether the child was freed (its first application ended rejected after intake).
        var freed: Bool
    }

    var reapplications: [Reapplication] = []
    var bankSample: [String] = []

    /// Pure: picks the samples (at most `sample` of each kind; the first ones in input order, so a
    /// seed gives the same run).
    /// - Parameter finalStatus: application id → its final status, from card.status.
    static func pick(input: [ScaledPopulation.Application], finalStatus: [String: String], sample: Int) -> ChaosProbes {
        var probes = ChaosProbes()
        var freed = 0, active = 0
        for application in input {
            let late: Bool
            switch application.expected {
            case .identity, .routing: late = true
            case .accepted: late = false
            default: continue
            }
            let status = finalStatus[application.submissionID]
            if late, status == "rejected", freed < sample, let copy = reapply(application) {
                probes.reapplications.append(Reapplication(application: copy, original: application.submissionID, freed: true))
                freed += 1
            } else if !late, status == "in_production" {
                if probes.bankSample.count < sample {
                    probes.bankSample.append(application.submissionID)
                } else if active < sample, let copy = reapply(application) {
                    probes.reapplications.append(Reapplication(application: copy, original: application.submissionID, freed: false))
                    active += 1
                }
            }
        }
        return probes
    }

    /// The same submission under a new submission_id (`<id>-r`), or `nil` when the id would be too long.
    static func reapply(_ application: ScaledPopulation.Application) -> ScaledPopulation.Application? {
        let id = application.submissionID + "-r"
        guard id.count <= 64 else { return nil }
        let text = String(decoding: application.value, as: UTF8.self)
            .replacingOccurrences(of: "\"" + application.submissionID + "\"", with: "\"" + id + "\"")
        var copy = application
        copy.submissionID = id
        copy.value = Array(text.utf8)
        return copy
    }

    /// The bank events for the order sample, keyed by application_id (the contract key).
    func bankEvents(at: Timestamp) throws -> [ProducerRecord] {
        try bankSample.flatMap { application in
            try [BankEvent.Kind.accepted, .produced, .atBranch].map { kind in
                let event = BankEvent(applicationID: application, orderID: CardOrder.orderID(forApplication: application), event: kind, at: at)
                return ProducerRecord(topic: "card.bank-events", key: Array(application.utf8), value: try CardJSON.encodeBytes(event))
            }
        }
    }

    /// Whether every probe has its answer on card.status.
    func answered(_ state: OutputCollector.State) -> Bool {
        let statuses = Self.byApplication(state)
        let reapplied = reapplications.allSatisfy { probe in
            (statuses[probe.application.submissionID] ?? []).contains { $0.status == "rejected" || $0.status == "in_production" }
        }
        return reapplied && bankSample.allSatisfy { (statuses[$0] ?? []).contains { $0.status == "ready_for_pickup" } }
    }

    /// card.status of the run without the sample's `ready_for_pickup` statuses (which the usual
    /// verification, whose finals are in_production and rejected, would count as statuses after the final one).
    func withoutBankAnswers(_ state: OutputCollector.State) -> OutputCollector.State {
        let sample = Set(bankSample)
        var copy = state
        copy.statuses = state.statuses.filter { !(sample.contains($0.value.application) && $0.value.status == "ready_for_pickup") }
        copy.rawStatuses -= state.statuses.count - copy.statuses.count
        return copy
    }

    /// Checks the answers. - Returns: summary lines and violations.
    func check(_ state: OutputCollector.State) -> (lines: [String], violations: [String]) {
        let statuses = Self.byApplication(state)
        var blocked: [String] = [], doubleActive: [String] = [], forgottenOrders: [String] = [], repeatedPickup: [String] = []
        for probe in reapplications {
            let first = (statuses[probe.application.submissionID] ?? []).min { $0.seq < $1.seq }
            if probe.freed {
                if first?.status != "received" {
                    blocked.append("\(probe.application.submissionID) (child of \(probe.original)): \(first.map { "\($0.status) \($0.codes.sorted())" } ?? "no status")")
                }
            } else if !(first?.status == "rejected" && first?.codes.contains(ReasonCode.duplicateActiveApplication.rawValue) == true) {
                doubleActive.append("\(probe.application.submissionID) (child of \(probe.original)): \(first.map { "\($0.status) \($0.codes.sorted())" } ?? "no status")")
            }
        }
        for application in bankSample {
            let copies = statuses[application] ?? []
            let ready = copies.filter { $0.status == "ready_for_pickup" }
            let produced = copies.first { $0.status == "in_production" }
            if ready.isEmpty { forgottenOrders.append(application) }
            if ready.count > 1 || (ready.first.map { $0.seq != (produced?.seq ?? -1) + 1 } ?? false) {
                repeatedPickup.append("\(application) \(copies.sorted { $0.seq < $1.seq }.map { "\($0.seq):\($0.status)" })")
            }
        }
        let freed = reapplications.filter(\.freed).count
        var lines = ["probes: \(freed) freed child(ren) applied again: \(freed - blocked.count) received, \(blocked.count) blocked; "
                     + "\(reapplications.count - freed) active child(ren) applied again: \(reapplications.count - freed - doubleActive.count) refused (DUPLICATE_ACTIVE_APPLICATION), \(doubleActive.count) taken twice; "
                     + "\(bankSample.count) order(s) given bank events: \(bankSample.count - forgottenOrders.count) ready_for_pickup, \(forgottenOrders.count) forgotten"]
        if reapplications.isEmpty && bankSample.isEmpty { lines = ["probes: none (no application ended rejected after intake or in production)"] }
        var violations: [String] = []
        func flag(_ list: [String], _ what: String) {
            if !list.isEmpty { violations.append("\(list.count) \(what), e.g. \(list.prefix(3).joined(separator: "; "))") }
        }
        flag(blocked, "freed child(ren) BLOCKED: the new application was not received")
        flag(doubleActive, "child(ren) with an application in production given a SECOND active application")
        flag(forgottenOrders, "order(s) FORGOTTEN: bank events did not reach ready_for_pickup")
        flag(repeatedPickup, "order(s) whose bank events gave other than one ready_for_pickup after in_production")
        return (lines, violations)
    }

    private static func byApplication(_ state: OutputCollector.State) -> [String: [OutputCollector.StatusCopy]] {
        var result: [String: [OutputCollector.StatusCopy]] = [:]
        for copy in state.statuses.values { result[copy.application, default: []].append(copy) }
        return result
    }
}
