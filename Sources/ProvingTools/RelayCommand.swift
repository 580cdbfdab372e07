import ArgumentParser
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Synchronization

/// `fleet bench-relay` (hidden): the baseline of `fleet bench-runtime`. A raw consume → produce
/// relay with no processing and no SQLite: poll a batch, send it through `KafkaProducer.send([...])`
/// and wait for every delivery report, then commit the batch's offsets asynchronously.
///
/// It always starts a partition at the beginning (the bench gives every run a fresh group) and
/// makes no effectively-once promise: it exists only to measure what Kafka alone costs.
package struct BenchRelay: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bench-relay",
        abstract: "Benchmark baseline: relay a topic to another, batch by batch, with no processing.",
        shouldDisplay: false)

    @Option(help: "Bootstrap servers.") var brokers: String
    @Option(help: "Input topic.") var from: String
    @Option(help: "Output topic.") var to: String
    @Option(help: "Consumer group.") var group: String
    @Option(help: "Most messages per polled batch.") var batchSize = 500
    @Option(help: "How long a poll waits for the first message, in ms (the worker's default is 50).") var pollTimeoutMs = 50

    package init() {}

    package func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard pollTimeoutMs >= 0 else { throw ValidationError("--poll-timeout-ms must not be negative") }
    }

    package func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "card.bench-relay")
        let client = KafkaClientConfiguration(bootstrapServers: brokers, clientID: "card-bench-relay")
        let relay = try BenchRelayLoop(client: client, group: group, from: from, to: to, batchSize: batchSize,
                                 pollTimeout: .milliseconds(pollTimeoutMs), logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: BenchRelayService(relay: relay), successTerminationBehavior: .gracefullyShutdownGroup,
                             failureTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

/// Runs the relay loop on a thread of its own until graceful shutdown.
private struct BenchRelayService: Service {
    let relay: BenchRelayLoop

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                    // poll blocks in librdkafka: the loop gets its own thread, never the cooperative pool.
                    let thread = Thread {
                        do {
                            try relay.run()
                            continuation.resume()
                        } catch {
                            continuation.resume(throwing: error)
                        }
                    }
                    thread.name = "bench-relay-loop"
                    thread.start()
                }
            } onCancel: {
                relay.requestStop()
            }
        } onGracefulShutdown: {
            relay.requestStop()
        }
    }
}

/// Every assigned partition starts at the beginning: the bench uses a fresh group per run.
private struct BenchRelayStartAtBeginning: RebalanceListener {
    func partitionsAssigned(_ partitions: [TopicPartitionOffset]) -> [TopicPartitionOffset] { partitions }
    // Nothing to finish: each batch is delivered and committed before the next poll.
    func partitionsRevoked(_ partitions: [TopicPartitionOffset]) {}
}

/// `@unchecked Sendable`: `run()` and everything it touches stay on the relay thread; `stop` is a Mutex.
final class BenchRelayLoop: @unchecked Sendable {
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let from: String
    private let to: String
    private let batchSize: Int
    private let pollTimeout: Duration
    private let logger: Logger
    private let stop = Mutex(false)

    init(client: KafkaClientConfiguration, group: String, from: String, to: String, batchSize: Int,
         pollTimeout: Duration, logger: Logger) throws {
        consumer = try KafkaConsumer(configuration: Self.consumerConfiguration(client: client, group: group), logger: logger)
        producer = try KafkaProducer(configuration: Self.producerConfiguration(client: client), logger: logger)
        self.from = from
        self.to = to
        self.batchSize = batchSize
        self.pollTimeout = pollTimeout
        self.logger = logger
    }

    /// The relay's consumer: the workers' settings except the prefetch. The baseline is plain
    /// librdkafka: its 64 MiB prefetch (an 8 MiB one, the workers' then, halved this relay, 10,492 → 5,800
    /// msgs/s, while it changed nothing for the CPU-bound workers). `card-c-relay` gets the same.
    static func consumerConfiguration(client: KafkaClientConfiguration, group: String) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(client: client, groupID: group)
        configuration.prefetchKiB = 65536
        return configuration
    }

    /// The relay's producer: the producers' defaults, as the worker's relay uses them (idempotent,
    /// acks=all, lz4, linger 5 ms), except librdkafka's own 5 requests in flight; the workers' 1 (a
    /// guard against the embedded broker's unchecked sequences) is their cost to bear (measured:
    /// 1,310 vs 1,331 applications/s). `card-c-relay` gets the same.
    static func producerConfiguration(client: KafkaClientConfiguration) -> KafkaProducerConfiguration {
        var configuration = KafkaProducerConfiguration(client: client)
        configuration.maxInFlight = 5
        return configuration
    }

    func requestStop() { stop.withLock { $0 = true } }

    /// The loop. Blocking: runs on the relay's own thread.
    func run() throws {
        try consumer.subscribe([from], listener: BenchRelayStartAtBeginning())
        logger.info("relay started", metadata: ["from": "\(from)", "to": "\(to)", "batch": "\(batchSize)"])
        var relayed = 0
        var batches = 0
        var committed: [TopicPartitionOffset: Int64] = [:]
        defer {
            consumer.close()
            try? producer.flush(timeout: .seconds(5))
            logger.info("relay stopped", metadata: ["relayed": "\(relayed)", "batches": "\(batches)"])
        }
        while !stop.withLock({ $0 }) {
            let result = consumer.poll(maxMessages: batchSize, timeout: pollTimeout)
            for error in result.errors {
                // A gap means the broker dropped input before we read it: the measurement is void.
                if error.error.code == .offsetGap || error.error.isFatal { throw error }
                logger.warning("consumer error", metadata: ["error": "\(error)"])
            }
            guard !result.messages.isEmpty else { continue }
            let records = result.messages.map {
                ProducerRecord(topic: to, key: $0.key, value: $0.value, headers: $0.headers)
            }
            let reports = Self.waitFor { [producer] in await producer.send(records) }
            let failures = reports.compactMap { $0 }
            if let first = failures.first {
                // librdkafka already retried for message.timeout.ms: a bench relay stops rather than skip.
                throw KafkaError(code: .produce, reason: "\(failures.count) of \(records.count) record(s) not delivered: \(first)")
            }
            var next: [TopicPartitionOffset: Int64] = [:]
            for message in result.messages {
                next[TopicPartitionOffset(topic: message.topic, partition: message.partition)] = message.offset + 1
            }
            do {
                try consumer.commit(next.map { TopicPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value) },
                                    async: true)
            } catch {
                logger.warning("async commit failed", metadata: ["error": "\(error)"])
            }
            committed.merge(next) { _, new in new }
            relayed += records.count
            batches += 1
        }
        // Make sure the last positions reach the group before leaving it.
        try? consumer.commit(committed.map { TopicPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value) },
                             async: false)
    }

    /// Runs an async operation and blocks the calling thread until it returns.
    /// Only for the relay's own thread: never call it from the cooperative pool.
    private static func waitFor<T: Sendable>(_ operation: @escaping @Sendable () async -> T) -> T {
        let box = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let value = await operation()
            box.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return box.withLock { $0! }
    }
}
