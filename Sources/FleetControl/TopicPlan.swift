import Kafka

/// What `fleet topics apply` will do: the topic specs of `Topics/` compared with what a cluster
/// reports. Pure: no I/O, so every rule is unit-tested.
///
/// Rules:
/// - a topic the cluster lacks is created from its spec;
/// - a topic with fewer partitions than its spec is drift; it becomes an increase only when
///   partition increases are allowed (keys then hash elsewhere: the worker state of a key moves);
/// - a topic with more partitions than its spec is drift, never changed (Kafka cannot shrink);
/// - a topic config that differs from its spec is drift, reported and never changed here;
/// - nothing is ever deleted.
struct TopicPlan: Equatable {
    /// What the cluster says about one existing topic.
    struct Observed: Equatable {
        var partitions: Int32
        /// The topic's configs as DescribeConfigs reports them; `nil` when they could not be read
        /// (the embedded broker has no DescribeConfigs), so configs are not compared.
        var configs: [String: String]?
    }

    /// One difference between a spec and the cluster.
    enum Drift: Equatable, CustomStringConvertible {
        case partitions(cluster: Int32, spec: Int32)
        /// `cluster` is `nil` when the cluster does not report the config at all.
        case config(key: String, cluster: String?, spec: String)

        var description: String {
            switch self {
            case let .partitions(cluster, spec):
                "partitions: \(cluster) on the cluster, \(spec) in Topics/"
            case let .config(key, cluster, spec):
                "\(key): \(cluster.map { "\"\($0)\"" } ?? "not reported") on the cluster, \"\(spec)\" in Topics/"
            }
        }
    }

    enum Action: Equatable {
        case create(TopicSpec)
        case ok(String)
        /// Differences that are reported and left alone.
        case drift(String, [Drift])
        /// Partitions to add (with `--allow-partition-increase`); `otherDrift` is still only reported.
        case increasePartitions(String, from: Int32, to: Int32, otherDrift: [Drift])

        var topic: String {
            switch self {
            case let .create(spec): spec.name
            case let .ok(name), let .drift(name, _), let .increasePartitions(name, _, _, _): name
            }
        }
    }

    var actions: [Action]
    /// Whether configs were compared (false when the cluster could not describe them).
    var configsChecked: Bool

    /// - Parameters:
    ///   - observed: the cluster's topics by name; topics missing here are created.
    ///   - allowPartitionIncrease: turn "fewer partitions than the spec" into an increase.
    init(specs: [TopicSpec], observed: [String: Observed], allowPartitionIncrease: Bool) {
        configsChecked = observed.isEmpty || observed.values.allSatisfy { $0.configs != nil }
        actions = specs.sorted { $0.name < $1.name }.map { spec in
            guard let topic = observed[spec.name] else { return .create(spec) }
            var drift: [Drift] = []
            var increase: Int32?
            if topic.partitions < spec.partitions, allowPartitionIncrease {
                increase = spec.partitions
            } else if topic.partitions != spec.partitions {
                drift.append(.partitions(cluster: topic.partitions, spec: spec.partitions))
            }
            if let configs = topic.configs {
                for (key, value) in spec.config.sorted(by: { $0.key < $1.key })
                where !Self.sameConfigValue(key: key, configs[key], value) {
                    drift.append(.config(key: key, cluster: configs[key], spec: value))
                }
            }
            if let increase { return .increasePartitions(spec.name, from: topic.partitions, to: increase, otherDrift: drift) }
            return drift.isEmpty ? .ok(spec.name) : .drift(spec.name, drift)
        }
    }

    var creates: [TopicSpec] { actions.compactMap { if case let .create(spec) = $0 { spec } else { nil } } }
    var increases: [String: Int32] {
        Dictionary(uniqueKeysWithValues: actions.compactMap {
            if case let .increasePartitions(name, _, to, _) = $0 { (name, to) } else { nil }
        })
    }
    var okCount: Int { actions.filter { if case .ok = $0 { true } else { false } }.count }
    /// Topics with any difference left unfixed, including the config drift of topics being increased.
    var driftCount: Int {
        actions.filter {
            switch $0 {
            case .drift: true
            case let .increasePartitions(_, _, _, other): !other.isEmpty
            default: false
            }
        }.count
    }

    /// Config values compare as text, except list-valued `cleanup.policy` (order-free: "compact,delete").
    static func sameConfigValue(key: String, _ cluster: String?, _ spec: String) -> Bool {
        guard let cluster else { return false }
        if key == "cleanup.policy" {
            func items(_ s: String) -> Set<String> {
                Set(s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
            }
            return items(cluster) == items(spec)
        }
        return cluster.trimmingCharacters(in: .whitespaces) == spec.trimmingCharacters(in: .whitespaces)
    }

    /// The specs with every replication factor set to `replicationFactor` (a one-broker cluster
    /// needs 1), and `min.insync.replicas` lowered to it where the spec asks for more, since
    /// acks=all producers could never write otherwise.
    static func overridingReplication(_ specs: [TopicSpec], replicationFactor: Int32?) -> [TopicSpec] {
        guard let replicationFactor else { return specs }
        return specs.map { spec in
            var spec = spec
            spec.replicationFactor = replicationFactor
            if let minISR = spec.config["min.insync.replicas"].flatMap(Int32.init), minISR > replicationFactor {
                spec.config["min.insync.replicas"] = String(replicationFactor)
            }
            return spec
        }
    }

    /// The plan as aligned lines, one per topic (and one per extra drift), then a summary line.
    func render(dryRun: Bool) -> [String] {
        let width = max(actions.map(\.topic.count).max() ?? 0, 5)
        func pad(_ s: String) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
        let indent = String(repeating: " ", count: 9 + width + 2)
        var lines: [String] = []
        for action in actions {
            switch action {
            case let .create(spec):
                let configs = spec.config.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                lines.append("create   \(pad(spec.name))  \(spec.partitions) partitions, replication factor \(spec.replicationFactor)"
                    + (configs.isEmpty ? "" : ", \(configs)"))
            case let .ok(name):
                lines.append("ok       \(name)")
            case let .drift(name, drifts):
                for (i, drift) in drifts.enumerated() {
                    let hint: String
                    if case let .partitions(cluster, spec) = drift {
                        hint = cluster < spec
                            ? " (not changed; --allow-partition-increase adds \(spec - cluster): keys then hash to other partitions)"
                            : " (not changed: Kafka cannot remove partitions)"
                    } else {
                        hint = " (not changed: alter it with kafka-configs.sh if Topics/ is right)"
                    }
                    lines.append((i == 0 ? "drift    \(pad(name))  " : indent) + drift.description + hint)
                }
            case let .increasePartitions(name, from, to, other):
                lines.append("increase \(pad(name))  partitions \(from) → \(to)")
                for drift in other {
                    lines.append(indent + drift.description + " (not changed)")
                }
            }
        }
        var summary = "plan: create \(creates.count), ok \(okCount), drift \(driftCount)"
        if !increases.isEmpty { summary += ", increase \(increases.count)" }
        if !configsChecked { summary += "; configs not checked (this cluster does not support DescribeConfigs)" }
        if dryRun { summary += " (dry run: nothing changed)" }
        lines.append(summary)
        return lines
    }
}
