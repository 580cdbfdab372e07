import Foundation
import GRDB
import Metrics

/// What one partition's state says about a pipeline stage: the applications still in it,
/// and how long the recently finished ones stayed. Handlers produce it from their own tables.
public struct StageReport: Sendable, Hashable {
    /// Stage name, the `stage` dimension of the gauges (e.g. `identity`).
    public var stage: String
    /// Applications that entered the stage and have not left it.
    public var unfinished: Int
    /// When the oldest of them entered the stage.
    public var oldestUnfinishedSince: Date?
    /// Seconds in the stage of applications that left it within the report window.
    public var recentDurations: [Double]

    public init(stage: String, unfinished: Int = 0, oldestUnfinishedSince: Date? = nil, recentDurations: [Double] = []) {
        self.stage = stage
        self.unfinished = unfinished
        self.oldestUnfinishedSince = oldestUnfinishedSince
        self.recentDurations = recentDurations
    }

    /// Adds another partition's report of the same stage.
    public mutating func merge(_ other: StageReport) {
        unfinished += other.unfinished
        if let since = other.oldestUnfinishedSince { oldestUnfinishedSince = min(oldestUnfinishedSince ?? since, since) }
        recentDurations += other.recentDurations
    }

    /// The `q` quantile (0…1) of `recentDurations` by the nearest-rank method; `nil` when empty.
    public func quantile(_ q: Double) -> Double? {
        guard !recentDurations.isEmpty else { return nil }
        let sorted = recentDurations.sorted()
        let rank = Int((q * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}

/// Publishes merged stage reports as gauges:
/// `card_stage_unfinished`, `card_stage_oldest_unfinished_seconds`, `card_stage_finished_recent`
/// and `card_stage_time_in_stage_seconds{quantile="0.5|0.9|0.99"}`, each with `worker` and `stage`.
enum StageGauges {
    static let quantiles: [(label: String, q: Double)] = [("0.5", 0.5), ("0.9", 0.9), ("0.99", 0.99)]

    static func record(_ reports: [StageReport], worker: String, now: Date) {
        for report in reports {
            let d = [("worker", worker), ("stage", report.stage)]
            Gauge(label: "card_stage_unfinished", dimensions: d).record(report.unfinished)
            Gauge(label: "card_stage_oldest_unfinished_seconds", dimensions: d)
                .record(report.oldestUnfinishedSince.map { max(0, now.timeIntervalSince($0)) } ?? 0)
            Gauge(label: "card_stage_finished_recent", dimensions: d).record(report.recentDurations.count)
            for (label, q) in quantiles {
                Gauge(label: "card_stage_time_in_stage_seconds", dimensions: d + [("quantile", label)]).record(report.quantile(q) ?? 0)
            }
        }
    }

    /// Merges per-partition reports by stage, in first-seen stage order.
    static func merge(_ reports: [StageReport]) -> [StageReport] {
        var merged: [String: StageReport] = [:]
        var order: [String] = []
        for report in reports {
            if merged[report.stage] == nil { order.append(report.stage); merged[report.stage] = StageReport(stage: report.stage) }
            merged[report.stage]!.merge(report)
        }
        return order.map { merged[$0]! }
    }
}
