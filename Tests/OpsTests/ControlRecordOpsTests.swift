import Foundation
import FleetSupport
import Kafka
import Logging
import Testing
@testable import OperatorViews

/// A transactional producer upstream (a Java portal, Kafka Streams) leaves a transaction marker
/// after each transaction: an offset no consumer receives.
@Suite("Control records on a worker's input: no gap, no stuck partition, no lag", .serialized, .timeLimit(.minutes(2)))
struct ControlRecordOpsTests {
    @Test("a marker as the last record: committed to the log end, watchdog quiet, fleet lag OK at 0; a marker between records: no OFFSET GAP")
    func markersOnAWorkersInput() async throws {
        let h = try OpsWorkerHarness()
        try h.startWorker(stuckAfterSeconds: 1)
        try await h.produce(["a", "b"])
        try ControlRecordWriter.append(.commit, bootstrap: h.cluster.bootstrapServers, topic: "test.input", partition: 0)

        // The worker stores and commits past the trailing marker: Kafka's committed offset is the log end.
        let admin = try KafkaAdmin(configuration: .init(bootstrapServers: h.cluster.bootstrapServers), logger: h.logger)
        let input = TopicPartitionOffset(topic: "test.input", partition: 0)
        var committed: Int64?
        for _ in 0..<100 where committed != 3 {
            try await Task.sleep(for: .milliseconds(100))
            committed = try admin.committedOffsets(group: "card-count", partitions: [input]).first?.offset
        }
        #expect(committed == 3, "committed offset past the marker (log end 3)")

        // The watchdog looks every 250 ms with a 1 s timeout: 3 s is three timeouts with nothing waiting.
        try await Task.sleep(for: .seconds(3))
        let metrics = await OpsSupport.get("\(h.base)/metrics")?.body ?? ""
        #expect(OpsSupport.metric(metrics, "card_worker_consumed_total{worker=\"count\"}") == 2)
        #expect(OpsSupport.metric(metrics, "card_worker_stuck_partitions{worker=\"count\"}") == 0)
        #expect(!h.log().contains("partition stuck"))
        let ready = await OpsSupport.get("\(h.base)/readyz")
        #expect(ready?.status == 200 && ready?.body.contains("\"stuck_partitions\":[]") == true, "\(String(describing: ready))")

        let monitor = try LagMonitor(bootstrapServers: h.cluster.bootstrapServers,
                                     groups: [ConsumerGroupSpec(group: "card-count", topics: ["test.input"])],
                                     rules: LagRules(window: .seconds(2), stopAfter: .seconds(4), minimumSamples: 2), logger: h.logger)
        var report: LagReport.Group?
        for _ in 0..<4 {
            report = try await offload { try monitor.sample() }.groups[0]
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(report?.status == .ok && report?.lag == 0, "\(String(describing: report))")

        // A marker between two records: the next record is processed, the partition goes on.
        try await h.produce(["c"])
        try ControlRecordWriter.append(.abort, bootstrap: h.cluster.bootstrapServers, topic: "test.input", partition: 0)
        try await h.produce(["d"])
        let counted = await OpsSupport.waitFor("\(h.base)/metrics") { _, body in
            OpsSupport.metric(body, "card_worker_consumed_total{worker=\"count\"}") == 4
        }
        #expect(counted.map { OpsSupport.metric($0.body, "card_worker_consumed_total{worker=\"count\"}") } == 4)
        #expect(counted.map { OpsSupport.metric($0.body, "card_worker_offset_gaps_total{worker=\"count\"}") ?? 0 } == 0)
        #expect(!h.log().contains("OFFSET GAP"))
    }

    @Test("fleet lag on another group that committed last record + 1 before a trailing marker: lag 0, OK, not STALL")
    func lagOfAGroupStoppedBeforeAMarker() async throws {
        let logger = Logger(label: "test.ops.markers")
        let cluster = try EmbeddedCluster(logger: logger)
        try cluster.createTopic(TopicSpec(name: "outside", partitions: 2))
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)),
                                         logger: logger)
        for partition in Int32(0)...1 {
            for value in ["a", "b"] { try await producer.send(ProducerRecord(topic: "outside", partition: partition, key: nil, value: Array(value.utf8))) }
        }
        try ControlRecordWriter.append(.commit, bootstrap: cluster.bootstrapServers, topic: "outside", partition: 0)
        // The group read both records of each partition; on partition 1 one record is still waiting.
        let group = try KafkaConsumer(configuration: KafkaConsumerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers),
                                                                                groupID: "outside-group"), logger: logger)
        try group.commit([TopicPartitionOffset(topic: "outside", partition: 0, offset: 2),
                          TopicPartitionOffset(topic: "outside", partition: 1, offset: 1)], async: false)

        let monitor = try LagMonitor(bootstrapServers: cluster.bootstrapServers,
                                     groups: [ConsumerGroupSpec(group: "outside-group", topics: ["outside"])],
                                     rules: LagRules(window: .seconds(2), stopAfter: .seconds(600), minimumSamples: 2), logger: logger)
        var report: LagReport.Group?
        for _ in 0..<4 {
            report = try await offload { try monitor.sample() }.groups[0]
            try await Task.sleep(for: .milliseconds(500))
        }
        let marked = report?.partitions.first { $0.partition == 0 }
        let waiting = report?.partitions.first { $0.partition == 1 }
        #expect(marked?.logEnd == 3 && marked?.committed == 2)
        #expect(marked?.lag == 0 && marked?.status == .ok, "only a transaction marker is left: \(String(describing: marked))")
        #expect(waiting?.lag == 1 && waiting?.status == .stall, "a real record waiting is still STALL: \(String(describing: waiting))")
    }
}
