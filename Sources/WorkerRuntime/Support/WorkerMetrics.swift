import Metrics

/// The runtime's metrics, labelled by worker. Names follow Prometheus conventions.
struct WorkerMetrics {
    let consumed: Counter
    let emitted: Counter
    let deadLettered: Counter
    let retried: Counter
    let duplicatesDropped: Counter
    /// Records of outside-written topics found off their contract key's partition and re-keyed there.
    let rekeyed: Counter
    let offsetGaps: Counter
    /// Outputs the producer or broker refused for good, set aside as dead letters by the relay.
    let unsendableOutputs: Counter
    let batchLatency: Timer
    let outboxDepth: Gauge
    let assignedPartitions: Gauge
    let parkedMessages: Gauge
    let oldestParkedSeconds: Gauge

    private let worker: String

    /// Changelog records still to read while partition `partition` is restored (0 when done).
    func restoreRemaining(partition: Int32) -> Gauge {
        Gauge(label: "card_worker_restore_remaining_records", dimensions: [("worker", worker), ("partition", "\(partition)")])
    }

    init(worker: String) {
        self.worker = worker
        let d = [("worker", worker)]
        consumed = Counter(label: "card_worker_consumed_total", dimensions: d)
        emitted = Counter(label: "card_worker_emitted_total", dimensions: d)
        deadLettered = Counter(label: "card_worker_dead_lettered_total", dimensions: d)
        retried = Counter(label: "card_worker_retries_total", dimensions: d)
        duplicatesDropped = Counter(label: "card_worker_duplicates_dropped_total", dimensions: d)
        rekeyed = Counter(label: "card_worker_rekeyed_total", dimensions: d)
        offsetGaps = Counter(label: "card_worker_offset_gaps_total", dimensions: d)
        unsendableOutputs = Counter(label: "card_worker_unsendable_outputs_total", dimensions: d)
        batchLatency = Timer(label: "card_worker_batch_duration_seconds", dimensions: d)
        outboxDepth = Gauge(label: "card_worker_outbox_depth", dimensions: d)
        assignedPartitions = Gauge(label: "card_worker_assigned_partitions", dimensions: d)
        parkedMessages = Gauge(label: "card_worker_parked_messages", dimensions: d)
        oldestParkedSeconds = Gauge(label: "card_worker_oldest_parked_seconds", dimensions: d)
    }
}

/// Metadata keys for log lines, kept in one place so dashboards and greps agree.
public enum LogKey {
    public static let worker = "worker"
    public static let topic = "kafka.topic"
    public static let partition = "kafka.partition"
    public static let offset = "kafka.offset"
    public static let error = "error"
    public static let count = "count"
    public static let messageID = "message.id"
}
