import Foundation
import Kafka
import Logging
import Metrics
import Synchronization

/// The stuck-partition rule, pure so it is testable without a broker.
///
/// A partition is stuck when it has unconsumed messages (high watermark beyond the worker's
/// position) and neither its position moved nor it became non-empty within `timeout`:
/// the clock starts at the later of the last progress and the first look that saw lag,
/// so a partition idle for an hour that just received a message is not stuck at once.
public struct StuckPartitionDetector: Sendable {
    public struct Observation: Sendable {
        public var partition: TopicPartitionOffset
        public var progress: WorkerHealth.Progress
        public var low: Int64
        public var high: Int64

        public init(partition: TopicPartitionOffset, progress: WorkerHealth.Progress, low: Int64, high: Int64) {
            self.partition = partition.withoutOffset
            self.progress = progress
            self.low = low
            self.high = high
        }

        /// Messages the worker has not consumed yet.
        public var unconsumed: Int64 { max(0, high - max(progress.position ?? low, low)) }
    }

    public struct Verdict: Sendable {
        /// Partitions stuck now.
        public var stuck: Set<TopicPartitionOffset>
        /// Became stuck at this look (log once per episode).
        public var newlyStuck: [Observation]
        /// Were stuck and are not any more.
        public var recovered: [TopicPartitionOffset]
    }

    public var timeout: Duration
    private var lagSeen: [TopicPartitionOffset: ContinuousClock.Instant] = [:]
    private var stuck: Set<TopicPartitionOffset> = []

    public init(timeout: Duration) { self.timeout = timeout }

    /// Judges one look at every assigned partition; partitions not observed are forgotten.
    public mutating func evaluate(_ observations: [Observation], now: ContinuousClock.Instant) -> Verdict {
        var nowStuck: Set<TopicPartitionOffset> = []
        var newly: [Observation] = []
        var seen: [TopicPartitionOffset: ContinuousClock.Instant] = [:]
        for o in observations {
            guard o.unconsumed > 0 else { continue }
            let firstSeen = lagSeen[o.partition] ?? now
            seen[o.partition] = firstSeen
            let quietSince = max(firstSeen, o.progress.since)
            if now - quietSince >= timeout {
                nowStuck.insert(o.partition)
                if !stuck.contains(o.partition) { newly.append(o) }
            }
        }
        let recovered = stuck.subtracting(nowStuck).sorted { $0.description < $1.description }
        lagSeen = seen
        stuck = nowStuck
        return Verdict(stuck: nowStuck, newlyStuck: newly, recovered: recovered)
    }
}

/// Watches the worker's partitions from a thread of its own, so a handler that never returns
/// (the loop thread blocked) is caught too: every `interval` it asks the broker for each
/// assigned partition's watermarks and applies ``StuckPartitionDetector``.
///
/// Raises the `card_worker_stuck_partitions` gauge and logs a warning once per episode.
/// `@unchecked Sendable`: the detector is touched only on the watchdog thread; the stop flag is a Mutex.
final class PartitionWatchdog: @unchecked Sendable {
    private let health: WorkerHealth
    private let admin: KafkaAdmin
    private let interval: Duration
    private let logger: Logger
    private let gauge: Gauge
    private var detector: StuckPartitionDetector
    private let stopRequested = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    private let wake = DispatchSemaphore(value: 0)

    init(health: WorkerHealth, configuration: WorkerConfiguration, logger: Logger) throws {
        self.health = health
        self.logger = logger
        admin = try KafkaAdmin(configuration: configuration.kafka, logger: logger)
        detector = StuckPartitionDetector(timeout: configuration.stuckPartitionTimeout)
        // Look often enough to fire within about a quarter of the timeout, never busier than 4 looks a second.
        interval = max(.milliseconds(250), min(.seconds(5), configuration.stuckPartitionTimeout / 4))
        gauge = Gauge(label: "card_worker_stuck_partitions", dimensions: [("worker", configuration.name)])
        gauge.record(0)
    }

    func start() {
        let thread = Thread { [self] in
            while !stopRequested.withLock({ $0 }) {
                look()
                _ = wake.wait(timeout: .now() + interval.seconds)
            }
            finished.signal()
        }
        thread.name = "partition-watchdog"
        thread.start()
    }

    func stop() {
        let was = stopRequested.withLock { s in defer { s = true }; return s }
        if !was { wake.signal(); finished.wait() }
    }

    private func look() {
        var observations: [StuckPartitionDetector.Observation] = []
        for (partition, progress) in health.progress {
            // A broker that does not answer says nothing about the worker: skip this look for it.
            guard let marks = try? admin.watermarks(topic: partition.topic, partition: partition.partition, timeout: .seconds(5)) else { continue }
            observations.append(.init(partition: partition, progress: progress, low: marks.low, high: marks.high))
        }
        let verdict = detector.evaluate(observations, now: .now)
        health.setStuck(verdict.stuck)
        gauge.record(verdict.stuck.count)
        for o in verdict.newlyStuck {
            logger.warning("partition stuck: unconsumed messages and no progress", metadata: [
                LogKey.topic: "\(o.partition.topic)", LogKey.partition: "\(o.partition.partition)",
                LogKey.offset: "\(o.progress.position.map(String.init) ?? "start")", "kafka.high_watermark": "\(o.high)",
                "unconsumed": "\(o.unconsumed)", "stuck.after_seconds": "\(detector.timeout.seconds)"])
        }
        for partition in verdict.recovered {
            logger.info("partition moving again", metadata: [LogKey.topic: "\(partition.topic)", LogKey.partition: "\(partition.partition)"])
        }
    }
}
