import CardDomain
import Foundation
import FleetSupport
import Kafka
import Logging
import Testing
@testable import OperatorViews

/// A group that consumes and commits at the pace a test chooses, on the embedded broker.
@Suite("Lag statuses from real scenarios on the embedded broker", .serialized, .timeLimit(.minutes(3)))
struct LagScenarioTests {
    let logger = Logger(label: "test.lag")

    @Test("a group keeping up is OK; falling behind while committing is WARN; behind the log start or rewound is ERROR")
    func okWarnError() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        try cluster.createTopic(TopicSpec(name: "lag.test", partitions: 1))
        let client = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client), logger: logger)
        // Names the group and commits explicit offsets, as a consumer that processed up to there would.
        let group = try KafkaConsumer(configuration: KafkaConsumerConfiguration(client: client, groupID: "lag-group"), logger: logger)
        let tp = TopicPartitionOffset(topic: "lag.test", partition: 0)
        func produce(_ n: Int) async throws {
            let errors = await producer.send((0..<n).map { _ in ProducerRecord(topic: "lag.test", partition: 0, key: nil, value: Array("m".utf8)) })
            #expect(errors.allSatisfy { $0 == nil })
        }
        func commit(_ offset: Int64) throws {
            try group.commit([TopicPartitionOffset(topic: tp.topic, partition: tp.partition, offset: offset)], async: false)
        }
        let monitor = try LagMonitor(bootstrapServers: cluster.bootstrapServers,
                                     groups: [ConsumerGroupSpec(group: "lag-group", topics: ["lag.test"])],
                                     rules: LagRules(window: .seconds(60), stopAfter: .seconds(600), minimumSamples: 3), logger: logger)
        func lookOK() async throws -> LagReport.Group { try await offload { try monitor.sample() }.groups[0] }

        // OK: consumes everything it is given and commits.
        var committed: Int64 = 0
        for _ in 0..<4 {
            try await produce(10)
            committed += 10
            try commit(committed)
            let g = try await lookOK()
            #expect(g.status == .ok && g.lag == 0, "\(g)")
        }

        // WARN: commits move, but 10 arrive for every 2 consumed (seen by a tool started now: a window
        // that still held the zero-lag looks above would say OK, as Burrow's first rule does).
        let trend = try LagMonitor(bootstrapServers: cluster.bootstrapServers,
                                   groups: [ConsumerGroupSpec(group: "lag-group", topics: ["lag.test"])],
                                   rules: LagRules(window: .seconds(60), stopAfter: .seconds(600), minimumSamples: 3), logger: logger)
        func look() async throws -> LagReport.Group { try await offload { try trend.sample() }.groups[0] }
        var warn: LagReport.Group?
        for _ in 0..<4 {
            try await produce(10)
            committed += 2
            try commit(committed)
            try await Task.sleep(for: .milliseconds(50))
            warn = try await look()
        }
        #expect(warn?.status == .warn, "\(String(describing: warn))")
        #expect(warn?.partitions.first?.lag == 32)
        #expect((warn?.partitions.first?.lagSeconds ?? -1) >= 0, "the oldest waiting message's age was read")

        // ERROR: a rewind.
        try commit(committed - 5)
        let rewound = try await look()
        #expect(rewound.status == .error && rewound.reason?.contains("backwards") == true, "\(rewound)")

        // ERROR: retention overtakes the group (the mock keeps ~5 MiB per partition).
        var config = KafkaProducerConfiguration(client: client)
        config.compression = .none
        let bulk = try KafkaProducer(configuration: config, logger: logger)
        var generator = SystemRandomNumberGenerator()
        let records = (0..<2048).map { _ in
            ProducerRecord(topic: "lag.test", partition: 0, key: nil, value: (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        #expect(await bulk.send(records).allSatisfy { $0 == nil })
        let lost = try await look()
        #expect(lost.status == .error, "\(lost)")
        #expect(lost.reason?.contains("behind the log start") == true)
        #expect(lost.partitions[0].logStart > lost.partitions[0].committed ?? 0)

        // The CLI's JSON and table carry the same verdicts.
        let text = LagTable.render(LagReport(at: Date(), groups: [lost]), all: true)
        #expect(text.contains("lag-group") && text.contains("ERROR"))
    }
}
