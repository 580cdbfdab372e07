import Foundation
import Kafka
import Testing
import WorkerRuntime

@testable import FleetControl

/// `fleet topics apply`'s plan: Topics/ specs against what a cluster reports → create / ok / drift / increase.
@Suite("Topic plan")
struct TopicPlanTests {
    static let status = TopicSpec(name: "card.status", partitions: 24, replicationFactor: 3,
                                  config: ["cleanup.policy": "delete", "retention.ms": "604800000", "min.insync.replicas": "2"])
    static let persons = TopicSpec(name: "registry.persons", partitions: 24, replicationFactor: 3,
                                   config: ["cleanup.policy": "compact", "min.insync.replicas": "2"])

    /// What a cluster would report for a topic matching `spec`, plus broker defaults.
    static func matching(_ spec: TopicSpec) -> TopicPlan.Observed {
        TopicPlan.Observed(partitions: spec.partitions,
                           configs: spec.config.merging(["segment.bytes": "1073741824", "max.message.bytes": "1048588"]) { a, _ in a })
    }

    @Test("missing topics are created; matching ones are ok")
    func createsMissingTopics() {
        let plan = TopicPlan(specs: [Self.status, Self.persons], observed: ["card.status": Self.matching(Self.status)],
                             allowPartitionIncrease: false)
        #expect(plan.actions == [.ok("card.status"), .create(Self.persons)])
        #expect(plan.creates == [Self.persons])
        #expect(plan.okCount == 1 && plan.driftCount == 0 && plan.increases.isEmpty)
    }

    @Test("applying twice: the second plan has nothing to do")
    func idempotent() {
        let specs = [Self.status, Self.persons]
        let first = TopicPlan(specs: specs, observed: [:], allowPartitionIncrease: false)
        #expect(first.creates.count == 2)
        // The cluster after the first apply.
        let observed = Dictionary(uniqueKeysWithValues: first.creates.map { ($0.name, Self.matching($0)) })
        let second = TopicPlan(specs: specs, observed: observed, allowPartitionIncrease: false)
        #expect(second.creates.isEmpty && second.increases.isEmpty && second.driftCount == 0 && second.okCount == 2)
    }

    @Test("a cleanup policy that differs is drift, reported and not changed")
    func cleanupPolicyDrift() {
        var observed = Self.matching(Self.persons)
        observed.configs?["cleanup.policy"] = "delete"
        let plan = TopicPlan(specs: [Self.persons], observed: ["registry.persons": observed], allowPartitionIncrease: true)
        #expect(plan.actions == [.drift("registry.persons", [.config(key: "cleanup.policy", cluster: "delete", spec: "compact")])])
        #expect(plan.creates.isEmpty && plan.increases.isEmpty)
        #expect(plan.render(dryRun: false).contains { $0.contains("cleanup.policy: \"delete\" on the cluster, \"compact\" in Topics/") })
    }

    @Test("cleanup.policy lists compare without order or case; other values exactly")
    func configComparison() {
        #expect(TopicPlan.sameConfigValue(key: "cleanup.policy", "delete,compact", "compact, delete"))
        #expect(TopicPlan.sameConfigValue(key: "cleanup.policy", "COMPACT", "compact"))
        #expect(!TopicPlan.sameConfigValue(key: "cleanup.policy", "compact,delete", "compact"))
        #expect(!TopicPlan.sameConfigValue(key: "retention.ms", "604800001", "604800000"))
        #expect(!TopicPlan.sameConfigValue(key: "retention.ms", nil, "604800000"))
    }

    @Test("a config the cluster does not report is drift")
    func missingConfigIsDrift() {
        var observed = Self.matching(Self.status)
        observed.configs?["retention.ms"] = nil
        let plan = TopicPlan(specs: [Self.status], observed: ["card.status": observed], allowPartitionIncrease: false)
        #expect(plan.actions == [.drift("card.status", [.config(key: "retention.ms", cluster: nil, spec: "604800000")])])
    }

    @Test("fewer partitions: drift without --allow-partition-increase, an increase with it")
    func fewerPartitions() {
        var observed = Self.matching(Self.status)
        observed.partitions = 12
        let strict = TopicPlan(specs: [Self.status], observed: ["card.status": observed], allowPartitionIncrease: false)
        #expect(strict.actions == [.drift("card.status", [.partitions(cluster: 12, spec: 24)])])
        #expect(strict.increases.isEmpty)
        #expect(strict.render(dryRun: true).first?.contains("--allow-partition-increase adds 12") == true)

        let allowed = TopicPlan(specs: [Self.status], observed: ["card.status": observed], allowPartitionIncrease: true)
        #expect(allowed.actions == [.increasePartitions("card.status", from: 12, to: 24, otherDrift: [])])
        #expect(allowed.increases == ["card.status": 24])
        #expect(allowed.driftCount == 0)
    }

    @Test("more partitions than the spec: drift, never a decrease, even when increases are allowed")
    func morePartitions() {
        var observed = Self.matching(Self.status)
        observed.partitions = 48
        let plan = TopicPlan(specs: [Self.status], observed: ["card.status": observed], allowPartitionIncrease: true)
        #expect(plan.actions == [.drift("card.status", [.partitions(cluster: 48, spec: 24)])])
        #expect(plan.increases.isEmpty)
        #expect(plan.render(dryRun: false).first?.contains("Kafka cannot remove partitions") == true)
    }

    @Test("an increase keeps reporting the topic's config drift")
    func increaseWithConfigDrift() {
        var observed = Self.matching(Self.status)
        observed.partitions = 6
        observed.configs?["retention.ms"] = "86400000"
        let plan = TopicPlan(specs: [Self.status], observed: ["card.status": observed], allowPartitionIncrease: true)
        #expect(plan.actions == [.increasePartitions("card.status", from: 6, to: 24,
                                                     otherDrift: [.config(key: "retention.ms", cluster: "86400000", spec: "604800000")])])
        #expect(plan.driftCount == 1)
    }

    @Test("without DescribeConfigs (embedded broker) only partitions are compared, and the plan says so")
    func configsUnknown() {
        let plan = TopicPlan(specs: [Self.status, Self.persons],
                             observed: ["card.status": .init(partitions: 24, configs: nil), "registry.persons": .init(partitions: 8, configs: nil)],
                             allowPartitionIncrease: false)
        #expect(plan.actions == [.ok("card.status"), .drift("registry.persons", [.partitions(cluster: 8, spec: 24)])])
        #expect(!plan.configsChecked)
        #expect(plan.render(dryRun: true).last == "plan: create 0, ok 1, drift 1; configs not checked (this cluster does not support DescribeConfigs) (dry run: nothing changed)")
    }

    @Test("--replication-factor overrides every spec and lowers min.insync.replicas to fit")
    func replicationOverride() {
        let specs = [Self.status, TopicSpec(name: "t", partitions: 1, replicationFactor: 3, config: ["min.insync.replicas": "1"])]
        let one = TopicPlan.overridingReplication(specs, replicationFactor: 1)
        #expect(one.map(\.replicationFactor) == [1, 1])
        #expect(one[0].config["min.insync.replicas"] == "1")
        #expect(one[0].config["cleanup.policy"] == "delete" && one[0].config["retention.ms"] == "604800000")
        #expect(one[1].config["min.insync.replicas"] == "1")
        let three = TopicPlan.overridingReplication(specs, replicationFactor: 3)
        #expect(three[0].config["min.insync.replicas"] == "2")
        #expect(TopicPlan.overridingReplication(specs, replicationFactor: nil) == specs)
    }

    @Test("the plan over the real Topics/: all created on an empty cluster, with their specs' settings")
    func realTopicsOnEmptyCluster() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let specs = try TopicCatalog.load(from: root.appendingPathComponent("Topics"))
        let plan = TopicPlan(specs: TopicPlan.overridingReplication(specs, replicationFactor: 1), observed: [:], allowPartitionIncrease: false)
        #expect(plan.creates.count == specs.count && specs.count >= 10)
        let persons = try #require(plan.creates.first { $0.name == "registry.persons" })
        #expect(persons.config["cleanup.policy"] == "compact")
        #expect(persons.replicationFactor == 1 && persons.config["min.insync.replicas"] == "1")
        let lines = plan.render(dryRun: true)
        #expect(lines.filter { $0.hasPrefix("create ") }.count == specs.count)
        #expect(lines.last == "plan: create \(specs.count), ok 0, drift 0 (dry run: nothing changed)")
    }
}
