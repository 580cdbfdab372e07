import Foundation

/// A consumer group's health, modelled on Burrow's evaluation rules, worst last.
enum LagStatus: String, Sendable, Codable, CaseIterable, Comparable {
    /// Consuming: lag was zero at some point of the window, or offsets move and lag is not growing.
    case ok = "OK"
    /// Offsets move but lag grew at every look of the window.
    case warn = "WARN"
    /// The committed offset did not move over the window while messages waited.
    case stall = "STALL"
    /// No commit moved past a message that has waited `stopAfter`: the group stopped consuming.
    case stop = "STOP"
    /// Messages lost: the committed offset is behind the log start (retention overtook the group),
    /// or it moved backwards (a rewind).
    case error = "ERROR"

    private var severity: Int { Self.allCases.firstIndex(of: self)! }
    static func < (a: LagStatus, b: LagStatus) -> Bool { a.severity < b.severity }
}

/// One look at one partition of one group.
struct LagSample: Sendable, Hashable, Codable {
    var at: Date
    /// The group's committed next offset; `nil` when it never committed.
    var committed: Int64?
    var logStart: Int64
    var logEnd: Int64
    /// Age in seconds of the oldest unconsumed message (the one at the committed offset), when there is one.
    var lagSeconds: Double?
    /// Set when a read from the committed offset reached the log end without receiving a record:
    /// the offsets left hold only control records (KIP-98 transaction markers), nothing to consume.
    var nothingReceivable = false
    /// The partition's size in bytes, when the cluster tells (it feeds ``TimeToLossEstimator``'s
    /// time-to-full; librdkafka 2.0.2 has no DescribeLogDirs, so the monitor leaves it `nil`).
    var bytes: Int64? = nil

    /// Messages not yet consumed (from the log start when nothing is committed); 0 when what is
    /// left holds nothing a consumer can receive.
    var lag: Int64 { nothingReceivable ? 0 : max(0, logEnd - max(committed ?? logStart, logStart)) }
}

/// The rules' thresholds.
package struct LagRules: Sendable {
    /// Samples older than this are dropped; trends are judged over what remains. Default 30 s.
    var window: Duration = .seconds(30)
    /// A group whose committed offset did not move over the window, with a waiting message at
    /// least this old, is STOP rather than STALL. Default 120 s.
    var stopAfter: Duration = .seconds(120)
    /// Fewer samples than this in the window: trends (WARN, STALL, STOP) are not judged yet. Default 3.
    var minimumSamples = 3
    /// Samples this old feed the rates of ``TimeToLossEstimator`` (commit, log start, age), at
    /// least `window`. Default 60 s: long enough to average a consumer's batches, short enough to
    /// see a group stop within a minute.
    var rateWindow: Duration = .seconds(60)
    /// A partition whose oldest unread message retention deletes within this is at least WARN. Default one hour.
    var timeToLossWarning: Duration = .seconds(3600)

    /// Every threshold at its default: what `fleet up`'s ops page judges by.
    package static var defaults: LagRules { LagRules() }
}

/// Keeps a sliding window of samples per group partition and judges them. Pure: no I/O, the
/// caller feeds samples with their times, so every rule is testable.
///
/// Per partition, in order:
/// 1. ERROR when the latest committed offset is behind the log start, or the committed offset
///    moved backwards between two samples of the window (rewind).
/// 2. OK when lag was zero in any sample of the window, or the window is too short to judge.
/// 3. Committed offset unchanged over the whole window while lag > 0: STOP when the oldest waiting
///    message is at least `stopAfter` old or the offset was seen unchanged that long with lag
///    above zero, else STALL. Idle time at zero lag never counts: a partition idle for an hour
///    whose next message takes 40 s to commit waited 40 s, not 3,640 s (unlike Burrow, which
///    measures from the last commit).
/// 4. WARN when the committed offset moves but lag grew at every look of the window.
/// 5. OK otherwise.
/// 6. Then, time to data loss (``TimeToLossEstimator`` over `rateWindow`, with the topic's
///    ``TopicRetention`` from `retention`): a partition that is OK but whose oldest unread message
///    retention deletes within `timeToLossWarning` is WARN, the reason saying when.
/// A group's status is its worst partition's.
struct LagEvaluator: Sendable {
    struct Key: Hashable, Sendable { var group: String; var topic: String; var partition: Int32 }

    struct Verdict: Sendable, Hashable, Codable {
        var status: LagStatus
        var reason: String?
    }

    var rules: LagRules
    private var windows: [Key: [LagSample]] = [:]
    /// When each partition's current committed offset was first seen, or last seen at zero lag if later.
    private var unchangedSince: [Key: (offset: Int64?, since: Date)] = [:]
    /// Samples over `rules.rateWindow`, for the time-to-loss rates.
    private var rateHistory: [Key: [LagSample]] = [:]
    /// Each topic's retention; a topic missing here gets only the log-start rule of the estimate.
    var retention: [String: TopicRetention] = [:]

    init(rules: LagRules = LagRules(), retention: [String: TopicRetention] = [:]) {
        self.rules = rules
        self.retention = retention
    }

    mutating func add(_ sample: LagSample, for key: Key) {
        var samples = windows[key, default: []]
        samples.append(sample)
        let horizon = sample.at.addingTimeInterval(-rules.window.timeInterval)
        samples.removeAll { $0.at < horizon }
        windows[key] = samples
        var history = rateHistory[key, default: []]
        history.append(sample)
        let rateHorizon = sample.at.addingTimeInterval(-max(rules.rateWindow, rules.window).timeInterval)
        history.removeAll { $0.at < rateHorizon }
        rateHistory[key] = history
        // Nothing waits: the consumer is not late, however long ago it last committed.
        if sample.lag == 0 { unchangedSince[key] = (sample.committed, sample.at); return }
        if let known = unchangedSince[key], known.offset == sample.committed { return }
        unchangedSince[key] = (sample.committed, sample.at)
    }

    /// Forgets partitions that no longer exist.
    mutating func retain(_ keys: Set<Key>) {
        windows = windows.filter { keys.contains($0.key) }
        unchangedSince = unchangedSince.filter { keys.contains($0.key) }
        rateHistory = rateHistory.filter { keys.contains($0.key) }
    }

    /// When retention deletes the partition's oldest unread message (``TimeToLossEstimator``);
    /// caught up when lag was zero at any look of the status window.
    func timeToLoss(_ key: Key) -> TimeToLoss {
        let recent: [LagSample] = windows[key] ?? []
        let caughtUp: Bool = recent.contains(where: { $0.lag == 0 })
        let topicRetention: TopicRetention? = retention[key.topic]
        return TimeToLossEstimator.estimate(rateHistory[key] ?? [], retention: topicRetention, caughtUp: caughtUp)
    }

    func samples(_ key: Key) -> [LagSample] { windows[key] ?? [] }

    func evaluate(_ key: Key) -> Verdict {
        let verdict = trend(key)
        guard verdict.status < .warn else { return verdict }
        let loss = timeToLoss(key)
        guard loss.kind == .due, loss.warns(under: rules.timeToLossWarning) else { return verdict }
        return Verdict(status: .warn, reason: "oldest unread message deleted by retention in ~\(loss.text) (\(loss.basis))")
    }

    /// Rules 1–5.
    private func trend(_ key: Key) -> Verdict {
        guard let samples = windows[key], let last = samples.last else { return Verdict(status: .ok, reason: "no samples") }
        if let committed = last.committed, committed < last.logStart {
            return Verdict(status: .error, reason: "committed offset \(committed) is behind the log start \(last.logStart): \(last.logStart - committed) message(s) lost to retention")
        }
        for (a, b) in zip(samples, samples.dropFirst()) {
            if let from = a.committed, let to = b.committed, to < from {
                return Verdict(status: .error, reason: "committed offset moved backwards from \(from) to \(to)")
            }
        }
        if samples.contains(where: { $0.lag == 0 }) { return Verdict(status: .ok, reason: nil) }
        guard samples.count >= rules.minimumSamples else { return Verdict(status: .ok, reason: "not enough samples yet") }
        let first = samples[0]
        if first.committed == last.committed {
            let unchanged = unchangedSince[key].map { last.at.timeIntervalSince($0.since) } ?? 0
            let waiting = last.lagSeconds ?? 0
            let stopAfter = rules.stopAfter.timeInterval
            if waiting >= stopAfter || unchanged >= stopAfter {
                return Verdict(status: .stop, reason: String(format: "no commit for %.0f s; oldest waiting message %.0f s old", unchanged, waiting))
            }
            return Verdict(status: .stall, reason: String(format: "committed offset %@ not moving for %.0f s while %d message(s) wait",
                                                          last.committed.map(String.init) ?? "none", unchanged, last.lag))
        }
        // Burrow's rule: growth at every look, not a sawtooth that a commit interval draws.
        let grewAtEveryLook = zip(samples, samples.dropFirst()).allSatisfy { $0.lag < $1.lag }
        if grewAtEveryLook {
            return Verdict(status: .warn, reason: "lag grew from \(first.lag) to \(last.lag) over the window")
        }
        return Verdict(status: .ok, reason: nil)
    }

    /// The worst verdict over `keys` (OK when empty).
    func evaluate(group keys: [Key]) -> Verdict {
        keys.map(evaluate).max { $0.status < $1.status } ?? Verdict(status: .ok, reason: nil)
    }
}

extension Duration {
    /// The duration in seconds, as Foundation's `TimeInterval`.
    var timeInterval: TimeInterval {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
