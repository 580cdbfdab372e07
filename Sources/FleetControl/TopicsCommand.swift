import ArgumentParser
import Foundation
import FleetSupport
import Kafka
import Logging
import WorkerCLI
import WorkerRuntime

/// `fleet topics`: the topics of `Topics/` on a cluster.
package struct TopicsCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "Provision the topics of Topics/ on a Kafka cluster.",
        subcommands: [TopicsApply.self])

    package init() {}
}

/// `fleet topics apply`: creates missing topics, reports drift, never deletes.
struct TopicsApply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create the topics of Topics/ that the cluster lacks and report drift in those it has. Idempotent; never deletes.",
        discussion: """
            Compares each spec (partitions and configs) with the cluster: missing topics are created \
            through the Admin API; a topic whose partition count or configs differ is reported as drift and left alone \
            (fewer partitions than the spec become an increase only with --allow-partition-increase). Configs are read \
            with DescribeConfigs; the embedded broker has neither DescribeConfigs nor CreateTopics, so against it only \
            partition counts (from metadata) are checked. The replication factor is used when creating a topic, not compared. \
            --dry-run prints the plan and changes nothing.
            Exit status: 0 when every topic exists (drift is reported, not fatal unless --fail-on-drift: then 2), 1 on errors.
            """)

    @Option(help: "Kafka bootstrap servers (host:port,…). Env: CARD_BROKERS. Default: the embedded broker's <run-dir>/bootstrap.")
    var brokers: String?

    @Option(help: "Run folder of the embedded broker (for its bootstrap file).") var runDir = "run"

    @Option(help: "Folder of topic specs (one JSON file per topic); default: ./Topics or the repository's.") var topicsDir: String?

    @Option(help: "Replication factor for every topic instead of the specs' (1 on a one-broker cluster); min.insync.replicas is lowered to it where higher. Env: CARD_REPLICATION_FACTOR.")
    var replicationFactor: Int32?

    @Flag(help: "Print the plan (create / ok / drift) and change nothing.") var dryRun = false

    @Flag(help: "Add partitions to topics that have fewer than their spec. Keys then hash to other partitions, so the state of a key may be on another partition: only on a drained pipeline.")
    var allowPartitionIncrease = false

    @Flag(help: "Exit with status 2 when drift remains (for CI and monitoring).") var failOnDrift = false

    @Option(help: "Seconds to keep retrying while the cluster is unreachable or has too few brokers for the replication factor.")
    var wait = 60.0

    @Option(help: "Seconds to wait for each admin answer (DescribeConfigs, CreatePartitions).") var adminTimeout = 10.0

    @Option(name: .customLong("kafka-property"), parsing: .singleValue,
            help: "Raw librdkafka property key=value, repeatable (security.protocol, sasl.*, ssl.*). Env: CARD_KAFKA_<KEY with dots as _>.")
    var kafkaProperties: [String] = []

    func validate() throws {
        if let replicationFactor, replicationFactor < 1 { throw ValidationError("--replication-factor must be at least 1") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let servers = try resolveBrokers(environment)
        let extra = try WorkerOptions.librdkafkaProperties(environment: environment, flags: kafkaProperties)
        var factor = replicationFactor
        if factor == nil, let text = environment["CARD_REPLICATION_FACTOR"], !text.isEmpty {
            guard let value = Int32(text), value >= 1 else { throw ValidationError("CARD_REPLICATION_FACTOR must be a number ≥ 1, got \(text)") }
            factor = value
        }
        let folder = try locateTopicsDirectory(topicsDir)
        let specs = TopicPlan.overridingReplication(try TopicCatalog.load(from: folder), replicationFactor: factor)

        var logger = Logger(label: "card.topics")
        logger.logLevel = .warning
        let admin = try KafkaAdmin(
            configuration: KafkaClientConfiguration(bootstrapServers: servers, clientID: "fleet-topics", extraProperties: extra),
            logger: logger)
        let deadline = ContinuousClock.now + .milliseconds(Int64(wait * 1000))

        Terminal.say("cluster: \(servers); \(specs.count) topic specs from \(folder.path)\(factor.map { " (replication factor \($0))" } ?? "")")
        let counts = try await retrying(until: deadline, what: "reading metadata") { try admin.topicPartitionCounts() }
        let existing = specs.map(\.name).filter { counts[$0] != nil }
        var configs: [String: [String: String]]?
        var adminUnsupported = false
        do {
            if existing.isEmpty, let probe = specs.first?.name {
                // Nothing to compare, but ask anyway: a cluster without the admin APIs says so here,
                // instead of letting CreateTopics time out. A real cluster answers "unknown topic".
                do { _ = try await offload { try admin.describeTopicConfigs([probe], timeout: adminTimeoutDuration) } }
                catch let error as KafkaError where error.code == .admin {}
            } else {
                configs = try await offload { try admin.describeTopicConfigs(existing, timeout: adminTimeoutDuration) }
            }
        } catch let error as KafkaError where error.code == .unsupported {
            adminUnsupported = true
            Terminal.say("note: this cluster does not support DescribeConfigs (the embedded broker has neither it nor CreateTopics): "
                + "topic configs are not checked; partition counts come from metadata")
        }
        let observed = Dictionary(uniqueKeysWithValues: existing.map { name in
            (name, TopicPlan.Observed(partitions: counts[name]!, configs: configs.map { $0[name] ?? [:] }))
        })
        let plan = TopicPlan(specs: specs, observed: observed, allowPartitionIncrease: allowPartitionIncrease)
        plan.render(dryRun: dryRun).forEach { Terminal.say($0) }
        if dryRun { try exitForDrift(plan); return }

        if !plan.creates.isEmpty && adminUnsupported {
            Terminal.say("error: cannot create \(plan.creates.map(\.name).joined(separator: ", ")): this cluster has no CreateTopics API "
                + "(the embedded broker creates the topics of Topics/ itself when `fleet up` or `fleet broker` starts)")
            throw ExitCode.failure
        }
        if !plan.creates.isEmpty {
            do {
                try await retrying(until: deadline, what: "creating topics", alsoRetry: Self.isTooFewBrokers) {
                    try admin.createTopics(plan.creates)
                }
            } catch let error as KafkaError where error.code == .unsupported || Self.meansNoCreateTopics(error) {
                Terminal.say("error: cannot create \(plan.creates.map(\.name).joined(separator: ", ")): this cluster does not support CreateTopics "
                    + "(the embedded broker creates the topics of Topics/ itself when `fleet up` or `fleet broker` starts)")
                throw ExitCode.failure
            }
        }
        if !plan.increases.isEmpty && adminUnsupported {
            Terminal.say("error: cannot add partitions: this cluster has no CreatePartitions API (the embedded broker)")
            throw ExitCode.failure
        }
        if !plan.increases.isEmpty {
            do {
                try await offload { try admin.createPartitions(plan.increases, timeout: adminTimeoutDuration) }
            } catch let error as KafkaError where error.code == .unsupported {
                Terminal.say("error: cannot add partitions: this cluster does not support CreatePartitions (the embedded broker has none)")
                throw ExitCode.failure
            }
        }

        // Check the result: topic creation is asynchronous on the controller, so give metadata a moment.
        let wanted = Dictionary(uniqueKeysWithValues: plan.creates.map { ($0.name, $0.partitions) }).merging(plan.increases) { $1 }
        var missing: [String] = []
        for _ in 0..<20 {
            let now = try await offload { try admin.topicPartitionCounts() }
            missing = wanted.filter { (now[$0.key] ?? 0) < $0.value }.map(\.key).sorted()
            if missing.isEmpty { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        guard missing.isEmpty else {
            Terminal.say("error: not visible with their partitions after applying: \(missing.joined(separator: ", "))")
            throw ExitCode.failure
        }
        Terminal.say("applied: created \(plan.creates.count), increased \(plan.increases.count); \(plan.driftCount) with drift left as is")
        try exitForDrift(plan)
    }

    private var adminTimeoutDuration: Duration { .milliseconds(Int64(max(adminTimeout, 0.1) * 1000)) }

    private func exitForDrift(_ plan: TopicPlan) throws {
        if failOnDrift && plan.driftCount > 0 { throw ExitCode(2) }
    }

    private func resolveBrokers(_ environment: [String: String]) throws -> String {
        if let brokers { return brokers }
        if let servers = environment["CARD_BROKERS"], !servers.isEmpty { return servers }
        let path = URL(fileURLWithPath: runDir).appendingPathComponent("bootstrap").path
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { return trimmed }
        }
        throw ValidationError("no brokers: pass --brokers, set CARD_BROKERS, or start the embedded broker so \(path) exists")
    }

    /// Runs `body` off the cooperative pool, retrying retriable Kafka errors (and `alsoRetry` ones) until `deadline`.
    @discardableResult
    private func retrying<T: Sendable>(until deadline: ContinuousClock.Instant, what: String,
                                       alsoRetry: @escaping @Sendable (KafkaError) -> Bool = { _ in false },
                                       _ body: @escaping @Sendable () throws -> T) async throws -> T {
        var announced = false
        while true {
            do {
                return try await offload(body)
            } catch let error as KafkaError where (error.isRetriable || alsoRetry(error)) && ContinuousClock.now < deadline {
                if !announced {
                    Terminal.say("waiting for the cluster (\(what): \(error.reason)); retrying for up to \(Int(wait)) s")
                    announced = true
                }
                try await Task.sleep(for: .seconds(2))
            }
        }
    }

    /// INVALID_REPLICATION_FACTOR: fewer brokers up than the replication factor (yet).
    @Sendable static func isTooFewBrokers(_ error: KafkaError) -> Bool { error.rdKafkaCode == 38 }

    /// How a cluster without CreateTopics answers it.
    static func meansNoCreateTopics(_ error: KafkaError) -> Bool {
        error.reason.contains("UNSUPPORTED") || error.reason.contains("not supported")
    }
}
