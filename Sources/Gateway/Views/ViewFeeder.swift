import CardDomain
import Dispatch
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Synchronization

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
        configuration.fetchMaxWait = KafkaConsumerConfiguration.tailingFetchMaxWait
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
                    var partitions: [TopicPartitionOffset] = []
                    for topic in GatewayTopics.viewed {
                        guard let count = counts[topic] else { throw KafkaError(code: .metadata, reason: "no topic \(topic)") }
                        partitions += (0..<count).map { TopicPartitionOffset(topic: topic, partition: $0) }
                    }
                    // Every partition's watermarks in one batched query (two requests per leader).
                    let marks = try admin.watermarks(partitions)
                    var start: [TopicPartitionOffset] = []
                    var high: [TopicPartitionOffset: Int64] = [:]
                    for tp in partitions {
                        guard let m = marks[tp] else { continue }
                        start.append(TopicPartitionOffset(topic: tp.topic, partition: tp.partition, offset: m.low))
                        if m.high > m.low { high[tp] = m.high }
                    }
                    return (start, high)
                }
                try consumer.assign(assignment.0)
                assigned = assignment.0
                targets = assignment.1
                break
            } catch {
                logger.warning("gateway views cannot start reading yet; retrying", metadata: ["error": "\(Masking.redact("\(error)"))"])
                try? await Task.sleep(for: .seconds(2))
            }
        }
        logger.info("gateway views reading", metadata: ["partitions.to_catch_up": "\(targets.count)"])
        if targets.isEmpty { views.markLoaded() }

        // MARK: Freshness for /metrics, beside the loop (watermark queries must never delay applying)
        let applied = AppliedOffsets(assigned)
        let views = self.views
        let freshness = Task {
            var caughtUpAt: Double?
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.freshnessInterval)
                if Task.isCancelled { break }
                if let behind = try? await Self.blocking({ try applied.recordsBehind(admin: admin) }) {
                    if behind == 0 { caughtUpAt = Date().timeIntervalSince1970 }
                    GatewayMetrics.viewsBehind(records: behind, caughtUpAt: caughtUpAt)
                }
                GatewayMetrics.views(loaded: views.isLoaded, counts: views.counts)
            }
        }
        defer { freshness.cancel() }

        // MARK: Apply until shutdown
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let result = try await Self.blocking { consumer.poll(maxMessages: 5000, timeout: .milliseconds(100)) }
            let day = today()
            applied.advance(result.messages.map { (TopicPartitionOffset(topic: $0.topic, partition: $0.partition), $0.offset + 1) })
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

    /// Runs a blocking librdkafka call off the cooperative pool.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// The next offset the views will apply per viewed partition (the start offset until a record is
/// applied), shared between the apply loop and the freshness measurement.
final class AppliedOffsets: Sendable {
    private let next: Mutex<[TopicPartitionOffset: Int64]>

    /// - Parameter start: the assignment, each partition with the offset reading starts from.
    init(_ start: [TopicPartitionOffset]) {
        next = Mutex(Dictionary(start.map { ($0.withoutOffset, $0.offset ?? 0) }, uniquingKeysWith: { first, _ in first }))
    }

    func advance(_ offsets: [(TopicPartitionOffset, Int64)]) {
        guard !offsets.isEmpty else { return }
        next.withLock { next in
            for (partition, offset) in offsets where offset > next[partition] ?? 0 { next[partition] = offset }
        }
    }

    /// Σ over the partitions of high watermark − next offset to apply (never below the low watermark). Blocking.
    func recordsBehind(admin: KafkaAdmin) throws -> Int64 {
        let snapshot = next.withLock { $0 }
        var behind: Int64 = 0
        for (partition, offset) in snapshot {
            let marks = try admin.watermarks(topic: partition.topic, partition: partition.partition, timeout: .seconds(2))
            behind += max(0, marks.high - max(offset, marks.low))
        }
        return behind
    }
}
