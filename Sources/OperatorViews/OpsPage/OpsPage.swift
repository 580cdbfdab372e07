import ArgumentParser
import CardDomain
import Foundation
import FleetSupport
import Hummingbird
import JSONCodec
import Logging
import ServiceLifecycle

/// The ops web page: lag and throughput charts per worker, lag statuses, applications per status,
/// stage gauges from the workers, time to data loss per group (table and chart), and dead letters
/// with their (masked) causes. Self-contained: inline SVG and a few lines of inline script that
/// refresh the body in place (no CDN here).
///
/// Paths: `/` the page, `/fragment` its body, `/api/state` the same as JSON, `/metrics`
/// `card_lag_time_to_loss_seconds` in Prometheus text format (``OpsCollector``).
package enum OpsPage {
    /// - Parameter token: when set, every path needs it (``OpsAccessToken``).
    static func router(collector: OpsCollector, token: String? = nil) -> Router<BasicRequestContext> {
        let router = Router()
        if let token, !token.isEmpty { router.add(middleware: OpsAccessToken(token: token)) }
        router.get("/") { _, _ in html(page(collector.snapshot)) }
        router.get("/fragment") { _, _ in html(body(collector.snapshot)) }
        router.get("/metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            collector.metricsRegistry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("/api/state") { _, _ -> Response in
            let s = collector.snapshot
            let encoder = CardJSON.encoder()
            encoder.outputFormatting = [.sortedKeys]
            let payload = StateJSON(lag: s.lag, statuses: s.statusCounts, applications: s.applications,
                                    deadLetters: s.deadLetters, deadLetterCauses: s.deadLetterCauses, audit: s.audit,
                                    workers: s.workers, history: s.history)
            let data = (try? encoder.encode(payload)) ?? Data("{}".utf8)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        return router
    }

    struct StateJSON: Encodable {
        var lag: LagReport?
        var statuses: [String: Int]
        var applications: Int
        var deadLetters: [OpsCollector.DeadLetterRow]
        var deadLetterCauses: [String: Int]
        var audit: [OpsCollector.AuditRow]
        var workers: [OpsCollector.WorkerGauges]
        var history: [OpsCollector.Point]
        enum CodingKeys: String, CodingKey {
            case lag, statuses, applications, workers, history, audit = "dlq_audit"
            case deadLetters = "dead_letters", deadLetterCauses = "dead_letter_causes"
        }
    }

    package static func application(host: String, port: Int, collector: OpsCollector, token: String? = nil, logger: Logger,
                            onListening: @escaping @Sendable (Int) -> Void = { _ in }) -> some Service {
        Application(router: router(collector: collector, token: token), configuration: .init(address: .hostname(host, port: port), serverName: "card-fleet-ops"),
                    onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }

    private static func html(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: - Rendering

    static let palette = ["#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2"]

    static func page(_ s: OpsCollector.State) -> String {
        """
        <!DOCTYPE html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>card pipeline ops</title>
        <style>
        body{font:14px system-ui,sans-serif;margin:16px;color:#111}
        h1{font-size:18px;margin:0 0 8px}h2{font-size:15px;margin:18px 0 6px}
        table{border-collapse:collapse;margin-bottom:8px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
        th{background:#f3f4f6}.num{text-align:right}.status{font-weight:bold}
        .OK{color:#15803d}.WARN{color:#b45309}.STALL,.STOP{color:#c2410c}.ERROR{color:#b91c1c}
        .charts{display:flex;gap:24px;flex-wrap:wrap}.legend span{margin-right:12px}.muted{color:#666}
        </style></head>
        <body><div id="content">\(body(s))</div>
        <script>
        setInterval(function(){fetch('/fragment').then(function(r){return r.text()}).then(function(t){document.getElementById('content').innerHTML=t}).catch(function(){})},3000);
        </script></body></html>
        """
    }

    static func body(_ s: OpsCollector.State) -> String {
        var out = "<h1>北京市第三代社会保障卡 · card pipeline ops</h1>"
        out += "<p class=\"muted\" id=\"updated\">updated \(s.lag.map { Timestamp($0.at).description } ?? "—")\(s.error.map { " · refresh failed: " + escape(Masking.redact($0)) } ?? "")</p>"
        let groups = s.lag?.groups ?? []
        let colors = Dictionary(uniqueKeysWithValues: groups.enumerated().map { ($0.element.group, palette[$0.offset % palette.count]) })
        let lastRate = s.history.last?.rate ?? [:]

        out += "<h2>Workers: lag and status</h2><table id=\"groups\"><tr><th>group</th><th>status</th><th>lag (messages)</th><th>lag (seconds)</th><th>throughput (msg/s)</th><th>time to loss</th><th>soonest partition</th><th>reason</th></tr>"
        for g in groups {
            out += "<tr data-group=\"\(escape(g.group))\"><td>\(escape(g.group))</td><td class=\"status \(g.status.rawValue)\">\(g.status.rawValue)</td>"
            out += "<td class=\"num\">\(g.lag)</td><td class=\"num\">\(g.maxLagSeconds.map { String(format: "%.1f", $0) } ?? "0")</td>"
            out += "<td class=\"num\">\(String(format: "%.1f", lastRate[g.group] ?? 0))</td>"
            out += "<td class=\"num ttl\" title=\"\(escape(g.timeToLoss?.basis ?? ""))\">\(escape(g.timeToLoss?.text ?? "-"))</td>"
            out += "<td>\(escape(g.timeToLossPartition ?? ""))</td><td>\(escape(g.reason ?? ""))</td></tr>"
        }
        out += "</table>"

        out += "<div class=\"charts\">"
        out += chart(id: "lag-chart", title: "lag (messages), last \(minutes(s.history)) min", series: groups.map { g in
            (g.group, colors[g.group]!, s.history.map { ($0.at, Double($0.lag[g.group] ?? 0)) })
        })
        out += chart(id: "rate-chart", title: "throughput (messages/s), last \(minutes(s.history)) min", series: groups.map { g in
            (g.group, colors[g.group]!, s.history.map { ($0.at, $0.rate[g.group] ?? 0) })
        })
        // ∞ and not-yet-measured sit at the cap: the chart is for what is near.
        let cap = 120.0
        out += chart(id: "loss-chart", title: "time to data loss (minutes, soonest partition; capped at \(Int(cap)))", series: groups.map { g in
            (g.group, colors[g.group]!, s.history.map { ($0.at, min(cap, ($0.timeToLoss[g.group] ?? .infinity) / 60)) })
        })
        out += "</div><div class=\"legend\">" + groups.map { "<span style=\"color:\(colors[$0.group]!)\">■ \(escape($0.group))</span>" }.joined() + "</div>"

        out += "<h2>Applications by current status (\(s.applications))</h2><table id=\"statuses\"><tr><th>status</th><th>applications</th></tr>"
        for status in ApplicationStatus.allCases {
            out += "<tr data-status=\"\(status.rawValue)\"><td>\(status.rawValue)</td><td class=\"num\">\(s.statusCounts[status.rawValue] ?? 0)</td></tr>"
        }
        out += "</table>"

        out += "<h2>Stages (from the workers' own state)</h2><table id=\"stages\"><tr><th>worker</th><th>stage</th><th>unfinished</th><th>oldest unfinished (s)</th><th>p50 (s)</th><th>p90 (s)</th><th>p99 (s)</th><th>parked</th><th>stuck partitions</th></tr>"
        for w in s.workers {
            guard w.reachable else {
                out += "<tr><td>\(escape(w.worker))</td><td colspan=\"8\" class=\"muted\">metrics unreachable at \(escape(w.url))</td></tr>"
                continue
            }
            let stages = Set(w.values.keys.compactMap { key -> String? in
                guard key.hasPrefix("card_stage_unfinished{"), let r = key.range(of: "stage=\"") else { return nil }
                return String(key[r.upperBound...].prefix { $0 != "\"" })
            }).sorted()
            for stage in stages.isEmpty ? [w.worker] : stages {
                func v(_ name: String, _ extra: [String: String] = [:]) -> String {
                    PrometheusText.value(w.values, name, ["stage": stage].merging(extra) { $1 }).map { String(format: $0 == $0.rounded() ? "%.0f" : "%.2f", $0) } ?? "—"
                }
                out += "<tr data-worker=\"\(escape(w.worker))\"><td>\(escape(w.worker))</td><td>\(escape(stage))</td><td class=\"num\">\(v("card_stage_unfinished"))</td>"
                out += "<td class=\"num\">\(v("card_stage_oldest_unfinished_seconds"))</td>"
                out += ["0.5", "0.9", "0.99"].map { "<td class=\"num\">\(v("card_stage_time_in_stage_seconds", ["quantile": $0]))</td>" }.joined()
                let parked = PrometheusText.value(w.values, "card_worker_parked_messages", [:]).map { String(Int($0)) } ?? "—"
                let stuck = PrometheusText.value(w.values, "card_worker_stuck_partitions", [:]).map { String(Int($0)) } ?? "—"
                out += "<td class=\"num\">\(parked)</td><td class=\"num\">\(stuck)</td></tr>"
            }
        }
        if s.workers.isEmpty { out += "<tr><td colspan=\"9\" class=\"muted\">no worker metrics configured (--worker-metrics name=url)</td></tr>" }
        out += "</table>"

        out += "<h2>Dead letters by cause</h2><table id=\"dead-letter-causes\"><tr><th>count</th><th>cause</th></tr>"
        for (cause, count) in s.deadLetterCauses.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
            out += "<tr><td class=\"num\">\(count)</td><td class=\"cause\">\(escape(cause))</td></tr>"
        }
        if s.deadLetterCauses.isEmpty { out += "<tr><td colspan=\"2\" class=\"muted\">none</td></tr>" }
        out += "</table>"
        out += "<h2>Replays and reveals (newest first; fleet dlq)</h2><table id=\"dlq-audit\"><tr><th>at</th><th>action</th><th>dead letter</th><th>source</th><th>operator</th><th>reason</th><th>repair</th></tr>"
        for a in s.audit {
            out += "<tr><td>\(escape(a.at))</td><td>\(escape(a.action))</td><td>\(escape(a.deadLetter))</td><td>\(escape(a.sourceTopic))</td>"
            out += "<td>\(escape(a.operatorName))</td><td class=\"cause\">\(escape(a.reason))</td><td class=\"cause\">\(escape((a.patch ?? []).joined(separator: "; ")))</td></tr>"
        }
        if s.audit.isEmpty { out += "<tr><td colspan=\"7\" class=\"muted\">none</td></tr>" }
        out += "</table>"

        out += "<h2>Dead letters (\(s.deadLetterTotal), newest first)</h2><table id=\"dead-letters\"><tr><th>id</th><th>at</th><th>worker</th><th>source</th><th>key</th><th>cause</th></tr>"
        for d in s.deadLetters {
            out += "<tr><td>\(escape(d.id))</td><td>\(escape(d.at))</td><td>\(escape(d.worker))</td><td>\(escape(d.sourceTopic))[\(d.partition)]@\(d.offset)</td>"
            out += "<td>\(escape(d.key ?? "—"))</td><td class=\"cause\">\(escape(d.cause))</td></tr>"
        }
        out += "</table>"
        return out
    }

    private static func minutes(_ history: [OpsCollector.Point]) -> Int {
        guard let first = history.first, let last = history.last else { return 0 }
        return Int((last.at.timeIntervalSince(first.at) / 60).rounded(.up))
    }

    /// A line chart as inline SVG: one polyline per series, scaled to the largest value.
    static func chart(id: String, title: String, series: [(name: String, color: String, points: [(Date, Double)])]) -> String {
        let width = 520.0, height = 180.0, left = 50.0, bottom = 20.0
        let all = series.flatMap(\.points)
        let maxY = max(all.map(\.1).max() ?? 0, 1)
        let minX = all.map(\.0).min() ?? Date(), maxX = all.map(\.0).max() ?? Date()
        let spanX = max(maxX.timeIntervalSince(minX), 1)
        var svg = "<figure><figcaption>\(escape(title))</figcaption><svg id=\"\(id)\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" xmlns=\"http://www.w3.org/2000/svg\">"
        svg += "<rect x=\"\(left)\" y=\"0\" width=\"\(width - left)\" height=\"\(height - bottom)\" fill=\"#fafafa\" stroke=\"#ddd\"/>"
        svg += "<text x=\"\(left - 4)\" y=\"12\" font-size=\"11\" text-anchor=\"end\">\(format(maxY))</text>"
        svg += "<text x=\"\(left - 4)\" y=\"\(height - bottom)\" font-size=\"11\" text-anchor=\"end\">0</text>"
        for s in series where !s.points.isEmpty {
            let coords = s.points.map { point -> String in
                let x = left + (point.0.timeIntervalSince(minX) / spanX) * (width - left - 4)
                let y = (height - bottom) - (point.1 / maxY) * (height - bottom - 4)
                return String(format: "%.1f,%.1f", x, y)
            }
            svg += "<polyline data-series=\"\(escape(s.name))\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\" points=\"\(coords.joined(separator: " "))\"/>"
        }
        svg += "</svg></figure>"
        return svg
    }

    private static func format(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
}

/// `fleet ops`: the ops page against any cluster.
package struct OpsCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "Serve the ops web page (lag, throughput, statuses, stages, dead letters) for any cluster.",
        discussion: "Open http://HOST:PORT/ in a browser; /api/state has the same as JSON. Ctrl-C stops it.")

    @Option(help: "Bootstrap servers; default: the embedded broker's <run-dir>/bootstrap.") var brokers: String?
    @Option(help: "Run folder of the embedded broker.") var runDir = "run"
    @Option(help: "Port of the page.") var opsPort = 8080
    @Option(help: "Address to listen on. Default 127.0.0.1: this host only.") var opsHost = "127.0.0.1"
    @Option(help: "Token the page requires (HTTP Basic password or Bearer); default: env CARD_OPS_TOKEN, else none.") var opsToken: String?
    @Option(name: .customLong("group"), help: "A group to watch as group=topic,topic (repeatable). Default: the four workers' groups.")
    var groups: [String] = []
    @Option(name: .customLong("worker-metrics"), help: "A worker's metrics as name=http://host:port/metrics (repeatable).")
    var workerMetrics: [String] = []
    @Option(help: "Seconds between refreshes.") var interval = 2.0
    @Option(help: "Seconds a waiting message may age with no commit before a group is STOP.") var stopAfter = 120.0
    @Option(help: "Seconds: a partition whose oldest unread message retention deletes sooner than this is WARN (the alert in deploy/alerts.yml uses its own threshold).")
    var lossWarning = 3600.0

    package init() {}

    package func run() async throws {
        let servers = try brokers ?? BrokerList.embedded(runDir: runDir)
        let specs = try ConsumerGroupSpec.parseOption(groups)
        let metrics = try workerMetrics.map { text -> (name: String, url: URL) in
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let url = URL(string: parts[1]) else { throw ValidationError("--worker-metrics needs name=url, got \(text)") }
            return (parts[0], url)
        }
        let logger = Logger(label: "card.ops")
        let collector = OpsCollector(bootstrapServers: servers, groups: specs, workerMetrics: metrics,
                                     interval: .milliseconds(Int64(interval * 1000)),
                                     rules: LagRules(window: .seconds(30), stopAfter: .milliseconds(Int64(stopAfter * 1000)),
                                                     timeToLossWarning: .milliseconds(Int64(lossWarning * 1000))),
                                     logger: logger)
        let host = opsHost
        let token = opsToken ?? ProcessInfo.processInfo.environment["CARD_OPS_TOKEN"]
        let app = OpsPage.application(host: host, port: opsPort, collector: collector, token: token, logger: logger) { port in
            Terminal.say("ops page: http://\(host):\(port)/")
        }
        try await ServiceGroup(configuration: .init(
            services: [.init(service: collector), .init(service: app)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }
}
