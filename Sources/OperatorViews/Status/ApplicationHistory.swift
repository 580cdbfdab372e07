import CardDomain
import Foundation
import JSONCodec

/// One application's history from `card.status` and `card.bank-events`, for `fleet status`.
///
/// Pure: the command reads the topics and hands every decoded event over. Statuses are kept
/// in `seq` order (a redelivered duplicate of a seq is dropped), bank events in time order,
/// and the two are interleaved by time with the statuses' own order preserved.
package struct ApplicationHistory: Sendable {
    enum Step: Sendable {
        case status(StatusEvent)
        case bank(BankEvent)

        var at: Timestamp {
            switch self {
            case .status(let event): event.at
            case .bank(let event): event.at
            }
        }
    }

    let applicationID: String
    let statuses: [StatusEvent]
    let bankEvents: [BankEvent]
    let timeline: [Step]

    /// - Returns: `nil` when neither topic mentions the application.
    init?(applicationID: String, statuses: [StatusEvent], bankEvents: [BankEvent]) {
        let mine = statuses.filter { $0.applicationID == applicationID }
        let bank = bankEvents.filter { $0.applicationID == applicationID }
        guard !mine.isEmpty || !bank.isEmpty else { return nil }
        var bySeq: [Int: StatusEvent] = [:]
        for event in mine where bySeq[event.seq] == nil { bySeq[event.seq] = event }
        self.applicationID = applicationID
        self.statuses = bySeq.values.sorted { $0.seq < $1.seq }
        var seenBank = Set<BankEvent>()
        self.bankEvents = bank.filter { seenBank.insert($0).inserted }
            .enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)

        // Merge by time; at equal times the status goes first (the bank answers what it was told).
        var merged: [Step] = []
        var s = self.statuses[...]
        var b = self.bankEvents[...]
        while let status = s.first, let event = b.first {
            if event.at < status.at {
                merged.append(.bank(event))
                b = b.dropFirst()
            } else {
                merged.append(.status(status))
                s = s.dropFirst()
            }
        }
        merged += s.map(Step.status) + b.map(Step.bank)
        self.timeline = merged
    }

    /// The latest status by seq.
    var currentStatus: ApplicationStatus? { statuses.last?.status }

    /// Seqs missing between 1 and the highest seen (a status not yet read, or lost).
    var missingSeqs: [Int] {
        guard let last = statuses.last?.seq else { return [] }
        let seen = Set(statuses.map(\.seq))
        return (1...max(last, 1)).filter { !seen.contains($0) }
    }

    // MARK: - Text

    /// A table in Beijing time with the time spent between consecutive steps.
    func render() -> String {
        var lines: [String] = []
        let current = currentStatus.map { "now \($0.rawValue)" } ?? "no status yet"
        lines.append("application \(applicationID): \(current) (\(statuses.count) status(es), \(bankEvents.count) bank event(s); times Asia/Shanghai)")
        lines.append("  " + pad("seq", 4) + pad("step", 24) + pad("at", 25) + "since previous")
        var previous: Timestamp?
        for step in timeline {
            let since = previous.map { "+" + Self.duration(step.at.secondsSinceEpoch - $0.secondsSinceEpoch) } ?? ""
            previous = step.at
            switch step {
            case .status(let event):
                lines.append("  " + pad(String(event.seq), 4) + pad(event.status.rawValue, 24) + pad(Self.shanghai(event.at), 25) + since)
                var details: [String] = []
                if let label = event.relationshipLabel { details.append("relationship \(label.rawValue)") }
                if let bank = event.bank { details.append("bank \(bank.rawValue) (\(bank.chineseName))") }
                if let branch = event.branch { details.append("branch \(branch)") }
                if let due = event.dueBy { details.append("due by \(Self.shanghai(due))") }
                if let eCard = event.eCard { details.append("e_card \(eCard)") }
                if !details.isEmpty { lines.append("      " + details.joined(separator: ", ")) }
                for reason in event.reasons {
                    lines.append("      reason \(reason.code.rawValue) (\(reason.field ?? "-")): \(reason.message)")
                }
            case .bank(let event):
                lines.append("  " + pad("-", 4) + pad("bank " + event.event.rawValue, 24) + pad(Self.shanghai(event.at), 25) + since)
                var details = "order \(event.orderID)"
                if let reason = event.reason { details += ", reason: \(reason)" }
                lines.append("      " + details)
            }
        }
        if let first = timeline.first, let last = timeline.last, timeline.count > 1 {
            lines.append("  total \(Self.duration(last.at.secondsSinceEpoch - first.at.secondsSinceEpoch)) from first to last step")
        }
        let missing = missingSeqs
        if !missing.isEmpty {
            lines.append("  note: seq \(missing.map(String.init).joined(separator: ", ")) not found on card.status")
        }
        return lines.joined(separator: "\n")
    }

    // MARK: - JSON

    /// `{"application_id", "status", "timeline": [...]}`; times in +08:00.
    func json() -> JSONValue {
        var steps: [JSONValue] = []
        var previous: Timestamp?
        for step in timeline {
            var entry: [String: JSONValue] = ["at": .string(Self.inShanghai(step.at).description)]
            if let previous {
                let seconds = step.at.secondsSinceEpoch - previous.secondsSinceEpoch
                entry["since_previous_seconds"] = .number((seconds * 1000).rounded() / 1000)
            }
            previous = step.at
            switch step {
            case .status(let event):
                entry["type"] = "status"
                entry["seq"] = .integer(Int64(event.seq))
                entry["status"] = .string(event.status.rawValue)
                entry["reasons"] = .array(event.reasons.map { reason in
                    ["code": .string(reason.code.rawValue), "field": reason.field.map(JSONValue.string) ?? .null,
                     "message": .string(reason.message)]
                })
                if let label = event.relationshipLabel { entry["relationship_label"] = .string(label.rawValue) }
                if let bank = event.bank { entry["bank"] = .string(bank.rawValue) }
                if let branch = event.branch { entry["branch"] = .string(branch) }
                if let due = event.dueBy { entry["due_by"] = .string(Self.inShanghai(due).description) }
                if let eCard = event.eCard { entry["e_card"] = .bool(eCard) }
            case .bank(let event):
                entry["type"] = "bank_event"
                entry["event"] = .string(event.event.rawValue)
                entry["order_id"] = .string(event.orderID)
                entry["reason"] = event.reason.map(JSONValue.string) ?? .null
            }
            steps.append(.object(entry))
        }
        return [
            "application_id": .string(applicationID),
            "status": currentStatus.map { .string($0.rawValue) } ?? .null,
            "timeline": .array(steps),
        ]
    }

    // MARK: - Formatting

    /// The same instant written in +08:00, to the millisecond.
    static func inShanghai(_ timestamp: Timestamp) -> Timestamp {
        Timestamp(secondsSinceEpoch: (timestamp.secondsSinceEpoch * 1000).rounded() / 1000,
                  utcOffsetSeconds: Timestamp.shanghaiOffsetSeconds)
    }

    /// `2026-11-25 10:15:00.123`, Beijing time.
    package static func shanghai(_ timestamp: Timestamp) -> String {
        var text = inShanghai(timestamp).description
        if text.hasSuffix("+08:00") { text.removeLast(6) }
        text = text.replacingOccurrences(of: "T", with: " ")
        // Always three fraction digits, so the column lines up.
        let parts = text.split(separator: ".", maxSplits: 1)
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        return String(parts[0]) + "." + fraction + String(repeating: "0", count: max(0, 3 - fraction.count))
    }

    /// `0.333s`, `12.0s`, `3m 12s`, `2h 05m`, `3d 4h`.
    static func duration(_ seconds: Double) -> String {
        let s = max(seconds, 0)
        if s < 60 { return String(format: "%.3fs", s) }
        let total = Int(s.rounded())
        if total < 3600 { return "\(total / 60)m \(padded(total % 60, 2))s" }
        if total < 86_400 { return "\(total / 3600)h \(padded(total % 3600 / 60, 2))m" }
        return "\(total / 86_400)d \(total % 86_400 / 3600)h"
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

/// `value` in decimal, zero-padded on the left to `width` digits (as the demo world's names pad).
private func padded(_ value: Int, _ width: Int) -> String {
    let text = String(value)
    return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
}
