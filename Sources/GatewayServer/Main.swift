import ArgumentParser
import CardDomain
import Foundation
import Gateway
import Kafka
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import WorkerCLI
import WorkerRuntime

/// `gateway`: the portals' HTTP gateway. Flags and environment are read here; everything else is in `Gateway`.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "The portals' HTTP gateway: 资格校验, submissions, status, catalogues and branches (OpenAPI at /openapi.json).",
        discussion: """
            Keys: one per channel, as channel=key items (hrss_web, jingtong, minsheng) separated by commas or new lines, \
            from --keys, CARD_GATEWAY_KEYS, --keys-file or CARD_GATEWAY_KEYS_FILE. A key is at least 16 characters.
            """)

    @Option(help: "Kafka bootstrap servers (host:port,…). Env: CARD_BROKERS. Default: read from --bootstrap-file.")
    var brokers: String?
    @Option(help: "File holding the bootstrap list the embedded broker publishes. Env: CARD_BOOTSTRAP_FILE. Default: run/bootstrap.")
    var bootstrapFile: String?
    @Option(help: "Address to listen on. Env: CARD_GATEWAY_HOST. Default 127.0.0.1 (this host only); containers set 0.0.0.0.")
    var host: String?
    @Option(help: "Port to listen on. Env: CARD_GATEWAY_PORT. Default 8090.")
    var port: Int?
    @Option(help: "API keys as channel=key,… Env: CARD_GATEWAY_KEYS. Prefer the environment or a file: flags show in ps.")
    var keys: String?
    @Option(help: "File of channel=key lines. Env: CARD_GATEWAY_KEYS_FILE.")
    var keysFile: String?
    @Option(help: "Sustained requests per second per key. Env: CARD_GATEWAY_RATE. Default 50.")
    var rate: Double?
    @Option(help: "Requests a key may make at once above its rate. Env: CARD_GATEWAY_BURST. Default 100.")
    var burst: Int?
    @Option(help: "Largest request body in bytes (413 above). Env: CARD_GATEWAY_MAX_BODY_BYTES. Default 262144.")
    var maxBodyBytes: Int?
    @Option(help: "Largest upload (PUT /v1/uploads) in bytes. Env: CARD_GATEWAY_MAX_UPLOAD_BYTES. Default 9175040 (8.75 MiB).")
    var maxUploadBytes: Int?
    @Option(help: "Folder standing in for object storage: the bytes behind claim checks. Env: CARD_GATEWAY_UPLOADS_DIR. Default run/uploads.")
    var uploadsDir: String?
    @Flag(help: "Serve the reference portal pages (/, /portal/<channel>) with same-origin sessions instead of keys in the browser. Env: CARD_GATEWAY_PAGES=1. Refused unless --host is a loopback address.")
    var pages = false
    @Option(name: .customLong("kafka-property"), parsing: .singleValue,
            help: "Raw librdkafka property key=value, repeatable. Env: CARD_KAFKA_<KEY with dots as _>.")
    var kafkaProperties: [String] = []
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. Env: CARD_LOG_LEVEL.")
    var logLevel: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let level = (logLevel ?? environment["CARD_LOG_LEVEL"]).flatMap(Logger.Level.init(rawValue:)) ?? .info
        WorkerMain.bootstrapMaskedLogging(level: level)
        let logger = Logger(label: "card.gateway")

        let servers = try WorkerOptions.bootstrapServers(brokers: brokers, bootstrapFile: bootstrapFile, environment: environment)
        let client = KafkaClientConfiguration(
            bootstrapServers: servers, clientID: "card-gateway",
            extraProperties: try WorkerOptions.librdkafkaProperties(environment: environment, flags: kafkaProperties))

        var configuration = GatewayConfiguration(keys: try resolvedKeys(environment))
        if let rate = rate ?? environment["CARD_GATEWAY_RATE"].flatMap(Double.init) {
            guard rate > 0 else { throw ValidationError("--rate must be positive") }
            configuration.requestsPerSecond = rate
        }
        if let burst = burst ?? environment["CARD_GATEWAY_BURST"].flatMap(Int.init) {
            guard burst >= 1 else { throw ValidationError("--burst must be at least 1") }
            configuration.burst = burst
        }
        if let limit = maxBodyBytes ?? environment["CARD_GATEWAY_MAX_BODY_BYTES"].flatMap(Int.init) {
            guard limit >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
            configuration.maxBodyBytes = limit
        }
        if let limit = maxUploadBytes ?? environment["CARD_GATEWAY_MAX_UPLOAD_BYTES"].flatMap(Int.init) {
            guard limit >= 1024 else { throw ValidationError("--max-upload-bytes must be at least 1024") }
            configuration.maxUploadBytes = limit
        }
        configuration.uploads = UploadStore(directory: URL(fileURLWithPath: uploadsDir ?? environment["CARD_GATEWAY_UPLOADS_DIR"] ?? "run/uploads"))
        let listenHost = host ?? environment["CARD_GATEWAY_HOST"] ?? "127.0.0.1"
        if pages || environment["CARD_GATEWAY_PAGES"] == "1" {
            // A page session stands in for a portal's login: fine for a developer's own machine, not for a network.
            guard Self.isLoopback(listenHost) else {
                throw ValidationError("--pages serves the reference pages on a loopback address only (127.0.0.1, ::1, localhost); --host is \(listenHost)")
            }
            configuration.pages = (try await PortalPages.load(), PageSessions())
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        configuration.metrics = registry
        let listenPort = port ?? environment["CARD_GATEWAY_PORT"].flatMap(Int.init) ?? 8090

        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client), logger: logger)
        let channels = configuration.keys.channels.map(\.rawValue).sorted().joined(separator: ",")
        let pagesOn = configuration.pages != nil
        let views = GatewayViews()
        let feeder = ViewFeeder(client: client, views: views, logger: logger)
        let app = GatewayApplication.make(
            host: listenHost, port: listenPort, configuration: configuration, views: views,
            publisher: KafkaSubmissionPublisher(producer: producer), logger: logger,
            onListening: { port in
                logger.info("gateway listening", metadata: [
                    "url": "http://\(listenHost):\(port)/", "channels": "\(channels)",
                    "pages": "\(!pagesOn ? "off" : "http://\(listenHost):\(port)/portal/{hrss_web,jingtong,minsheng}")"])
            })
        ParentWatch.start(logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: feeder, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: app, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        try? producer.flush(timeout: .seconds(10))
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    private func resolvedKeys(_ environment: [String: String]) throws -> APIKeys {
        var text = keys ?? environment["CARD_GATEWAY_KEYS"]
        if text == nil, let path = keysFile ?? environment["CARD_GATEWAY_KEYS_FILE"] {
            guard let contents = WorkerOptions.readTrimmedFile(path) else { throw ValidationError("cannot read the keys file \(path)") }
            text = contents
        }
        guard let text else {
            throw ValidationError("no API keys: set CARD_GATEWAY_KEYS (channel=key,…) or CARD_GATEWAY_KEYS_FILE, or pass --keys/--keys-file")
        }
        do {
            let parsed = try APIKeys.parse(text)
            guard !parsed.isEmpty else { throw ValidationError("no API keys in the configuration") }
            return parsed
        } catch let error as APIKeysError {
            throw ValidationError(error.description)
        }
    }
}
