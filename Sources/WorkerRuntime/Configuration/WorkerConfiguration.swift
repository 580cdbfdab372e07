import Foundation
import Kafka

/// How a worker runs: where its brokers and state are, and how it batches, retries and commits.
public struct WorkerConfiguration: Sendable {
    /// Worker name, e.g. `intake`: the `worker` field of dead letters and the metrics dimension.
    public var name: String
    /// Consumer group. Default: `card-<name>`.
    public var groupID: String
    public var kafka: KafkaClientConfiguration
    /// Folder holding one SQLite file per partition, plus the reference tables.
    public var stateDirectory: URL
    /// How long the broker may hold the input consumer's fetch when it has no data
    /// (`fetch.wait.max.ms`). Default `nil`: chosen by the cluster at start
    /// (``inputFetchMaxWait(clusterID:)``). `CARD_KAFKA_FETCH_WAIT_MAX_MS` overrides either.
    public var inputFetchMaxWait: Duration?

    /// The input consumer's `fetch.wait.max.ms` for a cluster: 10 ms on the embedded broker, which
    /// holds an empty fetch for the whole wait, so the wait is latency (up to this much per hop
    /// whenever a partition was empty) and idle cost (a fetch per wait per consumer); 500 ms,
    /// librdkafka's default, on Apache Kafka, which answers as soon as data arrives, so a long
    /// wait costs no latency and keeps an idle worker quiet. README "Idle" has the figures.
    public static func inputFetchMaxWait(clusterID: String?) -> Duration {
        clusterID.map(EmbeddedCluster.isEmbedded(clusterID:)) ?? false ? .milliseconds(10) : .milliseconds(500)
    }

    /// Whether quiet input partitions are paused and probed instead of fetched (``IdlePause``).
    /// Default `.auto`: on when the input fetch wait is shorter than the probe interval (the
    /// embedded broker's 10 ms), off on Apache Kafka's 500 ms. `CARD_IDLE_PAUSE` overrides:
    /// `off`, `auto`, or the probe interval in ms (`100`).
    public var idlePause: IdlePauseSetting = .auto

    /// Most messages applied in one SQLite transaction. Default 500.
    public var maxBatchSize: Int = 500
    /// Longest a poll waits for the first message when nothing else is due. Default 1 s.
    /// Not a latency: input, delivery reports and stop requests end the wait at once; the loop
    /// also wakes for its tick, due retries and commits (`WorkerLoop.inputWait`).
    public var pollTimeout: Duration = .seconds(1)
    /// Where poison messages go. Default `card.dlq` (the contract's).
    public var deadLetterTopic: String = "card.dlq"
    /// Backoff for retriable failures: `initialBackoff * 2^(attempt-1)`, at most `maxBackoff`.
    public var initialBackoff: Duration = .milliseconds(500)
    public var maxBackoff: Duration = .seconds(60)
    /// How often the handler's `tick` runs (overdue scans and the like). Default 1 s.
    public var tickInterval: Duration = .seconds(1)
    /// How often consumed offsets are also committed to Kafka for lag tools. Default 1 s.
    public var kafkaCommitInterval: Duration = .seconds(1)
    /// How long a graceful shutdown waits for the outbox to drain. Default 30 s.
    public var drainTimeout: Duration = .seconds(30)
    /// How long applied message ids are remembered for dedup. Default 8 days: longer than the
    /// topics' 7-day retention, so no redelivery can outlive its id.
    public var appliedIDRetention: Duration = .seconds(8 * 86_400)
    /// A partition with unconsumed messages whose position has not moved for this long is reported
    /// stuck (`card_worker_stuck_partitions`, one warning per episode). Default 60 s.
    public var stuckPartitionTimeout: Duration = .seconds(60)
    /// How often the handler's stage report and the parked-message gauges are computed. Default 10 s.
    public var stageReportInterval: Duration = .seconds(10)
    /// Time-in-stage percentiles cover applications that left the stage within this window. Default 15 min.
    public var stageReportWindow: Duration = .seconds(900)
    /// SQLite page cache per connection of a partition file, in KiB. Default 512.
    public var partitionCacheKiB: Int = 512
    /// Whether partitions' state is written to the changelog topic `card.<name>-changelog`
    /// (docs/state-changelog.md). Default `nil`: the environment's `CARD_STATE_CHANGELOG`
    /// (`auto`, `on`, `off`), `auto` when unset.
    public var stateChangelog: StateChangelogMode?
    /// Standby copies per partition kept by other instances of this worker type (Kafka Streams'
    /// `num.standby.replicas`; docs/state-changelog.md, "Standbys"). Default `nil`: the environment's
    /// `CARD_STANDBY_REPLICAS`, 1 when unset. Needs the changelog and the membership topic.
    public var standbyReplicas: Int?
    /// The clock the handler sees; tests drive it. Default: the system clock.
    public var clock: @Sendable () -> Date = { Date() }
    /// Producer tuning (compression, linger); its `client` is replaced by `kafka`.
    public var producer: KafkaProducerConfiguration

    public init(name: String, kafka: KafkaClientConfiguration, stateDirectory: URL, groupID: String? = nil) {
        self.name = name
        self.groupID = groupID ?? "card-\(name)"
        self.kafka = kafka
        self.stateDirectory = stateDirectory
        self.producer = KafkaProducerConfiguration(client: kafka)
    }

    func backoff(afterAttempt attempt: Int) -> Duration {
        let factor = Double(1 << min(max(attempt - 1, 0), 20))
        let seconds = min(initialBackoff.seconds * factor, maxBackoff.seconds)
        return .milliseconds(Int64(seconds * 1000))
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

/// Pausing quiet input partitions: a policy, or the rule that picks one (``WorkerConfiguration/idlePause``).
public enum IdlePauseSetting: Sendable, Equatable {
    /// On when the input consumer's `fetch.wait.max.ms` is shorter than the default probe
    /// interval: there a fetch loop costs more than probing does.
    case auto
    case off
    case on(IdlePausePolicy)

    /// The policy in force for an input consumer whose `fetch.wait.max.ms` is `fetchMaxWait`.
    public func resolved(fetchMaxWait: Duration) -> IdlePausePolicy? {
        switch self {
        case .off: nil
        case .on(let policy): policy
        case .auto: fetchMaxWait < IdlePausePolicy.standard.probeInterval ? .standard : nil
        }
    }

    /// `CARD_IDLE_PAUSE`'s value: `off`, `auto`, or a probe interval in whole milliseconds
    /// (1–60000) with the standard quiet time and idle probe interval (raised to the probe
    /// interval when that is longer); `nil` for anything else.
    public init?(environmentValue text: String) {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "off", "0": self = .off
        case "auto", "": self = .auto
        case let value:
            guard let ms = Int64(value), (1...60_000).contains(ms) else { return nil }
            let standard = IdlePausePolicy.standard
            self = .on(IdlePausePolicy(quietFor: standard.quietFor, probeInterval: .milliseconds(ms),
                                       idleProbeInterval: standard.idleProbeInterval, idleAfter: standard.idleAfter))
        }
    }
}

/// When a quiet input partition stops being fetched, and how often it is probed for news.
public struct IdlePausePolicy: Sendable, Equatable {
    /// How long a partition must deliver nothing before it is paused.
    public var quietFor: Duration
    /// How often paused partitions' latest offsets are asked for (one ListOffsets request for all
    /// of them) while any input partition of the worker is still fetched or was fetched within
    /// ``idleAfter``: the most a first message after a quiet spell waits before its partition is
    /// fetched again.
    public var probeInterval: Duration
    /// How often they are asked once every input partition has been paused for ``idleAfter``: a
    /// worker with nothing to do. Each probe wakes the worker loop (the probe, a poll, a pass over
    /// every partition's relay), which at 100 ms was half of an idle worker's CPU (perf, issue 14).
    /// The price: the first message after an idle spell waits up to this long per hop.
    public var idleProbeInterval: Duration
    /// How long every input partition must have been paused before probes slow to ``idleProbeInterval``.
    public var idleAfter: Duration

    /// - Parameter idleProbeInterval: at least `probeInterval` (a smaller value is raised to it).
    public init(quietFor: Duration, probeInterval: Duration, idleProbeInterval: Duration? = nil,
                idleAfter: Duration = .seconds(10)) {
        self.quietFor = quietFor
        self.probeInterval = probeInterval
        self.idleProbeInterval = max(probeInterval, idleProbeInterval ?? probeInterval)
        self.idleAfter = idleAfter
    }

    /// 2 s quiet, 100 ms probe, 500 ms once the worker has been idle for 10 s: a stream of one
    /// message a second per partition never pauses, and a sparse one is probed at 100 ms; README
    /// "Idle" has what it saves and costs.
    public static let standard = IdlePausePolicy(quietFor: .seconds(2), probeInterval: .milliseconds(100),
                                                 idleProbeInterval: .milliseconds(500), idleAfter: .seconds(10))
}
