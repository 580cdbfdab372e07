import Foundation
import FleetSupport
import Kafka
import Logging
import Testing
import WorkerRuntime

/// `fleet topics apply` against the embedded broker (librdkafka's mock cluster), which has no
/// DescribeConfigs, CreateTopics or CreatePartitions: it must say so and still check partition counts.
@Suite("fleet topics apply on the embedded broker")
struct TopicsApplyEmbeddedTests {
    static let fleet = BuildProducts.executable("fleet")

    /// A mock cluster holding every topic of Topics/ except `missing`, and `shrunk` with 12 partitions.
    static func cluster(missing: String?, shrunk: String?) throws -> EmbeddedCluster {
        let cluster = try EmbeddedCluster(logger: Logger(label: "test.topics-apply"))
        for var spec in try TopicCatalog.load(from: FleetTestSupport.topicsDirectory) where spec.name != missing {
            if spec.name == shrunk { spec.partitions = 12 }
            try cluster.createTopic(spec)
        }
        return cluster
    }

    @Test("--dry-run: the plan with drift and creations, configs reported as not checkable")
    func dryRunPlan() throws {
        let cluster = try Self.cluster(missing: "card.dlq", shrunk: "card.status")
        let result = try FleetTestSupport.run(Self.fleet, [
            "topics", "apply", "--brokers", cluster.bootstrapServers, "--dry-run", "--admin-timeout", "2", "--replication-factor", "1",
        ])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("does not support DescribeConfigs"), "\(result.output)")
        #expect(result.output.contains("create   card.dlq"), "\(result.output)")
        #expect(result.output.contains("partitions: 12 on the cluster, 24 in Topics/"), "\(result.output)")
        #expect(result.output.contains("ok       registry.persons"), "\(result.output)")
        #expect(result.output.contains("plan: create 1, ok 15, drift 1; configs not checked"), "\(result.output)")
        #expect(result.output.contains("(dry run: nothing changed)"), "\(result.output)")
        withExtendedLifetime(cluster) {}
    }

    @Test("applying a plan that needs CreateTopics fails, saying the cluster cannot create topics")
    func cannotCreateOnEmbedded() throws {
        let cluster = try Self.cluster(missing: "card.dlq", shrunk: nil)
        let result = try FleetTestSupport.run(Self.fleet, [
            "topics", "apply", "--brokers", cluster.bootstrapServers, "--admin-timeout", "2", "--wait", "5",
        ])
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.contains("error: cannot create card.dlq: this cluster has no CreateTopics API"), "\(result.output)")
        withExtendedLifetime(cluster) {}
    }

    @Test("every topic present: apply succeeds without changing anything; --fail-on-drift turns drift into exit 2")
    func nothingToDo() throws {
        let complete = try Self.cluster(missing: nil, shrunk: nil)
        let ok = try FleetTestSupport.run(Self.fleet, ["topics", "apply", "--brokers", complete.bootstrapServers, "--admin-timeout", "2"])
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.contains("plan: create 0, ok 17, drift 0"), "\(ok.output)")
        #expect(ok.output.contains("applied: created 0, increased 0; 0 with drift left as is"), "\(ok.output)")

        let drifted = try Self.cluster(missing: nil, shrunk: "bank.branches")
        let strict = try FleetTestSupport.run(Self.fleet, [
            "topics", "apply", "--brokers", drifted.bootstrapServers, "--admin-timeout", "2", "--fail-on-drift",
        ])
        #expect(strict.status == 2, "\(strict.output)")
        #expect(strict.output.contains("drift    bank.branches"), "\(strict.output)")
        withExtendedLifetime((complete, drifted)) {}
    }
}
