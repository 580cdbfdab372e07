import CardDomain
import Foundation
import FleetSupport
import Kafka
import Logging
import Testing
@testable import OperatorViews

/// Time to data loss against the embedded broker's own retention (~5 MiB per partition, oldest
/// message sets dropped): groups commit at the pace the test chooses while a producer writes.
@Suite("Time to data loss from real scenarios on the embedded broker", .serialized, .timeLimit(.minutes(3)))
struct TimeToLossScenarioTests {
    let logger = Logger(label: "test.time-to-loss")

    @Test("a group paused while a producer writes is warned before retention passes its committed offset; caught-up and pace-keeping groups never are")
    func pausedGroupIsWarnedBeforeTheGap() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        let topic = "ttl.test"
        try cluster.createTopic(TopicSpec(name: topic, partitions: 1))
        let client = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers)
        var config = KafkaProducerConfiguration(client: client)
        config.compression = .none  // 4 KiB of random bytes each: the partition fills at ~1,280 messages
        let producer = try KafkaProducer(configuration: config, logger: logger)
        var generator = SystemRandomNumberGenerator()
        func produce(_ n: Int) async throws {
            let records = (0..<n).map { _ in
                ProducerRecord(topic: topic, partition: 0, key: nil, value: (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
            }
            #expect(await producer.send(records).allSatisfy { $0 == nil })
        }
        func committer(_ group: String) throws -> KafkaConsumer {
            try KafkaConsumer(configuration: KafkaConsumerConfiguration(client: client, groupID: group), logger: logger)
        }
        let paused = try committer("ttl-paused"), caughtUp = try committer("ttl-caught-up"), pacing = try committer("ttl-pacing")
        func commit(_ consumer: KafkaConsumer, _ offset: Int64) throws {
            try consumer.commit([TopicPartitionOffset(topic: topic, partition: 0, offset: offset)], async: false)
        }
        let admin = try KafkaAdmin(configuration: client, logger: logger)

        // 1,000 messages (~4 MiB, under the limit); every group has read them all. Then the paused one stops.
        // In sends of `batch`, as below: the broker keeps and drops message sets of that many.
        let batch = 40
        for _ in 0..<(1000 / batch) { try await produce(batch) }
        let filled = try admin.watermarks(topic: topic, partition: 0)
        #expect(filled.low == 0 && filled.high == 1000, "under the limit, nothing dropped yet: \(filled)")
        let pausedAt: Int64 = 1000
        for consumer in [paused, caughtUp, pacing] { try commit(consumer, pausedAt) }

        let monitor = try LagMonitor(
            bootstrapServers: cluster.bootstrapServers,
            groups: ["ttl-paused", "ttl-caught-up", "ttl-pacing"].map { ConsumerGroupSpec(group: $0, topics: [topic]) },
            rules: LagRules(window: .seconds(2), stopAfter: .seconds(600), minimumSamples: 2, rateWindow: .seconds(8)), logger: logger)

        var firstWarning: (logStart: Int64, estimate: TimeToLoss, at: ContinuousClock.Instant)?
        var lost: (report: LagReport.Group, at: ContinuousClock.Instant)?
        var estimates: [TimeToLoss] = []
        var lookTimes: [Duration] = []
        // The producer writes a batch every `interval` of wall-clock time, however long a look
        // takes: a rate tied to the looks would drop whenever the machine is loaded and the looks
        // slow down, and the first warning's figure (made at the earlier rate) would then be off by
        // that factor. Batches that fell due during a slow look are written together. Every look
        // still follows at least one batch: the pace-keeping group's commit must move between
        // looks, or Burrow's rule rightly calls it stalled.
        let interval = Duration.milliseconds(500)
        let producing = ContinuousClock.now
        var batches = 0
        for _ in 0..<200 where lost == nil {
            // The caught-up group commits everything, the pace-keeping one all but the last batch;
            // the paused one nothing.
            let next = producing + interval * batches
            if ContinuousClock.now < next { try await Task.sleep(until: next, clock: .continuous) }
            let due = max(batches + 1, Int((ContinuousClock.now - producing) / interval) + 1)
            while batches < due {
                try await produce(batch)
                batches += 1
            }
            let end = try admin.watermarks(topic: topic, partition: 0).high
            try commit(caughtUp, end)
            try commit(pacing, end - Int64(batch))
            try await Task.sleep(for: .milliseconds(100))
            let looked = ContinuousClock.now
            let report = try await offload { try monitor.sample() }
            lookTimes.append(ContinuousClock.now - looked)
            let group = { (name: String) in report.groups.first { $0.group == name }! }
            let p = group("ttl-paused").partitions[0]
            let loss = try #require(p.timeToLoss)
            estimates.append(loss)
            if firstWarning == nil, loss.warns(under: .seconds(3600)) {
                firstWarning = (p.logStart, loss, .now)
            }
            if p.logStart > pausedAt { lost = (group("ttl-paused"), .now) }
            for name in ["ttl-caught-up", "ttl-pacing"] {
                let other = group(name)
                #expect(other.timeToLoss.map { !$0.warns(under: .seconds(3600)) } ?? true, "\(name) warned: \(other)")
                #expect(other.status == .ok, "\(name): \(other)")
            }
        }
        #expect(monitor.evaluator.retention[topic] == .embeddedBroker, "no DescribeConfigs here: the embedded broker's own limit")

        print("time to loss of the paused group, look by look: \(estimates.map(\.text).joined(separator: " ")); looks took \(lookTimes.map { "\($0.components.seconds)s\($0.components.attoseconds / 1_000_000_000_000_000)" }.joined(separator: " "))")
        let warning = try #require(firstWarning, "never warned; estimates: \(estimates.map(\.text))")
        let gap = try #require(lost, "the log start never passed the paused group's offset")
        #expect(warning.logStart <= pausedAt, "warned only after the gap: \(warning)")
        #expect(warning.estimate.kind == .due && warning.estimate.basis.contains("log start advancing"), "\(warning.estimate)")
        #expect(warning.at < gap.at)
        // The first warning's figure against what happened, within a factor of three (the rates
        // are averaged over the 8 s window).
        let predicted = warning.estimate.seconds ?? 0, actual = (gap.at - warning.at).timeInterval
        print(String(format: "first warning: due in %.0f s predicted, lost %.0f s later", predicted, actual))
        #expect(actual > predicted / 3 && actual < predicted * 3, "predicted \(predicted) s, lost after \(actual) s")
        // Once lost, it says so, and Burrow's rules say ERROR.
        #expect(gap.report.timeToLoss?.kind == .lost && gap.report.timeToLoss?.text == "LOST", "\(gap.report)")
        #expect(gap.report.status == .error)
        #expect(gap.report.timeToLossPartition == "\(topic)[0]")
        // The estimates count down while due.
        let due = estimates.compactMap { $0.kind == .due ? $0.seconds : nil }
        #expect(due.count >= 3, "\(estimates.map(\.text))")
        if due.count >= 3 { #expect(due.last! < due.first!, "\(due)") }

        // The CLI's table shows the column.
        let text = LagTable.render(LagReport(at: Date(), groups: [gap.report]), all: true)
        #expect(text.contains("TIME TO LOSS") && text.contains("LOST"), "\(text)")
    }
}
