import ArgumentParser
import CardDomain
import CardWorkers
import Foundation
import FleetSupport
import Kafka
import Logging
import OperatorViews
import ServiceLifecycle
import WorkerRuntime

/// `fleet up`: the embedded broker (or an existing Kafka), the topics, the four workers, and a live summary.
package struct Up: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Run the whole pipeline: embedded broker, topics, the four workers (restarted if they die), and a live summary.",
        discussion: """
            Without --brokers, hosts librdkafka's mock cluster in this process and publishes its address in <run-dir>/bootstrap. \
            With --demo, also seeds reference data, runs a simulated bank and streams generated submissions. Ctrl-C stops everything gracefully.
            """)

    @Option(help: "Use an existing Kafka (host:port,…) instead of the embedded broker.") var brokers: String?
    @Option(help: "Run folder: bootstrap list, worker state, logs.") var runDir = "run"
    @Option(help: "Folder of topic specs; default: ./Topics or the repository's.") var topicsDir: String?
    @Flag(help: "Seed demo data, run the simulated bank and stream generated submissions.") var demo = false
    @Option(help: "With --demo: submissions to generate.") var submissions = 20_000
    @Option(help: "With --demo: submissions per second.") var rate = 200
    @Option(help: "Identity worker's registry grace period in seconds.") var registryGraceSeconds = 600.0
    @Option(help: "Port of the ops web page (lag, throughput, statuses, stages, dead letters); 0: off.") var opsPort = 8080
    @Option(help: "First of the workers' /metrics, /healthz, /readyz ports (intake, identity, routing, production take it and the next three); 0: off.")
    var workerOpsPort = 9101
    @Option(help: "Address the ops page and the workers' ops endpoints listen on. Default 127.0.0.1: this host only (dead-letter causes and metrics are not for the whole network); 0.0.0.0 publishes them.")
    var opsHost = "127.0.0.1"
    @Option(help: "Token the ops page requires (HTTP Basic password or Bearer); default: env CARD_OPS_TOKEN, else none.")
    var opsToken: String?
    @Option(help: "Port of the portals' HTTP gateway (`gateway`); 0: off.") var gatewayPort = 8090
    @Option(help: "Address the gateway listens on. Default 127.0.0.1: this host only; 0.0.0.0 publishes it.")
    var gatewayHost = "127.0.0.1"

    package init() {}

    package func run() async throws {
        let logger = Logger(label: "card.fleet")
        let runURL = URL(fileURLWithPath: runDir)
        try FileManager.default.createDirectory(at: runURL, withIntermediateDirectories: true)
        let specs = try TopicCatalog.load(from: try locateTopicsDirectory(topicsDir))

        // MARK: Broker and topics
        var cluster: EmbeddedCluster?
        let servers: String
        if let brokers {
            servers = brokers
            let admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: brokers), logger: logger)
            try await offload { try admin.createTopics(specs) }
        } else {
            // The embedded broker keeps nothing on disk: it starts empty, and the last run's worker
            // state (offsets into partitions that no longer exist) would stop every worker with
            // OFFSET GAP. Keep one previous run for inspection; the workers start fresh.
            try Self.moveAsidePreviousState(in: runURL)
            let embedded = try EmbeddedCluster(logger: logger)
            for spec in specs { try embedded.createTopic(spec) }
            cluster = embedded
            servers = embedded.bootstrapServers
        }
        let bootstrapFile = runURL.appendingPathComponent("bootstrap")
        try Data((servers + "\n").utf8).write(to: bootstrapFile, options: .atomic)
        Terminal.say("broker: \(servers)\(cluster == nil ? "" : " (embedded; written to \(bootstrapFile.path))"), \(specs.count) topics")

        // MARK: Children
        let fleet = BuildProducts.executable("fleet")
        let workers: [(name: String, handler: any WorkerHandler)] = [
            ("intake", IntakeHandler()), ("identity", IdentityHandler()), ("routing", RoutingHandler()), ("production", ProductionHandler()),
        ]
        let workerOpsPorts = Dictionary(uniqueKeysWithValues: workers.enumerated().map { ($0.element.name, workerOpsPort > 0 ? workerOpsPort + $0.offset : 0) })
        var children = workers.map { worker in
            var arguments = ["--brokers", servers, "--state-dir", runURL.appendingPathComponent("state/\(worker.name)").path,
                             "--ops-port", "\(workerOpsPorts[worker.name] ?? 0)", "--ops-host", opsHost]
            if worker.name == "identity" { arguments += ["--registry-grace-seconds", "\(registryGraceSeconds)"] }
            return ChildSpec(name: worker.name, executable: BuildProducts.executable("\(worker.name)-worker"), arguments: arguments)
        }
        var gatewayLine = ""
        if gatewayPort > 0 {
            let access = try GatewayAccess.prepare(runDirectory: runURL)
            children.append(ChildSpec(
                name: "gateway", executable: BuildProducts.executable("gateway"),
                arguments: ["--brokers", servers, "--host", gatewayHost, "--port", "\(gatewayPort)",
                            "--uploads-dir", runURL.appendingPathComponent("uploads").path]
                    // The reference portal pages (issue 15) with --demo, on loopback only (the gateway refuses otherwise).
                    + (demo && (gatewayHost.hasPrefix("127.") || gatewayHost == "localhost" || gatewayHost == "::1") ? ["--pages"] : []),
                environment: access.environment))
            let url = "http://\(gatewayHost == "0.0.0.0" ? "127.0.0.1" : gatewayHost):\(gatewayPort)/"
            Terminal.say("gateway: \(url)  (OpenAPI: \(url)openapi.json)")
            Terminal.say(access.description)
            gatewayLine = "\n     gateway: \(url)v1/…  (keys: \(access.source))"
        }
        if demo {
            children.append(ChildSpec(name: "seed", executable: fleet, arguments: ["seed", "--brokers", servers], restart: false))
            children.append(ChildSpec(name: "bank", executable: fleet, arguments: ["bank", "--brokers", servers], after: "seed"))
            children.append(ChildSpec(name: "submit", executable: fleet,
                                      arguments: ["submit", "--brokers", servers, "--generate", "\(submissions)", "--rate", "\(rate)"],
                                      restart: false, after: "seed"))
        }
        let supervisor = Supervisor(specs: children, logDirectory: runURL.appendingPathComponent("logs"), logger: logger)
        let dashboard = Dashboard(
            bootstrapServers: servers,
            workers: workers.map { Dashboard.Worker(name: $0.name, group: "card-\($0.name)", topics: $0.handler.inputTopics) },
            supervisor: supervisor,
            hint: """
                try: fleet status <application_id>   ·   fleet lag   ·   fleet submit --generate 100   ·   logs in \(runDir)/logs/\(gatewayLine)\(opsPort > 0 ? "\n     ops page: http://\(opsHost == "0.0.0.0" ? "127.0.0.1" : opsHost):\(opsPort)/" : "")
                Ctrl-C stops everything gracefully.
                """,
            logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: supervisor, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: dashboard, successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if opsPort > 0 {
            let collector = OpsCollector(
                bootstrapServers: servers, groups: ConsumerGroupSpec.workers,
                workerMetrics: workers.compactMap { w in
                    workerOpsPorts[w.name].flatMap { $0 > 0 ? URL(string: "http://127.0.0.1:\($0)/metrics") : nil }.map { (w.name, $0) }
                },
                logger: logger)
            services.append(.init(service: collector))
            services.append(.init(service: OpsPage.application(host: opsHost, port: opsPort, collector: collector,
                                                          token: opsToken ?? ProcessInfo.processInfo.environment["CARD_OPS_TOKEN"], logger: logger),
                                  failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        let group = ServiceGroup(configuration: .init(
            services: services,
            // SIGHUP: a closed terminal stops the fleet and its children like Ctrl-C does.
            gracefulShutdownSignals: [.sigterm, .sigint, .sighup],
            logger: logger))
        try await group.run()
        try? FileManager.default.removeItem(at: bootstrapFile)
        withExtendedLifetime(cluster) {}
        Terminal.say("fleet stopped")
    }

    /// The gateway's API keys for a `fleet up` run: the operator's (`CARD_GATEWAY_KEYS` or
    /// `CARD_GATEWAY_KEYS_FILE`, inherited by the child), else fresh demo keys written to
    /// `<run>/gateway-keys` (owner-only) and printed, so a portal developer can call at once.
    struct GatewayAccess {
        var environment: [String: String]?
        var source: String
        var description: String

        static func prepare(runDirectory: URL, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> GatewayAccess {
            if environment["CARD_GATEWAY_KEYS"] != nil || environment["CARD_GATEWAY_KEYS_FILE"] != nil {
                return GatewayAccess(environment: nil, source: "from CARD_GATEWAY_KEYS*", description: "gateway keys: from the environment (CARD_GATEWAY_KEYS / CARD_GATEWAY_KEYS_FILE)")
            }
            let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
            let lines = Channel.allCases.map { channel in
                "\(channel.rawValue)=demo-\(channel.rawValue)-" + String((0..<24).map { _ in alphabet.randomElement()! })
            }
            let file = runDirectory.appendingPathComponent("gateway-keys")
            // Created owner-only from the start: the keys are never readable by others, even briefly.
            try? FileManager.default.removeItem(at: file)
            guard FileManager.default.createFile(atPath: file.path, contents: Data((lines.joined(separator: "\n") + "\n").utf8),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw ValidationError("cannot write the gateway's demo keys to \(file.path)")
            }
            return GatewayAccess(
                environment: ["CARD_GATEWAY_KEYS_FILE": file.path], source: file.path,
                description: "gateway demo keys (this run only, in \(file.path); send as Authorization: Bearer <key>):\n"
                    + lines.map { "  " + $0.replacingOccurrences(of: "=", with: "  ") }.joined(separator: "\n"))
        }
    }

    /// Moves `<run>/state` to `<run>/state.previous` (replacing an older one) when it holds anything.
    static func moveAsidePreviousState(in runURL: URL) throws {
        let files = FileManager.default
        let state = runURL.appendingPathComponent("state")
        guard let contents = try? files.contentsOfDirectory(atPath: state.path), !contents.isEmpty else { return }
        // State bound to a real cluster (an earlier `fleet up --brokers` in this run folder) is not the
        // embedded broker's to discard: refuse instead of moving it where a later run would delete it.
        for worker in contents {
            guard let id = ClusterBinding.boundClusterID(of: state.appendingPathComponent(worker)) else { continue }
            if !EmbeddedCluster.isEmbedded(clusterID: id) {
                throw ValidationError("\(state.path) holds worker state of Kafka cluster \(id), not of an embedded broker: "
                    + "pass another --run-dir, or move it aside yourself (mv \(state.path) \(state.path).\(id))")
            }
        }
        let previous = runURL.appendingPathComponent("state.previous")
        try? files.removeItem(at: previous)
        try files.moveItem(at: state, to: previous)
        Terminal.say("embedded broker starts empty: the last run's worker state moved to \(previous.path)")
    }
}
