import ArgumentParser
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Synchronization
import WorkerRuntime

/// The options every worker executable shares. Each may also come from the environment
/// (`CARD_BROKERS`, `CARD_STATE_DIR`, …), which is how docker-compose configures them.
public struct WorkerOptions: ParsableArguments {
    @Option(help: "Kafka bootstrap servers (host:port,…). Env: CARD_BROKERS. Default: read from --bootstrap-file.")
    public var brokers: String?

    @Option(help: "File holding the bootstrap list the embedded broker publishes. Env: CARD_BOOTSTRAP_FILE. Default: run/bootstrap.")
    public var bootstrapFile: String?

    @Option(help: "Config file of KEY=value lines using the CARD_* names shown here (# starts a comment line). Precedence: flag > environment > config file > default. Env: CARD_CONFIG.")
    public var config: String?

    @Option(help: "Folder for this worker's SQLite state (one file per partition). Env: CARD_STATE_DIR.")
    public var stateDir: String?

    @Option(help: "Consumer group id. Env: CARD_GROUP_ID. Default: card-<worker>.")
    public var groupId: String?

    @Option(help: "Most messages applied in one SQLite transaction. Env: CARD_BATCH_SIZE.")
    public var batchSize: Int?

    @Option(name: .customLong("kafka-property"), parsing: .singleValue,
            help: "Raw librdkafka property key=value, repeatable (security.protocol, sasl.*, ssl.*). Env: CARD_KAFKA_<KEY with dots as _>.")
    public var kafkaProperties: [String] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. Env: CARD_LOG_LEVEL.")
    public var logLevel: String?

    @Option(help: "Seconds added to the system clock the worker's rules see (demos and tests of time rules). Env: CARD_CLOCK_OFFSET_SECONDS.")
    public var clockOffsetSeconds: Double?

    @Option(help: "File holding seconds to add to the clock, re-read as it changes (tests drive time rules with it). Env: CARD_CLOCK_FILE.")
    public var clockFile: String?

    @Option(help: "Port for /metrics, /healthz and /readyz; 0 or unset: off. Env: CARD_OPS_PORT.")
    public var opsPort: Int?

    @Option(help: "Address the ops endpoints listen on. Env: CARD_OPS_HOST. Default 127.0.0.1 (this host only); containers set 0.0.0.0 so Prometheus and health checks reach them.")
    public var opsHost: String?

    @Option(help: "Seconds without progress on a partition with unconsumed messages before it is reported stuck (default 60). Env: CARD_STUCK_PARTITION_SECONDS.")
    public var stuckPartitionSeconds: Double?

    public init() {}

    /// Reads the config file (--config or CARD_CONFIG) and sets its names the environment lacks,
    /// so options read straight from the environment see the file too.
    public func validate() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let path = config ?? environment["CARD_CONFIG"], !path.isEmpty else { return }
        try WorkerConfigFile.load(path: path).exportToProcessEnvironment()
    }

    /// Builds the worker configuration from flags, then environment, then the config file, then defaults.
    /// - Throws: `ValidationError` when no broker list can be found or the config file is malformed.
    public func configuration(worker: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> WorkerConfiguration {
        let environment = try WorkerConfigFile.effectiveEnvironment(configPath: config, environment: environment)
        let servers = try Self.bootstrapServers(brokers: brokers, bootstrapFile: bootstrapFile, environment: environment)
        let extra = try Self.librdkafkaProperties(environment: environment, flags: kafkaProperties)
        let stateDirectory = URL(fileURLWithPath: stateDir ?? environment["CARD_STATE_DIR"] ?? "run/state/\(worker)")
        var config = WorkerConfiguration(
            name: worker,
            kafka: KafkaClientConfiguration(bootstrapServers: servers, clientID: "card-\(worker)", extraProperties: extra),
            stateDirectory: stateDirectory,
            groupID: groupId ?? environment["CARD_GROUP_ID"])
        if let size = batchSize ?? environment["CARD_BATCH_SIZE"].flatMap(Int.init) { config.maxBatchSize = size }
        if let path = clockFile ?? environment["CARD_CLOCK_FILE"] {
            let clock = FileDrivenClock(path: path)
            config.clock = { clock.now() }
        } else if let offset = clockOffsetSeconds ?? environment["CARD_CLOCK_OFFSET_SECONDS"].flatMap(Double.init) {
            config.clock = { Date().addingTimeInterval(offset) }
        }
        if let seconds = stuckPartitionSeconds ?? environment["CARD_STUCK_PARTITION_SECONDS"].flatMap(Double.init) {
            config.stuckPartitionTimeout = .milliseconds(Int64(seconds * 1000))
        }
        if let text = environment["CARD_IDLE_PAUSE"] {
            guard let setting = IdlePauseSetting(environmentValue: text) else {
                throw ValidationError("CARD_IDLE_PAUSE must be off, auto or a probe interval in ms (1-60000), not \"\(text)\"")
            }
            config.idlePause = setting
        }
        return config
    }

    /// The ops port from the flag, then `CARD_OPS_PORT`; `nil` when off.
    public var resolvedOpsPort: Int? { opsPort ?? ProcessInfo.processInfo.environment["CARD_OPS_PORT"].flatMap(Int.init) }

    /// The ops listen address from the flag, then `CARD_OPS_HOST`, then `127.0.0.1`.
    ///
    /// Loopback by default: `/metrics` and the logs behind it name dead-letter causes and partitions,
    /// which are for this host's operator, not the whole network. A container publishes them
    /// deliberately by setting `0.0.0.0` (docker-compose.yml does).
    public func resolvedOpsHost(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        opsHost ?? environment["CARD_OPS_HOST"] ?? WorkerOptions.defaultOpsHost
    }

    /// Where ops endpoints listen unless told otherwise: this host only.
    public static let defaultOpsHost = "127.0.0.1"

    public var resolvedLogLevel: Logger.Level {
        (logLevel ?? ProcessInfo.processInfo.environment["CARD_LOG_LEVEL"]).flatMap(Logger.Level.init(rawValue:)) ?? .info
    }

    /// The bootstrap list (`host:port,…`): `--brokers`, then `CARD_BROKERS`, then the file the embedded
    /// broker writes (`--bootstrap-file`, `CARD_BOOTSTRAP_FILE`, default `run/bootstrap`).
    /// - Throws: `ValidationError` naming all three when none gives one. Shared by the workers and `gateway`.
    public static func bootstrapServers(brokers: String?, bootstrapFile: String?, environment: [String: String]) throws -> String {
        let bootstrapPath = bootstrapFile ?? environment["CARD_BOOTSTRAP_FILE"] ?? "run/bootstrap"
        guard let servers = brokers ?? environment["CARD_BROKERS"] ?? readTrimmedFile(bootstrapPath) else {
            throw ValidationError("no brokers: pass --brokers, set CARD_BROKERS, or start the embedded broker (fleet up) so \(bootstrapPath) exists")
        }
        return servers
    }

    /// A file's text without surrounding white space; `nil` when it is missing, unreadable or blank.
    public static func readTrimmedFile(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }
}

/// Runs a worker until SIGTERM/SIGINT, with masked logs on stderr.
public enum WorkerMain {
    /// Every log line of the process on stderr through ``MaskingLogHandler`` (ID numbers, mobiles,
    /// names and links masked) at `level`. Call once per process, before the first `Logger`.
    public static func bootstrapMaskedLogging(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = MaskingLogHandler(StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
    }

    public static func run(worker: String, handler: any WorkerHandler, options: WorkerOptions) async throws {
        bootstrapMaskedLogging(level: options.resolvedLogLevel)
        let logger = Logger(label: "card.\(worker)")
        _ = bootstrapMetrics()
        let configuration = try options.configuration(worker: worker)
        ParentWatch.start(logger: logger)
        let service = WorkerService(handler: handler, configuration: configuration, logger: logger)
        let ops = opsService(host: options.resolvedOpsHost(), port: options.resolvedOpsPort, health: service.health, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                             failureTerminationBehavior: .gracefullyShutdownGroup)] + (ops.map { [$0] } ?? []),
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

/// The system clock plus an offset read from a file, re-read at most every 100 ms.
final class FileDrivenClock: Sendable {
    private let path: String
    private let cache = Mutex<(offset: Double, readAt: ContinuousClock.Instant?)>((0, nil))

    init(path: String) { self.path = path }

    func now() -> Date {
        let offset = cache.withLock { state -> Double in
            if let readAt = state.readAt, ContinuousClock.now - readAt < .milliseconds(100) { return state.offset }
            let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            state = (text.flatMap(Double.init) ?? 0, ContinuousClock.now)
            return state.offset
        }
        return Date().addingTimeInterval(offset)
    }
}

extension WorkerOptions {
    /// librdkafka properties from `CARD_KAFKA_<KEY>` variables (lowercased, `_` → `.`) and then
    /// `--kafka-property key=value` flags, which win. Shared by the workers and `fleet topics`.
    /// - Throws: `ValidationError` for a flag without `=`.
    public static func librdkafkaProperties(environment: [String: String], flags: [String]) throws -> [String: String] {
        var properties: [String: String] = [:]
        for (key, value) in environment where key.hasPrefix("CARD_KAFKA_") {
            properties[key.dropFirst("CARD_KAFKA_".count).lowercased().replacingOccurrences(of: "_", with: ".")] = value
        }
        for property in flags {
            let parts = property.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--kafka-property needs key=value, got \(property)") }
            properties[parts[0]] = parts[1]
        }
        return properties
    }
}
