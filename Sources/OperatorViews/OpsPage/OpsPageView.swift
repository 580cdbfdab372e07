import CardDomain
import Foundation

/// What the ops page's templates (`Templates/body.mustache`, `chart.mustache`) show: every value
/// already formatted as the page prints it and none escaped (the templates' `{{name}}` escapes
/// `& < > " '`, as ``OpsPage/escape(_:)`` does). Pure: built from one ``OpsCollector/State``.
struct OpsPageView {
    struct GroupRow {
        var group: String
        var status: String
        var lag: String
        var lagSeconds: String
        var throughput: String
        var timeToLoss: String
        var timeToLossBasis: String
        var soonestPartition: String
        var reason: String
    }

    /// An SVG line chart: the frame in pixels and one polyline per series (`x,y x,y …`).
    struct Chart {
        struct Series {
            var name: String
            var color: String
            var points: String
        }

        var id: String
        var title: String
        var width: String
        var height: String
        var left: String
        var plotWidth: String
        var plotHeight: String
        var labelX: String
        var maxY: String
        var series: [Series]
    }

    struct LegendEntry {
        var group: String
        var color: String
    }

    struct StatusRow {
        var status: String
        var count: String
    }

    /// A worker's stage (`reachable`), or one row saying its metrics could not be read.
    struct StageRow {
        var worker: String
        var unreachable: Bool
        var url: String
        var stage: String
        var unfinished: String
        var oldestUnfinished: String
        var p50: String
        var p90: String
        var p99: String
        var parked: String
        var stuck: String
    }

    struct CauseRow {
        var count: String
        var cause: String
    }

    struct AuditRow {
        var at: String
        var action: String
        var deadLetter: String
        var sourceTopic: String
        var operatorName: String
        var reason: String
        var repair: String
    }

    struct DeadLetterRow {
        var id: String
        var at: String
        var worker: String
        var sourceTopic: String
        var partition: String
        var offset: String
        var key: String
        var cause: String
    }

    var updated: String
    var refreshError: String?
    var groups: [GroupRow]
    var charts: [Chart]
    var legend: [LegendEntry]
    var applications: String
    var statuses: [StatusRow]
    var stages: [StageRow]
    var causes: [CauseRow]
    var audit: [AuditRow]
    var deadLetterTotal: String
    var deadLetters: [DeadLetterRow]

    static let palette = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2"]

    init(_ s: OpsCollector.State) {
        updated = s.lag.map { Timestamp($0.at).description } ?? "—"
        refreshError = s.error.map { Masking.redact($0) }
        let groups = s.lag?.groups ?? []
        let colors = Dictionary(uniqueKeysWithValues: groups.enumerated().map { ($0.element.group, Self.palette[$0.offset % Self.palette.count]) })
        let lastRate = s.history.last?.rate ?? [:]
        self.groups = groups.map { g in
            GroupRow(group: g.group, status: g.status.rawValue, lag: String(g.lag),
                     lagSeconds: g.maxLagSeconds.map { String(format: "%.1f", $0) } ?? "0",
                     throughput: String(format: "%.1f", lastRate[g.group] ?? 0),
                     timeToLoss: g.timeToLoss?.text ?? "-", timeToLossBasis: g.timeToLoss?.basis ?? "",
                     soonestPartition: g.timeToLossPartition ?? "", reason: g.reason ?? "")
        }

        let minutes = Self.minutes(s.history)
        // ∞ and not-yet-measured sit at the cap: the chart is for what is near.
        let cap = 120.0
        charts = [
            Self.chart(id: "lag-chart", title: "lag (messages), last \(minutes) min", series: groups.map { g in
                (g.group, colors[g.group]!, s.history.map { ($0.at, Double($0.lag[g.group] ?? 0)) })
            }),
            Self.chart(id: "rate-chart", title: "throughput (messages/s), last \(minutes) min", series: groups.map { g in
                (g.group, colors[g.group]!, s.history.map { ($0.at, $0.rate[g.group] ?? 0) })
            }),
            Self.chart(id: "loss-chart", title: "time to data loss (minutes, soonest partition; capped at \(Int(cap)))", series: groups.map { g in
                (g.group, colors[g.group]!, s.history.map { ($0.at, min(cap, ($0.timeToLoss[g.group] ?? .infinity) / 60)) })
            }),
        ]
        legend = groups.map { LegendEntry(group: $0.group, color: colors[$0.group]!) }

        applications = String(s.applications)
        statuses = ApplicationStatus.allCases.map { StatusRow(status: $0.rawValue, count: String(s.statusCounts[$0.rawValue] ?? 0)) }

        stages = s.workers.flatMap { w -> [StageRow] in
            guard w.reachable else {
                return [StageRow(worker: w.worker, unreachable: true, url: w.url, stage: "", unfinished: "", oldestUnfinished: "",
                                 p50: "", p90: "", p99: "", parked: "", stuck: "")]
            }
            let stages = Set(w.values.keys.compactMap { key -> String? in
                guard key.hasPrefix("card_stage_unfinished{"), let r = key.range(of: "stage=\"") else { return nil }
                return String(key[r.upperBound...].prefix { $0 != "\"" })
            }).sorted()
            return (stages.isEmpty ? [w.worker] : stages).map { stage in
                func v(_ name: String, _ extra: [String: String] = [:]) -> String {
                    PrometheusText.value(w.values, name, ["stage": stage].merging(extra) { $1 }).map { String(format: $0 == $0.rounded() ? "%.0f" : "%.2f", $0) } ?? "—"
                }
                return StageRow(
                    worker: w.worker, unreachable: false, url: w.url, stage: stage,
                    unfinished: v("card_stage_unfinished"), oldestUnfinished: v("card_stage_oldest_unfinished_seconds"),
                    p50: v("card_stage_time_in_stage_seconds", ["quantile": "0.5"]),
                    p90: v("card_stage_time_in_stage_seconds", ["quantile": "0.9"]),
                    p99: v("card_stage_time_in_stage_seconds", ["quantile": "0.99"]),
                    parked: PrometheusText.value(w.values, "card_worker_parked_messages", [:]).map { String(Int($0)) } ?? "—",
                    stuck: PrometheusText.value(w.values, "card_worker_stuck_partitions", [:]).map { String(Int($0)) } ?? "—")
            }
        }

        causes = s.deadLetterCauses.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }).map { CauseRow(count: String($0.value), cause: $0.key) }
        audit = s.audit.map { a in
            AuditRow(at: a.at, action: a.action, deadLetter: a.deadLetter, sourceTopic: a.sourceTopic,
                     operatorName: a.operatorName, reason: a.reason, repair: (a.patch ?? []).joined(separator: "; "))
        }
        deadLetterTotal = String(s.deadLetterTotal)
        deadLetters = s.deadLetters.map { d in
            DeadLetterRow(id: d.id, at: d.at, worker: d.worker, sourceTopic: d.sourceTopic, partition: String(d.partition),
                          offset: String(d.offset), key: d.key ?? "—", cause: d.cause)
        }
    }

    private static func minutes(_ history: [OpsCollector.Point]) -> Int {
        guard let first = history.first, let last = history.last else { return 0 }
        return Int((last.at.timeIntervalSince(first.at) / 60).rounded(.up))
    }

    /// Scales the series into a 520×180 frame with a 50 px label column and a 20 px base.
    static func chart(id: String, title: String, series: [(name: String, color: String, points: [(Date, Double)])]) -> Chart {
        let width = 520.0, height = 180.0, left = 50.0, bottom = 20.0
        let all = series.flatMap(\.points)
        let maxY = max(all.map(\.1).max() ?? 0, 1)
        let minX = all.map(\.0).min() ?? Date(), maxX = all.map(\.0).max() ?? Date()
        let spanX = max(maxX.timeIntervalSince(minX), 1)
        return Chart(
            id: id, title: title, width: String(Int(width)), height: String(Int(height)), left: "\(left)",
            plotWidth: "\(width - left)", plotHeight: "\(height - bottom)", labelX: "\(left - 4)", maxY: format(maxY),
            series: series.filter { !$0.points.isEmpty }.map { s in
                let coords = s.points.map { point -> String in
                    let x = left + (point.0.timeIntervalSince(minX) / spanX) * (width - left - 4)
                    let y = (height - bottom) - (point.1 / maxY) * (height - bottom - 4)
                    return String(format: "%.1f,%.1f", x, y)
                }
                return Chart.Series(name: s.name, color: s.color, points: coords.joined(separator: " "))
            })
    }

    private static func format(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }
}
