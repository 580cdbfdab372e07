import ArgumentParser
import CardWorkers
import Foundation
import FleetSupport
import Kafka
import Logging
import WorkerRuntime

/// A consumer group and the topics it consumes.
package struct ConsumerGroupSpec: Sendable, Hashable, Codable {
    var group: String
    var topics: [String]

    /// The four workers' groups (`card-<worker>`) and input topics, as `fleet up` runs them.
    package static let workers: [ConsumerGroupSpec] = [
        ("intake", IntakeHandler().inputTopics), ("identity", IdentityHandler().inputTopics),
        ("routing", RoutingHandler().inputTopics), ("production", ProductionHandler().inputTopics),
    ].map { ConsumerGroupSpec(group: "card-\($0.0)", topics: $0.1) }

    /// Parses `group=topic,topic`.
    static func parse(_ text: String) -> ConsumerGroupSpec? {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else { return nil }
        let topics = parts[1].split(separator: ",").map(String.init).filter { !$0.isEmpty }
        return topics.isEmpty ? nil : ConsumerGroupSpec(group: parts[0], topics: topics)
    }

    /// Parses the repeatable `--group group=topic,topic` option; none given means the four workers.
    /// - Throws: `ValidationError` naming the first malformed value.
    static func parseOption(_ texts: [String]) throws -> [ConsumerGroupSpec] {
        let specs = try texts.map { text in
            guard let spec = parse(text) else { throw ValidationError("--group needs group=topic,topic, got \(text)") }
            return spec
        }
        return specs.isEmpty ? workers : specs
    }
}

/// One refresh of every group: per partition its offsets, lag, lag in seconds and verdict.
struct LagReport: Sendable, Codable {
    struct Partition: Sendable, Codable, Hashable {
        var topic: String
        var partition: Int32
        var committed: Int64?
        var logStart: Int64
        var logEnd: Int64
        var lag: Int64
        /// Age of the oldest unconsumed message, from its timestamp; `nil` when nothing waits or it could not be read.
        var lagSeconds: Double?
        var status: LagStatus
        var reason: String?
        /// When retention deletes the oldest unread message (``TimeToLossEstimator``).
        var timeToLoss: TimeToLoss?

        enum CodingKeys: String, CodingKey {
            case topic, partition, committed, lag, status, reason
            case logStart = "log_start", logEnd = "log_end", lagSeconds = "lag_seconds", timeToLoss = "time_to_loss"
        }
    }

    struct Group: Sendable, Codable {
        var group: String
        var topics: [String]
        var status: LagStatus
        var reason: String?
        var lag: Int64
        var maxLagSeconds: Double?
        /// Sum of committed offsets past the log start: grows with consumption (rates are its differences).
        var consumed: Int64
        var partitions: [Partition]
        /// The soonest loss over the group's partitions, and which partition (`topic[partition]`; only when due or lost).
        var timeToLoss: TimeToLoss?
        var timeToLossPartition: String?

        enum CodingKeys: String, CodingKey {
            case group, topics, status, reason, lag, consumed, partitions
            case maxLagSeconds = "max_lag_seconds", timeToLoss = "time_to_loss", timeToLossPartition = "time_to_loss_partition"
        }

        /// The group's soonest ``TimeToLoss`` and its partition, from `partitions`.
        static func soonest(_ partitions: [Partition]) -> (TimeToLoss, String)? {
            partitions.compactMap { p in p.timeToLoss.map { ($0, "\(p.topic)[\(p.partition)]") } }
                .reduce(nil as (TimeToLoss, String)?) { best, next in
                    guard let best else { return next }
                    return TimeToLoss.sooner(best.0, next.0) == best.0 ? best : next
                }
        }
    }

    var at: Date
    var groups: [Group]
}

/// Samples committed offsets, watermarks and the age of each group's oldest unconsumed message,
/// and judges each group with ``LagEvaluator``. Blocking: call through `offload`.
///
/// The age is exact: the message at the committed offset is fetched by a group-less consumer
/// assigned there and its timestamp read (cached per offset, so only moved partitions are fetched).
///
/// Each topic's retention (for the time to data loss) is read with DescribeConfigs
/// (`retention.ms`, `retention.bytes`) at the first sample and every `retentionRefresh` after;
/// the embedded broker (cluster id `mockCluster…`, no DescribeConfigs) gets its own limit, ``TopicRetention/embeddedBroker``.
/// `@unchecked Sendable`: `sample()` is called from one task at a time (the CLI loop or the ops collector).
final class LagMonitor: @unchecked Sendable {
    let groups: [ConsumerGroupSpec]
    private let probe: LagProbe
    private let ages: OldestMessageReader
    private(set) var evaluator: LagEvaluator
    private let clock: @Sendable () -> Date
    private let logger: Logger
    /// Given retention (tests, or a cluster whose configs may not be read): never looked up.
    private let fixedRetention: [String: TopicRetention]?
    private var retentionReadAt: Date?
    private let retentionRefresh: TimeInterval = 300

    /// - Parameter retention: per-topic retention to use instead of asking the cluster.
    init(bootstrapServers: String, groups: [ConsumerGroupSpec], rules: LagRules, logger: Logger,
         retention: [String: TopicRetention]? = nil, clock: @escaping @Sendable () -> Date = { Date() }) throws {
        self.groups = groups
        probe = try LagProbe(bootstrapServers: bootstrapServers, logger: logger)
        ages = try OldestMessageReader(bootstrapServers: bootstrapServers, logger: logger)
        evaluator = LagEvaluator(rules: rules, retention: retention ?? [:])
        self.clock = clock
        self.logger = logger
        fixedRetention = retention
    }

    /// Each watched topic's retention from the cluster; the embedded broker's limit when it has no DescribeConfigs.
    private func refreshRetention(now: Date) {
        guard fixedRetention == nil, retentionReadAt.map({ now.timeIntervalSince($0) >= retentionRefresh }) ?? true else { return }
        retentionReadAt = now
        let embedded = Dictionary(uniqueKeysWithValues: Set(groups.flatMap(\.topics)).map { ($0, TopicRetention.embeddedBroker) })
        do {
            // librdkafka's mock cluster names itself "mockCluster…"; asked for DescribeConfigs it
            // waits for a controller it never names, so do not ask.
            if let id = try probe.kafkaAdmin.clusterID(), EmbeddedCluster.isEmbedded(clusterID: id) {
                evaluator.retention = embedded
                return
            }
            let existing = try probe.kafkaAdmin.topicPartitionCounts()
            let topics = Set(groups.flatMap(\.topics)).filter { existing[$0] != nil }.sorted()
            let configs = try probe.kafkaAdmin.describeTopicConfigs(topics, timeout: .seconds(10))
            evaluator.retention = configs.mapValues(TopicRetention.from(configs:))
        } catch let error as KafkaError where error.code == .unsupported {
            evaluator.retention = embedded
        } catch {
            // Without retention figures the estimate still has the log-start rule.
            logger.warning("reading topic retention failed", metadata: ["error": "\(error)"])
        }
    }

    func sample() throws -> LagReport {
        refreshRetention(now: clock())
        var raw: [(spec: ConsumerGroupSpec, lags: [PartitionLag])] = []
        for spec in groups { raw.append((spec, try probe.lag(group: spec.group, topics: spec.topics))) }
        // Ask for every waiting partition's oldest message at once.
        var wanted = Set<TopicPartitionOffset>()
        for (_, lags) in raw {
            for l in lags where l.lag > 0 && !l.isBehindRetention {
                wanted.insert(TopicPartitionOffset(topic: l.topic, partition: l.partition, offset: max(l.committed ?? l.logStart, l.logStart)))
            }
        }
        let (timestamps, empty) = ages.timestamps(at: wanted, timeout: .seconds(3))
        let now = clock()
        var keys = Set<LagEvaluator.Key>()
        var groupsOut: [LagReport.Group] = []
        for (spec, lags) in raw {
            var partitions: [LagReport.Partition] = []
            var groupKeys: [LagEvaluator.Key] = []
            for l in lags {
                let key = LagEvaluator.Key(group: spec.group, topic: l.topic, partition: l.partition)
                let position = TopicPartitionOffset(topic: l.topic, partition: l.partition, offset: max(l.committed ?? l.logStart, l.logStart))
                let seconds = l.lag > 0 ? timestamps[position].map { max(0, now.timeIntervalSince1970 - Double($0) / 1000) } : nil
                // Only trailing transaction markers between the committed offset and the log end: nothing waits.
                let nothingReceivable = l.lag > 0 && (empty[position] ?? -1) >= l.logEnd
                let sample = LagSample(at: now, committed: l.committed, logStart: l.logStart, logEnd: l.logEnd, lagSeconds: seconds,
                                       nothingReceivable: nothingReceivable)
                evaluator.add(sample, for: key)
                let verdict = evaluator.evaluate(key)
                partitions.append(.init(topic: l.topic, partition: l.partition, committed: l.committed, logStart: l.logStart,
                                        logEnd: l.logEnd, lag: sample.lag, lagSeconds: seconds, status: verdict.status, reason: verdict.reason,
                                        timeToLoss: evaluator.timeToLoss(key)))
                groupKeys.append(key)
                keys.insert(key)
            }
            let verdict = evaluator.evaluate(group: groupKeys)
            let soonest = LagReport.Group.soonest(partitions)
            groupsOut.append(.init(
                group: spec.group, topics: spec.topics, status: verdict.status, reason: verdict.reason,
                lag: partitions.reduce(0) { $0 + $1.lag }, maxLagSeconds: partitions.compactMap(\.lagSeconds).max(),
                consumed: lags.reduce(0) { $0 + max(($1.committed ?? $1.logStart) - $1.logStart, 0) }, partitions: partitions,
                timeToLoss: soonest?.0, timeToLossPartition: soonest.flatMap { [.due, .lost].contains($0.0.kind) ? $0.1 : nil }))
        }
        evaluator.retain(keys)
        return LagReport(at: now, groups: groupsOut)
    }
}

/// Reads the timestamp of the message at given offsets with a group-less consumer.
/// `@unchecked Sendable`: used from one thread at a time (``LagMonitor``).
final class OldestMessageReader: @unchecked Sendable {
    private let consumer: KafkaConsumer
    /// Timestamps already read: a message's timestamp never changes.
    private var cache: [TopicPartitionOffset: Int64] = [:]
    /// How far a read from each position got without a record (past control records); re-read
    /// only once the log end moves beyond it.
    private var emptyCache: [TopicPartitionOffset: Int64] = [:]

    init(bootstrapServers: String, logger: Logger) throws {
        let client = KafkaClientConfiguration(bootstrapServers: bootstrapServers, clientID: "card-lag-age",
                                              extraProperties: ["max.partition.fetch.bytes": "65536", "queued.max.messages.kbytes": "1024"])
        consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(client: client, groupID: nil), detectGaps: false, logger: logger)
    }

    /// Timestamps (ms since the epoch) of the first message at or after each offset, read within
    /// `timeout`; and, for positions where none came, how far the read got without receiving
    /// a record (past control records): at the log end, nothing receivable waits there.
    func timestamps(at positions: Set<TopicPartitionOffset>, timeout: Duration)
        -> (timestamps: [TopicPartitionOffset: Int64], emptyUpTo: [TopicPartitionOffset: Int64]) {
        var found: [TopicPartitionOffset: Int64] = [:]
        var emptyUpTo: [TopicPartitionOffset: Int64] = [:]
        var missing: [TopicPartitionOffset: TopicPartitionOffset] = [:]  // partition → wanted position
        for p in positions {
            if let cached = cache[p] { found[p] = cached } else { missing[p.withoutOffset] = p }
            if let reached = emptyCache[p], let high = try? consumer.watermarks(topic: p.topic, partition: p.partition, timeout: .seconds(1)).high,
               reached >= high {
                emptyUpTo[p] = reached
                missing[p.withoutOffset] = nil
            }
        }
        cache = cache.filter { positions.contains($0.key) }
        emptyCache = emptyCache.filter { positions.contains($0.key) }
        guard !missing.isEmpty else { return (found, emptyUpTo) }
        guard (try? consumer.assign(Array(missing.values))) != nil else { return (found, emptyUpTo) }
        // Partitions paused on an earlier call must fetch again.
        try? consumer.resume(Array(missing.keys))
        defer { try? consumer.assign([]) }
        let deadline = ContinuousClock.now + timeout
        while !missing.isEmpty && ContinuousClock.now < deadline {
            let result = consumer.poll(maxMessages: 1000, timeout: .milliseconds(50))
            for message in result.messages {
                let partition = TopicPartitionOffset(topic: message.topic, partition: message.partition)
                guard let wanted = missing[partition], message.offset >= (wanted.offset ?? 0), let ts = message.timestampMilliseconds else { continue }
                found[wanted] = ts
                cache[wanted] = ts
                missing[partition] = nil
                try? consumer.pause([partition])
            }
            for error in result.errors { if let p = error.partition { missing[p.withoutOffset] = nil } }
            for skip in result.skippedTo {
                guard let wanted = missing[skip.withoutOffset], let reached = skip.offset else { continue }
                emptyUpTo[wanted] = reached
                emptyCache[wanted] = reached
                // Read from the wanted offset up to the log end without a record: nothing to wait for.
                if let high = try? consumer.watermarks(topic: skip.topic, partition: skip.partition, timeout: .seconds(1)).high, reached >= high {
                    missing[skip.withoutOffset] = nil
                }
            }
        }
        return (found, emptyUpTo)
    }
}
