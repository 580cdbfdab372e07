import Kafka

/// When an input partition has been quiet long enough, stop fetching it (Kafka's consumer
/// `pause`) and instead ask its latest offset every ``IdlePausePolicy/probeInterval``; resume it when that
/// offset passes the next one the worker would read.
///
/// Why: the embedded (mock) broker holds an empty fetch for the whole `fetch.wait.max.ms` and
/// does not answer early when data arrives, so the input consumers run it at 10 ms: a hundred
/// empty fetches a second per consumer, the larger part of an idle fleet's CPU (README, "Idle").
/// A probe every ``IdlePausePolicy/probeInterval`` is one ListOffsets request for all paused partitions.
/// The price is latency for the first message after a quiet spell: up to one probe interval
/// plus one fetch (``IdlePausePolicy/idleProbeInterval`` once the whole worker has been idle for
/// ``IdlePausePolicy/idleAfter``). A steady stream never pauses. On Apache Kafka, which answers a waiting fetch
/// as soon as data arrives, a 500 ms `fetch.wait.max.ms` is already quiet and this is off.
///
/// Pure bookkeeping, no I/O: the loop asks what to pause and what to resume, and does it.
/// A partition is paused only when the offset it reads next is known and nothing beyond it is
/// known to exist, and resumed whenever the log's latest offset is past that offset, or when
/// the probe fails. Partitions stopped after an offset gap (``KafkaConsumer/stopped``) are left
/// alone: their pause is the gap guard's.
struct IdlePause {
    /// What the loop knows of one assigned partition at a decision.
    struct Offsets: Equatable {
        /// The next offset the worker reads: its stored position, else the consumer's, else the
        /// log start when nothing was read yet (the worker starts at the earliest offset).
        /// `nil`: unknown, so the partition is not paused.
        var next: Int64?
        /// The latest offset the last fetch reported (high watermark); `nil` before any fetch answered.
        var fetchedHigh: Int64?
    }

    let policy: IdlePausePolicy
    /// When each assigned partition last delivered a message (or was assigned or resumed).
    private(set) var lastActivity: [TopicPartitionOffset: ContinuousClock.Instant] = [:]
    /// Partitions this bookkeeping paused, with the offset each reads next.
    private(set) var paused: [TopicPartitionOffset: Int64] = [:]
    private(set) var nextProbe: ContinuousClock.Instant?
    /// Since when every assigned partition has been paused (nil: some partition is fetched, or none
    /// is assigned). After ``IdlePausePolicy/idleAfter`` of it, probes come every
    /// ``IdlePausePolicy/idleProbeInterval``.
    private(set) var allPausedSince: ContinuousClock.Instant?

    init(policy: IdlePausePolicy) { self.policy = policy }

    /// Partitions were assigned: they start fetching (librdkafka does not carry a pause over an
    /// assignment) and count as active from `now`.
    mutating func assigned(_ partitions: [TopicPartitionOffset], now: ContinuousClock.Instant) {
        for tp in partitions.map(\.withoutOffset) {
            lastActivity[tp] = now
            paused[tp] = nil
        }
        if !partitions.isEmpty { allPausedSince = nil }
        if paused.isEmpty { nextProbe = nil }
    }

    /// Partitions were revoked or lost: forgotten.
    mutating func revoked(partitions: Set<Int32>) {
        lastActivity = lastActivity.filter { !partitions.contains($0.key.partition) }
        paused = paused.filter { !partitions.contains($0.key.partition) }
        if paused.isEmpty { nextProbe = nil }
        if lastActivity.isEmpty { allPausedSince = nil }
    }

    /// Messages arrived from this partition (its offset ignored); unassigned partitions are not tracked.
    mutating func delivered(_ partition: TopicPartitionOffset, now: ContinuousClock.Instant) {
        if lastActivity[partition] != nil { lastActivity[partition] = now }
    }

    /// The partitions to pause now: assigned, not paused, quiet for ``IdlePausePolicy/quietFor``, not
    /// `stopped`, with a known next offset and no fetched high watermark beyond it. They count
    /// as paused from here: the caller pauses them, or calls ``resumed(_:now:)`` if it cannot.
    mutating func toPause(now: ContinuousClock.Instant, stopped: Set<TopicPartitionOffset>,
                          offsets: (TopicPartitionOffset) -> Offsets) -> [TopicPartitionOffset] {
        var pause: [TopicPartitionOffset] = []
        for (tp, last) in lastActivity where paused[tp] == nil && now - last >= policy.quietFor && !stopped.contains(tp) {
            let known = offsets(tp)
            guard let next = known.next else { continue }
            if let high = known.fetchedHigh, high > next { continue }
            paused[tp] = next
            pause.append(tp)
        }
        if !pause.isEmpty, nextProbe == nil { nextProbe = now + policy.probeInterval }
        if !pause.isEmpty, paused.count == lastActivity.count { allPausedSince = now }
        return Self.ordered(pause)
    }

    /// The interval to the next probe: ``IdlePausePolicy/idleProbeInterval`` once every partition
    /// has been paused for ``IdlePausePolicy/idleAfter``, else ``IdlePausePolicy/probeInterval``.
    func probeInterval(now: ContinuousClock.Instant) -> Duration {
        guard let since = allPausedSince, now - since >= policy.idleAfter else { return policy.probeInterval }
        return policy.idleProbeInterval
    }

    /// Whether the paused partitions' latest offsets should be asked for now.
    func probeDue(now: ContinuousClock.Instant) -> Bool {
        nextProbe.map { now >= $0 } ?? false
    }

    /// The probe's answer: the partitions to resume, those whose latest offset is past the next
    /// one they read, or every paused partition when the probe failed (`latest` nil) or left one
    /// out. Schedules the next probe.
    mutating func probed(latest: [TopicPartitionOffset: Int64]?, now: ContinuousClock.Instant) -> [TopicPartitionOffset] {
        let resume = paused.filter { tp, next in latest?[tp].map { $0 > next } ?? true }.map(\.key)
        resumed(resume, now: now)
        nextProbe = paused.isEmpty ? nil : now + probeInterval(now: now)
        return Self.ordered(resume)
    }

    /// By topic, then partition: the order the loop pauses, resumes and logs them in.
    private static func ordered(_ partitions: [TopicPartitionOffset]) -> [TopicPartitionOffset] {
        partitions.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    /// These partitions fetch again from `now` (resumed, or a pause that failed).
    mutating func resumed(_ partitions: [TopicPartitionOffset], now: ContinuousClock.Instant) {
        for tp in partitions where paused.removeValue(forKey: tp) != nil { lastActivity[tp] = now }
        if paused.count < lastActivity.count { allPausedSince = nil }
        if paused.isEmpty { nextProbe = nil }
    }
}
