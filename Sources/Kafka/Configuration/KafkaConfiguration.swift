/// Settings every client shares: where the brokers are, and the escape hatch for raw librdkafka properties.
public struct KafkaClientConfiguration: Sendable {
    /// Comma-separated `host:port` bootstrap list. No default: the embedded broker publishes its own.
    public var bootstrapServers: String
    /// `client.id` shown in broker logs and metrics. Default `card-pipeline`.
    public var clientID: String = "card-pipeline"
    /// Raw librdkafka properties applied last, untouched: `security.protocol`, `sasl.*`, `ssl.*`, tuning.
    /// This is the one escape hatch; typed settings above are preferred.
    public var extraProperties: [String: String] = [:]

    public init(bootstrapServers: String, clientID: String = "card-pipeline", extraProperties: [String: String] = [:]) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
        self.extraProperties = extraProperties
    }

    var properties: [String: String] {
        ["bootstrap.servers": bootstrapServers, "client.id": clientID]
    }
}

/// Compression applied per produced batch.
public enum KafkaCompression: String, Sendable {
    case none, gzip, snappy, lz4, zstd
}

/// An idempotent producer's settings.
public struct KafkaProducerConfiguration: Sendable {
    public var client: KafkaClientConfiguration
    /// Batch compression. Default lz4: the embedded broker keeps only ~5 MiB per partition,
    /// so uncompressed JSON overruns it (see design.md).
    public var compression: KafkaCompression = .lz4
    /// How long to wait to fill a batch. Default 5 ms: latency stays low while batches stay useful.
    public var linger: Duration = .milliseconds(5)
    /// Give up on a message after this long (librdkafka retries inside it). Default 30 s.
    public var messageTimeout: Duration = .seconds(30)
    /// Maximum messages waiting in the local queue. Default 1,000,000.
    public var queueMaxMessages: Int = 1_000_000
    /// Produce requests in flight per broker connection (`max.in.flight.requests.per.connection`).
    ///
    /// Default 1. With more than one, librdkafka's idempotent producer counts a batch as delivered
    /// when a *later* batch of the same partition succeeds (an "implicit ack": Apache Kafka only
    /// accepts a sequence after its predecessor). The embedded (mock) broker does not enforce
    /// sequences for non-transactional producers, so when it failed one Produce request and took
    /// the next, the first batch was reported delivered yet never stored: `fleet probe-acks
    /// --fault produce-errors` lost 15 of 120,000 acknowledged messages at 5 and none at 1, and
    /// `fleet chaos` lost 24 of 100,000 applications. Measured cost of 1 on the embedded broker:
    /// none visible (500,000 × 200 B acknowledged in the same time). On Apache Kafka up to 5 is
    /// safe and may help across a slow network: set it through `extraProperties`.
    public var maxInFlight: Int = 1
    /// How a keyed record's partition is chosen (librdkafka `partitioner`). Default `murmur2_random`:
    /// Java's default, so records the fleet writes land where a Java, kafkajs or Sarama client would put
    /// the same key, and topics joined by key stay co-partitioned whichever client wrote them.
    /// librdkafka's own default (`consistent_random`, CRC32) would not. An operator whose data is already
    /// partitioned under CRC32 may set `partitioner` through `extraProperties` (see docs/deploying.md);
    /// `effectivePartitioner` tells which one applies.
    public var partitioner: KafkaPartitioner = .fleetDefault

    public init(client: KafkaClientConfiguration) { self.client = client }

    /// The partitioner the producer actually uses once `extraProperties` are applied, or `nil` when
    /// they name one that does not depend on the key alone.
    public var effectivePartitioner: KafkaPartitioner? { KafkaPartitioner.named(in: properties) }

    /// Every librdkafka property this configuration sets (`key` → `value`, as `rd_kafka_conf_set`
    /// takes them), `extraProperties` applied. For tools that must run another client with the
    /// very same settings (`fleet bench` hands them to `card-c-relay`).
    public var librdkafkaProperties: [String: String] { properties }

    var properties: [String: String] {
        var p = client.properties
        // Idempotence implies acks=all and ordered, de-duplicated retries per partition.
        p["enable.idempotence"] = "true"
        p["acks"] = "all"
        p["compression.codec"] = compression.rawValue
        p["linger.ms"] = String(linger.milliseconds)
        p["message.timeout.ms"] = String(messageTimeout.milliseconds)
        p["queue.buffering.max.messages"] = String(queueMaxMessages)
        p["max.in.flight.requests.per.connection"] = String(maxInFlight)
        p[KafkaPartitioner.property] = partitioner.rawValue
        p.merge(client.extraProperties) { _, extra in extra }
        return p
    }
}

/// A consumer's settings. Offsets are always managed by the caller: no auto commit, no auto store.
public struct KafkaConsumerConfiguration: Sendable {
    public var client: KafkaClientConfiguration
    /// Consumer group. `nil` for a consumer that assigns partitions itself (reference tables, tools).
    public var groupID: String?
    /// Where to start when nothing is stored: `.earliest` (default) so no submission is skipped.
    public var startWhenNoOffset: StartPosition = .earliest
    /// When the broker no longer has the requested offset: `.error` (default) stops and reports,
    /// never skipping silently.
    public var onOffsetOutOfRange: StartPosition = .error
    /// Group session timeout. Default 10 s, so a killed worker's partitions move quickly.
    public var sessionTimeout: Duration = .seconds(10)
    /// Maximum time between polls before the member is considered failed. Default 300 s.
    public var maxPollInterval: Duration = .seconds(300)
    /// How long the broker may hold a fetch that has no data yet (`fetch.wait.max.ms`). Default 10 ms.
    ///
    /// librdkafka's 500 ms default costs nothing on Apache Kafka, which answers as soon as data
    /// arrives, but the embedded (mock) broker holds an empty fetch for the whole wait: measured
    /// here, one hop took ~235 ms on average at 500 and ~15 ms at 10. On a real cluster a larger
    /// value only saves idle fetch requests; set it through `extraProperties` if that matters.
    public var fetchMaxWait: Duration = .milliseconds(10)

    /// `fetch.wait.max.ms` for consumers that tail topics for display or reference, not for the
    /// pipeline's hops: the ops page and `fleet up`'s dashboard, the workers' reference tables,
    /// the gateway's views. 500 ms, librdkafka's default.
    ///
    /// Why: on the embedded broker every assigned consumer sends an empty fetch every
    /// `fetchMaxWait` while idle; at 10 ms, a dozen tailing consumers kept the broker's thread
    /// awake ~1,000 times a second (about a third of the idle fleet's CPU, README "Idle").
    /// A wait only delays data that arrives during an empty fetch, by at most this much.
    public static let tailingFetchMaxWait: Duration = .milliseconds(500)

    /// Most pre-fetched data held in the local queue, in KiB (`queued.max.messages.kbytes`; in
    /// librdkafka 2.0.2 a limit per assigned partition, so a worker's 24 input partitions may hold
    /// 24 times this under a backlog, plus one fetch each).
    /// Default 2 MiB, not librdkafka's 64 MiB: a worker applies at most a batch (~1 MiB of
    /// submissions) at a time, and a larger queue only raises its memory. Measured with `fleet bench
    /// --applications 15000 --skip-relay` (release, README "Figures", memory rows): 8 MiB → 2 MiB
    /// lowered intake's peak RSS 123–126 → 104–108 MiB at the same rate (628, 651 → 650, 639
    /// applications/s); 1 MiB cost 12 % of the rate (567/s), 256 KiB more than half (238/s).
    /// (64 → 8 MiB had saved ~40 MiB on intake.)
    public var prefetchKiB: Int = 2048

    public enum StartPosition: String, Sendable { case earliest, latest, error }

    public init(client: KafkaClientConfiguration, groupID: String?) {
        self.client = client
        self.groupID = groupID
    }

    /// Every librdkafka property this configuration sets, `extraProperties` applied (see
    /// ``KafkaProducerConfiguration/librdkafkaProperties``).
    public var librdkafkaProperties: [String: String] { properties }

    var properties: [String: String] {
        var p = client.properties
        p["group.id"] = groupID ?? "card-pipeline-unassigned-\(UInt64.random(in: 0...UInt64.max))"
        p["enable.auto.commit"] = "false"
        p["enable.auto.offset.store"] = "false"
        p["enable.partition.eof"] = "false"
        p["auto.offset.reset"] = onOffsetOutOfRange == .error ? "error" : onOffsetOutOfRange.rawValue
        p["session.timeout.ms"] = String(sessionTimeout.milliseconds)
        p["max.poll.interval.ms"] = String(maxPollInterval.milliseconds)
        p["fetch.wait.max.ms"] = String(fetchMaxWait.milliseconds)
        p["queued.max.messages.kbytes"] = String(prefetchKiB)
        p.merge(client.extraProperties) { _, extra in extra }
        // A consumer that assigns partitions itself never joins its group: an assignment strategy
        // (e.g. cooperative-sticky from CARD_KAFKA_*) means nothing to it, so it is not passed on.
        if groupID == nil { p["partition.assignment.strategy"] = nil }
        return p
    }
}

extension Duration {
    /// Whole milliseconds, rounded down; librdkafka takes integers.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
