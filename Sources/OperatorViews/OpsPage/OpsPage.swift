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
/// refresh the body in place (no CDN here). The HTML is in `Templates/*.mustache` (swift-mustache),
/// filled from ``OpsPageView``.
///
/// Paths: `/` the page, `/fragment` its body, `/api/state` the same as JSON, `/metrics`
/// `card_lag_time_to_loss_seconds` in Prometheus text format (``OpsCollector``).
package enum OpsPage {
    /// The encoder of `/api/state`: sorted keys, times as ISO 8601 in UTC (`2026-11-30T09:21:00Z`),
    /// not Foundation's default of seconds since 2001.
    package static func stateEncoder() -> JSONEncoder {
        let encoder = CardJSON.encoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

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
            let encoder = stateEncoder()
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

    /// The whole page: `Templates/page.mustache` around ``body(_:)``.
    static func page(_ s: OpsCollector.State) -> String {
        OpsPageTemplates.render(PageView(body: body(s)), template: "page")
    }

    /// The page's body (also `/fragment`): `Templates/body.mustache` over ``OpsPageView``.
    static func body(_ s: OpsCollector.State) -> String {
        OpsPageTemplates.render(OpsPageView(s), template: "body")
    }

    private struct PageView {
        var body: String
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
