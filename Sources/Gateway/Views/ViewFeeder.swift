import CardDomain
import Dispatch
import Foundation
import Kafka
import Logging
import ServiceLifecycle

/// Keeps ``GatewayViews`` from Kafka: reads `registry.persons`, `bank.branches`, `card.submission`
/// and `card.status` from the oldest record each partition holds, without a consumer group (every
/// gateway instance needs all of them, as every identity worker needs the whole registry), and marks
/// the views loaded once each partition is read up to its high watermark at start.
///
/// Never calls a worker and never commits: after a restart it reads the topics again. Records it
/// cannot read are counted and logged (masked), never fatal.
public final class ViewFeeder: Service, Sendable {
    private let client: KafkaClientConfiguration
    private let views: GatewayViews
    private let logger: Logger
    private let today: @Sendable () -> CivilDate

    /// - Parameters:
    ///   - client: where Kafka is.
    ///   - today: the Beijing day (registry records born after it are refused, as at identity).
    public init(client: KafkaClientConfiguration, views: GatewayViews, logger: Logger,
                today: @escaping @Sendable () -> CivilDate = { Timestamp.now().shanghaiDate }) {
        self.client = client
        self.views = views
        self.logger = logger
        self.today = today
    }

    public func run() async throws {
        var configuration = KafkaConsumerConfiguration(client: client, groupID: nil)
        configuration.client.clientID = "card-gateway-views"
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        let admin = try KafkaAdmin(configuration: client, logger: logger)
        defer { consumer.close() }

        // MARK: Assign every partition from its low watermark; remember where "caught up" is.
        var targets: [TopicPartitionOffset: Int64] = [:]
        var assigned: [TopicPartitionOffset] = []
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let assignment = try await Self.blocking { () throws -> ([TopicPartitionOffset], [TopicPartitionOffset: Int64]) in
                    let counts = try admin.topicPartitionCounts()
                    var start: [TopicPartitionOffset] = []
                    var high: [TopicPartitionOffset: Int64] = [:]
                    for topic in GatewayTopics.viewed {
                        guard let count = counts[topic] else { throw KafkaError(code: .metadata, reason: "no topic \(topic)") }
                        for partition in 0..<count {
                            let marks = try admin.watermarks(topic: topic, partition: partition)
                            start.append(TopicPartitionOffset(topic: topic, partition: partition, offset: marks.low))
                            if marks.high > marks.low { high[TopicPartitionOffset(topic: topic, partition: partition)] = marks.high }
                        }
                    }
                    return (start, high)
                }
                try consumer.assign(assignment.0)
                assigned = assignment.0.map(\.withoutOffset)
                targets = assignment.1
                break
            } catch {
                logger.warning("gateway views cannot start reading yet; retrying", metadata: ["error": "\(Masking.redact("\(error)"))"])
                try? await Task.sleep(for: .seconds(2))
            }
        }
        logger.info("gateway views reading", metadata: ["partitions.to_catch_up": "\(targets.count)"])
        if targets.isEmpty { views.markLoaded() }

        // MARK: Apply until shutdown
        var freshnessMeasured = ContinuousClock.now
        var caughtUpAt: Double?
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if ContinuousClock.now - freshnessMeasured >= Self.freshnessInterval {
                freshnessMeasured = .now
                // Freshness for /metrics: records the partitions hold that the views have not applied yet.
                let partitions = assigned
                if let behind = try? await Self.blocking({ try Self.recordsBehind(partitions, consumer: consumer, admin: admin) }) {
                    if behind == 0 { caughtUpAt = Date().timeIntervalSince1970 }
                    GatewayMetrics.viewsBehind(records: behind, caughtUpAt: caughtUpAt)
                }
                GatewayMetrics.views(loaded: views.isLoaded, counts: views.counts)
            }
            let result = try await Self.blocking { consumer.poll(maxMessages: 5000, timeout: .milliseconds(100)) }
            let day = today()
            for message in result.messages {
                if case .refused(let cause) = views.apply(topic: message.topic, key: message.key, value: message.value, today: day) {
                    logger.warning("record not usable for the gateway's views", metadata: [
                        "topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)",
                        "cause": "\(Masking.redact(cause))"])
                }
            }
            for error in result.errors {
                logger.error("reading the views' topics", metadata: ["error": "\(Masking.redact(error.description))"])
            }
            if !targets.isEmpty {
                let positions = consumer.positions(Array(targets.keys))
                for position in positions {
                    if let offset = position.offset, let target = targets[position.withoutOffset], offset >= target {
                        targets[position.withoutOffset] = nil
                    }
                }
                if targets.isEmpty {
                    views.markLoaded()
                    logger.info("gateway views loaded", metadata: ["views": "\(views.counts)"])
                }
            }
        }
    }

    /// How often the views' freshness is measured (one watermark query per viewed partition).
    static let freshnessInterval: Duration = .seconds(10)

    /// Σ over `partitions` of high watermark − the next offset the views will apply (the low watermark
    /// while nothing was applied). Blocking.
    static func recordsBehind(_ partitions: [TopicPartitionOffset], consumer: KafkaConsumer, admin: KafkaAdmin) throws -> Int64 {
        let positions = Dictionary(consumer.positions(partitions).compactMap { p in p.offset.map { (p.withoutOffset, $0) } },
                                   uniquingKeysWith: { first, _ in first })
        var behind: Int64 = 0
        for partition in partitions {
            let marks = try admin.watermarks(topic: partition.topic, partition: partition.partition, timeout: .seconds(2))
            behind += max(0, marks.high - max(positions[partition] ?? marks.low, marks.low))
        }
        return behind
    }

    /// Runs a blocking librdkafka call off the cooperative pool.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}
