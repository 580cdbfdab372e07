import Foundation

/// How a topic's partitions are trimmed, as far as it matters for when an unread message goes.
///
/// Sources: the topic's `retention.ms` and `retention.bytes` (Kafka topic configs, read by
/// DescribeConfigs; `-1` means unlimited and is kept here as `nil`), or, on the embedded broker
/// (librdkafka's mock cluster, which has no DescribeConfigs and ignores both settings), its own
/// limit: each partition keeps the newest ~5 MiB / 100,000 message sets and drops the oldest
/// beyond that (docs/design: "embedded broker limits").
struct TopicRetention: Sendable, Hashable, Codable {
    /// `retention.ms` in seconds; `nil`: no time-based deletion.
    var seconds: Double?
    /// `retention.bytes` (per partition, as Kafka applies it); `nil`: no size-based deletion.
    var bytes: Int64?
    /// Where the figures came from, for the reason text: "retention.ms/retention.bytes" or "embedded broker".
    var source: String

    /// The embedded broker: 5 MiB per partition (librdkafka 2.0.2 `rdkafka_mock.c`, `max_size`), no time limit.
    static let embeddedBroker = TopicRetention(seconds: nil, bytes: 5 * 1024 * 1024, source: "embedded broker, ~5 MiB per partition")

    /// From a topic's configs as DescribeConfigs reports them (strings; absent or `-1`: unlimited).
    /// A topic whose `cleanup.policy` lacks `delete` (compact only) deletes nothing by age or size:
    /// compaction drops only records a newer one with the same key replaced.
    static func from(configs: [String: String]) -> TopicRetention {
        if let policy = configs["cleanup.policy"], !policy.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "delete" }) {
            return TopicRetention(seconds: nil, bytes: nil, source: "cleanup.policy=\(policy)")
        }
        let ms = configs["retention.ms"].flatMap { Double($0) }.flatMap { $0 < 0 ? nil : $0 / 1000 }
        let bytes = configs["retention.bytes"].flatMap { Int64($0) }.flatMap { $0 < 0 ? nil : $0 }
        return TopicRetention(seconds: ms, bytes: bytes, source: "retention.ms/retention.bytes")
    }
}

/// When retention will delete a group's oldest unread message of one partition (the one at its
/// committed offset), if nothing changes.
struct TimeToLoss: Sendable, Hashable, Codable {
    enum Kind: String, Sendable, Codable {
        /// Already lost: the committed offset is behind the log start.
        case lost = "LOST"
        /// Deleted in about `seconds`.
        case due = "DUE"
        /// No loss foreseen: nothing unread, or the group keeps ahead of the log start and of the age limit.
        case never = "NEVER"
        /// Not enough samples to measure a rate, and no time-based figure either.
        case unknown = "UNKNOWN"
    }

    var kind: Kind
    /// Seconds until the oldest unread message is deleted; 0 when lost; `nil` for never/unknown.
    var seconds: Double?
    /// Which rule gave the figure ("size: log start 120 msg/s, 600 behind", "time: retention.ms 7d, oldest 6d 23h").
    var basis: String

    static func lost(_ basis: String) -> TimeToLoss { TimeToLoss(kind: .lost, seconds: 0, basis: basis) }
    static func never(_ basis: String) -> TimeToLoss { TimeToLoss(kind: .never, seconds: nil, basis: basis) }
    static func unknown(_ basis: String) -> TimeToLoss { TimeToLoss(kind: .unknown, seconds: nil, basis: basis) }
    static func due(_ seconds: Double, _ basis: String) -> TimeToLoss { TimeToLoss(kind: .due, seconds: max(0, seconds), basis: basis) }

    /// Lost, or due within `threshold`.
    func warns(under threshold: Duration) -> Bool {
        kind == .lost || (kind == .due && (seconds ?? .infinity) < threshold.timeInterval)
    }

    /// The value of the `card_lag_time_to_loss_seconds` gauge: 0 lost, +Inf never; `nil` unknown (not exported).
    var gaugeValue: Double? {
        switch kind {
        case .lost: 0
        case .due: seconds
        case .never: Double.infinity
        case .unknown: nil
        }
    }

    /// Human form for tables: `LOST`, `45s`, `42m`, `3h`, `2d`, `∞`, `-` (unknown).
    var text: String {
        switch kind {
        case .lost: return "LOST"
        case .never: return "∞"
        case .unknown: return "-"
        case .due: return Self.human(seconds ?? 0)
        }
    }

    /// `45s`, `42m`, `3h5m`, `2d4h`: two units at most, rounded down (an estimate, never optimistic).
    static func human(_ seconds: Double) -> String {
        let s = Int(max(0, seconds).rounded(.down))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86_400 { return s % 3600 / 60 == 0 ? "\(s / 3600)h" : "\(s / 3600)h\(s % 3600 / 60)m" }
        return s % 86_400 / 3600 == 0 ? "\(s / 86_400)d" : "\(s / 86_400)d\(s % 86_400 / 3600)h"
    }

    /// The sooner of two (lost before due before never before unknown; the smaller figure among dues).
    static func sooner(_ a: TimeToLoss, _ b: TimeToLoss) -> TimeToLoss {
        func rank(_ t: TimeToLoss) -> (Int, Double) {
            switch t.kind {
            case .lost: (0, 0)
            case .due: (1, t.seconds ?? 0)
            case .never: (2, 0)
            case .unknown: (3, 0)
            }
        }
        return rank(a) <= rank(b) ? a : b
    }
}

/// Estimates ``TimeToLoss`` from one partition's samples (oldest first) and its topic's retention.
/// Pure: no I/O, no clock; the samples carry their times.
///
/// The model, per partition, with `position` = the committed offset (the log start when the group
/// never committed) and rates taken between the first and the last sample (for the log-start
/// rule, from the last sample before the log start started moving, when it did within them):
/// 1. Committed offset behind the log start: LOST (retention already deleted unread messages).
/// 2. Nothing unread (lag 0 in the last sample), or `caughtUp` (the caller saw lag 0 within its
///    status window, Burrow's OK rule): never. A caught-up group never warns, however fast the log
///    start moves; a group consuming in batches at the produce rate touches zero lag now and then,
///    and its rates alone would be noise around zero.
/// 3. Size-based (and anything else that moves the log start: DeleteRecords, segment deletion):
///    once a partition is full, the log start advances at the produce rate. The gap
///    `position − logStart` closes at `logStartRate − commitRate`; when that is positive the
///    message at `position` goes in `gap / (logStartRate − commitRate)` seconds. A group that
///    consumes at least as fast as the log start advances never loses by size. The log start
///    moves in steps (whole message sets on the embedded broker, whole segments on Kafka) and
///    commits in batches, so a closing speed within one step of each over the samples' span
///    (`(largest log-start step + largest commit step) / span`) is taken as zero: a group keeping
///    pace out of phase with the deletions never warns, and the log start must be seen moving
///    at least twice. On a real cluster a segment (1 GiB by default) goes rarely, so within a
///    one-minute rate window this rule seldom speaks and the time rule (4) carries the estimate.
///    Before the partition is full the log start does not move. When the partition's size in
///    bytes is known (`LagSample.bytes`) and the topic has a size limit, the time to fill it,
///    `(retention.bytes − bytes) / byteRate`, is added, after which the log start advances at the
///    produce rate (`logEndRate`). Without bytes (librdkafka 2.0.2 has no DescribeLogDirs; the
///    embedded broker publishes no sizes) the estimate starts once the log start first moves:
///    with the embedded broker's 5 MiB per partition that is when the partition is full.
/// 4. Time-based (`retention.ms`): the message at `position` is deleted no sooner than its
///    timestamp + `retention.ms` (Kafka deletes a segment once its newest record is older, so the
///    real moment is later: this is the conservative bound). Its age (`lagSeconds`) grows at
///    `ageRate` = Δage/Δt (1 for a stopped group, less while it consumes, ≤ 0 while it catches up):
///    due in `(retention − age) / ageRate`; never when `ageRate` ≤ 0. With a single sample the
///    group is assumed stopped (`ageRate` 1): conservative.
/// 5. The sooner of 3 and 4; UNKNOWN when neither gives a figure and there are fewer than two
///    samples spanning time; never otherwise.
enum TimeToLossEstimator {
    static func estimate(_ samples: [LagSample], retention: TopicRetention?, caughtUp: Bool = false) -> TimeToLoss {
        guard let last = samples.last else { return .unknown("no samples") }
        let position = last.committed ?? last.logStart
        if position < last.logStart {
            return .lost("committed offset \(position) is behind the log start \(last.logStart)")
        }
        if last.lag == 0 || caughtUp { return .never("caught up") }

        // A log start that started moving within the samples (the partition just filled) is
        // measured from the last look before it moved: the stillness before says nothing of its rate.
        let stillUntil = samples.lastIndex { $0.logStart == samples[0].logStart } ?? 0
        let measured = stillUntil < samples.count - 1 ? Array(samples[stillUntil...]) : samples
        let first = measured[0]
        let span = last.at.timeIntervalSince(first.at)
        var size: TimeToLoss?
        if span > 0 {
            let firstPosition = first.committed ?? first.logStart
            let commitRate = Double(position - firstPosition) / span
            let logStartRate = Double(last.logStart - first.logStart) / span
            let gap = Double(position - last.logStart)
            // The log start moves in whole message sets (segments on a real cluster), commits in
            // batches: over `span`, one step of each is the resolution of the two rates.
            let steps = zip(measured, measured.dropFirst())
            let logStartStep = steps.map { $1.logStart - $0.logStart }.max() ?? 0
            let commitStep = steps.map { ($1.committed ?? $1.logStart) - ($0.committed ?? $0.logStart) }.max() ?? 0
            let resolution = Double(max(0, logStartStep) + max(0, commitStep)) / span
            if logStartRate > 0 {
                let closing = logStartRate - commitRate
                size = closing > resolution
                    ? .due(gap / closing, String(format: "log start advancing %.1f msg/s, group %.1f msg/s, %.0f unread ahead of it", logStartRate, commitRate, gap))
                    : .never(String(format: "group consumes %.1f msg/s, at least the log start's %.1f msg/s", commitRate, logStartRate))
            } else if let limit = retention?.bytes, let bytes = last.bytes, let firstBytes = first.bytes, bytes < limit {
                let byteRate = Double(bytes - firstBytes) / span
                let produceRate = Double(last.logEnd - first.logEnd) / span
                let closing = produceRate - commitRate
                if byteRate > 0, closing > 0 {
                    let fill = Double(limit - bytes) / byteRate
                    size = .due(fill + gap / closing, String(format: "partition full in %.0f s (%lld of %lld bytes), then log start at %.1f msg/s, group %.1f msg/s",
                                                             fill, bytes, limit, produceRate, commitRate))
                } else {
                    size = .never("partition not filling faster than the group consumes")
                }
            } else {
                size = .never("log start not moving")
            }
        }

        var time: TimeToLoss?
        if let retentionSeconds = retention?.seconds, let age = last.lagSeconds {
            let aged = samples.filter { $0.lagSeconds != nil }
            var ageRate = 1.0
            if let oldest = aged.first, oldest.at < last.at {
                ageRate = min(1, (age - oldest.lagSeconds!) / last.at.timeIntervalSince(oldest.at))
            }
            let basis = "retention.ms \(TimeToLoss.human(retentionSeconds)), oldest unread \(TimeToLoss.human(age)) old"
            time = ageRate > 0 ? .due((retentionSeconds - age) / ageRate, basis) : .never(basis + ", getting younger")
        }

        switch (size, time) {
        case let (s?, t?): return TimeToLoss.sooner(s, t)
        case let (s?, nil): return s
        case let (nil, t?): return t
        case (nil, nil): return .unknown("one sample: no rate yet")
        }
    }
}
