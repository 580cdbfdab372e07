import FleetSupport
import Foundation
import Kafka
import WorkerRuntime

/// How far behind the standby copies were, from every membership record a run left on
/// `card.worker-membership` (docs/state-changelog.md, "Standbys"): the records each copy was
/// behind at each heartbeat, and the longest apply delay each heartbeat reported.
struct StandbyLagReport {
    /// Heartbeats that named at least one copy.
    var heartbeats = 0
    /// Records behind, one value per copy per heartbeat, ascending.
    var recordsBehind: [Double] = []
    /// Longest apply delay per heartbeat that applied anything, ms, ascending.
    var delaysMs: [Double] = []

    /// Reads the membership topic from its oldest record to its end.
    /// - Throws: `KafkaError` when the topic cannot be read (to its end within `timeout`).
    static func read(bootstrapServers: String, timeout: Duration = .seconds(30)) throws -> StandbyLagReport {
        let messages = try TopicReader(bootstrapServers: bootstrapServers).readToEnd(Membership.topic, timeout: timeout)
        var report = StandbyLagReport()
        for record in messages.compactMap({ Membership.decode($0.value) }) where !record.standby.isEmpty {
            report.heartbeats += 1
            report.recordsBehind += record.standbyLag.values.map(Double.init)
            if let delay = record.standbyDelayMs, delay > 0 { report.delaysMs.append(Double(delay)) }
        }
        report.recordsBehind.sort()
        report.delaysMs.sort()
        return report
    }

    /// One line: `standby lag: N heartbeats with copies; records behind p50 …, p99 …, max …; apply delay p50 … ms, p99 … ms, max … ms`.
    var line: String {
        func figures(_ values: [Double], unit: String) -> String {
            guard let max = values.last else { return "none" }
            let p = { (q: Double) in RunFormat.percentile(values, q).map { String(format: "%.0f", $0) } ?? "-" }
            return "p50 \(p(50))\(unit), p99 \(p(99))\(unit), max \(String(format: "%.0f", max))\(unit)"
        }
        return "standby lag: \(heartbeats) heartbeat(s) with copies; records behind \(figures(recordsBehind, unit: "")); "
            + "apply delay (changelog record's timestamp to its apply) \(figures(delaysMs, unit: " ms"))"
    }
}
