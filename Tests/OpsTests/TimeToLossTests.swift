import Foundation
import Testing
@testable import OperatorViews

@Suite("Time to data loss, pure")
struct TimeToLossTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let size = TopicRetention(seconds: nil, bytes: 1_000_000, source: "test")
    let week = 7 * 86_400.0

    /// Samples one second apart from `(committed, logStart, logEnd, lagSeconds)`.
    func samples(_ looks: [(Int64?, Int64, Int64, Double?)], bytes: [Int64]? = nil) -> [LagSample] {
        looks.enumerated().map { i, l in
            LagSample(at: start.addingTimeInterval(Double(i)), committed: l.0, logStart: l.1, logEnd: l.2, lagSeconds: l.3, bytes: bytes?[i])
        }
    }

    /// Eleven looks, t = 0…10 s.
    func looks(_ look: (Int64) -> (Int64?, Int64, Int64, Double?)) -> [(Int64?, Int64, Int64, Double?)] {
        (Int64(0)...10).map(look)
    }

    @Test func noSamplesOrOneSampleWithoutAgeRetentionIsUnknown() {
        #expect(TimeToLossEstimator.estimate([], retention: size).kind == .unknown)
        let one = TimeToLossEstimator.estimate(samples([(10, 0, 20, 5)]), retention: size)
        #expect(one.kind == .unknown && one.text == "-" && one.gaugeValue == nil && !one.warns(under: .seconds(3600)))
    }

    @Test func behindTheLogStartIsLost() {
        let lost = TimeToLossEstimator.estimate(samples([(5, 40, 100, nil)]), retention: nil)
        #expect(lost.kind == .lost && lost.text == "LOST" && lost.gaugeValue == 0 && lost.warns(under: .seconds(1)))
    }

    @Test func aCaughtUpGroupNeverWarnsHoweverFastTheLogStartMoves() {
        // Lag 0 at the last look: nothing unread.
        let idle = TimeToLossEstimator.estimate((0..<10).map { i in
            LagSample(at: start.addingTimeInterval(Double(i)), committed: 1000 + Int64(i) * 100, logStart: Int64(i) * 100, logEnd: 1000 + Int64(i) * 100)
        }, retention: size)
        #expect(idle.kind == .never && idle.text == "∞" && idle.gaugeValue == .infinity)
        // Lag above zero now, but the caller saw it at zero within its window.
        let looks: [(Int64?, Int64, Int64, Double?)] = [(1000, 900, 1000, nil), (1000, 945, 1045, 1), (1000, 990, 1090, 1)]
        #expect(TimeToLossEstimator.estimate(samples(looks), retention: size, caughtUp: true).kind == .never)
        #expect(TimeToLossEstimator.estimate(samples(looks), retention: size).kind == .due, "the same looks without the caught-up flag are due")
    }

    /// The log start moves in whole message sets, the group commits in batches, out of phase: over
    /// the window the log start moved 160, the commits 120, yet the group keeps pace.
    @Test func aGroupKeepingPaceOutOfPhaseWithTheDeletionsNeverWarns() {
        let logStarts: [Int64] = [0, 40, 40, 80, 80, 120, 120, 160]
        let commits: [Int64] = [1000, 1000, 1040, 1040, 1080, 1080, 1120, 1120]
        let looks = zip(commits, logStarts).map { c, s in (Optional(c), s, c + 30, Optional(1.0)) }
        let loss = TimeToLossEstimator.estimate(samples(looks), retention: size)
        #expect(loss.kind == .never, "a closing speed within one step of each is no closing: \(loss)")
        // The log start seen moving once only: no rate yet.
        #expect(TimeToLossEstimator.estimate(samples([(1000, 0, 1100, 1), (1000, 40, 1140, 2)]), retention: size).kind == .never)
    }

    @Test func sizeRetentionAStoppedGroupIsDueAtGapOverTheLogStartRate() {
        // Full partition: the log start advances 50 msg/s toward a group stopped at 1000.
        let rows = looks { t in (Optional(Int64(1000)), Int64(200 + 50 * t), Int64(1500 + 50 * t), Optional(Double(t))) }
        let due = TimeToLossEstimator.estimate(samples(rows), retention: size)
        #expect(due.kind == .due)
        #expect(abs((due.seconds ?? 0) - 6) < 0.001, "(1000 − 700) / 50 msg/s = 6 s, got \(due)")
        #expect(due.text == "6s" && due.warns(under: .seconds(3600)) && !due.warns(under: .seconds(5)))
    }

    @Test func sizeRetentionTheGapClosesAtTheDifferenceOfRates() {
        // Group consumes 20 msg/s, log start advances 50 msg/s: gap closes at 30 msg/s.
        let slow = looks { t in (Optional(Int64(1000 + 20 * t)), Int64(200 + 50 * t), Int64(3000 + 50 * t), Optional(1.0)) }
        let due = TimeToLossEstimator.estimate(samples(slow), retention: size)
        #expect(abs((due.seconds ?? 0) - Double(1200 - 700) / 30) < 0.001, "\(due)")
        // Consuming faster than the log start advances: never by size.
        let fast = looks { t in (Optional(Int64(1000 + 60 * t)), Int64(200 + 50 * t), Int64(3000 + 50 * t), Optional(1.0)) }
        #expect(TimeToLossEstimator.estimate(samples(fast), retention: size).kind == .never)
        // The log start not moving and no sizes known: never (yet).
        let still = looks { t in (Optional(Int64(1000)), Int64(0), Int64(2000 + 50 * t), Optional(Double(t))) }
        #expect(TimeToLossEstimator.estimate(samples(still), retention: size).kind == .never)
    }

    @Test func sizeRetentionWithBytesAddsTheTimeToFillThePartition() {
        // 500,000 of 1,000,000 bytes, growing 10,000 B/s: full in 50 s; then the log start advances at the
        // produce rate, 10 msg/s, toward a group stopped 100 messages ahead of it: 10 s more.
        let rows = looks { t in (Optional(Int64(100)), Int64(0), Int64(1000 + 10 * t), Optional(Double(t))) }
        let bytes = (0...10).map { Int64(400_000 + 10_000 * $0) }
        let due = TimeToLossEstimator.estimate(samples(rows, bytes: bytes), retention: size)
        #expect(due.kind == .due && abs((due.seconds ?? 0) - 60) < 0.001, "\(due)")
    }

    @Test func timeRetentionIsTheOldestUnreadTimestampPlusRetention() {
        let ages = TopicRetention(seconds: week, bytes: nil, source: "test")
        // One look, 30 min before its week is up: the group is assumed stopped.
        let one = TimeToLossEstimator.estimate(samples([(10, 0, 20, week - 1800)]), retention: ages)
        #expect(one.kind == .due && one.seconds == 1800 && one.text == "30m")
        // Stopped (age grows with the clock): the same.
        let stopped = TimeToLossEstimator.estimate(samples(looks { t in (10, 0, 20, week - 1810 + Double(t)) }), retention: ages)
        #expect(abs((stopped.seconds ?? 0) - 1800) < 0.001, "\(stopped)")
        // Consuming, the oldest unread ages at half speed: twice as long.
        let half = TimeToLossEstimator.estimate(samples(looks { t in (Optional(Int64(10 + t)), 0, 40, Optional(week - 1805 + Double(t) / 2)) }),
                                                retention: ages)
        #expect(abs((half.seconds ?? 0) - 3600) < 0.001, "\(half)")
        // Catching up (the oldest unread gets younger): never.
        let catching = TimeToLossEstimator.estimate(samples(looks { t in (Optional(Int64(10 + t)), 0, 40, Optional(week - 1000 - Double(t))) }),
                                                    retention: ages)
        #expect(catching.kind == .never, "\(catching)")
    }

    @Test func theSoonerOfSizeAndTimeWins() {
        let both = TopicRetention(seconds: 3600, bytes: 1_000_000, source: "test")
        // Size: (1000 − 700) / 50 = 6 s; time: 3600 − 3000 = 600 s.
        let rows = looks { t in (Optional(Int64(1000)), Int64(200 + 50 * t), Int64(1500 + 50 * t), Optional(2990.0 + Double(t))) }
        #expect(abs((TimeToLossEstimator.estimate(samples(rows), retention: both).seconds ?? 0) - 6) < 0.001)
        let looksSlow = looks { t in (Optional(Int64(1000)), Int64(200 + t), Int64(1500 + t), Optional(2990.0 + Double(t))) }
        let time = TimeToLossEstimator.estimate(samples(looksSlow), retention: both)
        #expect(abs((time.seconds ?? 0) - 600) < 0.001 && time.basis.contains("retention.ms"), "\(time)")
    }

    @Test func retentionFromTopicConfigs() {
        let r = TopicRetention.from(configs: ["cleanup.policy": "delete", "retention.ms": "604800000", "retention.bytes": "-1"])
        #expect(r.seconds == week && r.bytes == nil)
        #expect(TopicRetention.from(configs: ["retention.ms": "-1", "retention.bytes": "1073741824"]) == TopicRetention(seconds: nil, bytes: 1 << 30, source: "retention.ms/retention.bytes"))
        let compacted = TopicRetention.from(configs: ["cleanup.policy": "compact", "retention.ms": "604800000"])
        #expect(compacted.seconds == nil && compacted.bytes == nil, "a compacted topic deletes nothing by age")
        #expect(TopicRetention.from(configs: ["cleanup.policy": "compact,delete", "retention.ms": "1000"]).seconds == 1)
        #expect(TopicRetention.embeddedBroker.bytes == 5 * 1024 * 1024 && TopicRetention.embeddedBroker.seconds == nil)
    }

    @Test func humanForm() {
        #expect(TimeToLoss.human(45.9) == "45s" && TimeToLoss.human(42 * 60 + 59) == "42m" && TimeToLoss.human(3 * 3600) == "3h")
        #expect(TimeToLoss.human(3 * 3600 + 5 * 60) == "3h5m" && TimeToLoss.human(2 * 86_400 + 4 * 3600 + 59) == "2d4h")
    }

    /// The evaluator turns a due loss within the threshold into WARN, and leaves worse statuses alone.
    @Test func evaluatorWarnsWhenDueWithinTheThreshold() {
        let key = LagEvaluator.Key(group: "g", topic: "t", partition: 0)
        func judge(logStartStep: Int64, rules: LagRules = LagRules(window: .seconds(30), stopAfter: .seconds(600))) -> (LagEvaluator.Verdict, TimeToLoss) {
            var evaluator = LagEvaluator(rules: rules, retention: ["t": size])
            for t in 0...10 {
                // Consuming 10 msg/s with a steady lag of 100: Burrow's rules say OK.
                evaluator.add(LagSample(at: start.addingTimeInterval(Double(t)), committed: 1000 + 10 * Int64(t),
                                        logStart: 500 + logStartStep * Int64(t), logEnd: 1100 + 10 * Int64(t), lagSeconds: 1), for: key)
            }
            return (evaluator.evaluate(key), evaluator.timeToLoss(key))
        }
        let (near, nearLoss) = judge(logStartStep: 40)
        #expect(near.status == .warn && near.reason?.contains("deleted by retention in ~6s") == true, "\(near) \(nearLoss)")
        let (far, farLoss) = judge(logStartStep: 40, rules: LagRules(window: .seconds(30), stopAfter: .seconds(600), timeToLossWarning: .seconds(5)))
        #expect(far.status == .ok && farLoss.kind == .due, "due in 6.7 s, over a 5 s threshold: \(far) \(farLoss)")
        let (keeping, keepingLoss) = judge(logStartStep: 10)
        #expect(keeping.status == .ok && keepingLoss.kind == .never, "\(keeping) \(keepingLoss)")

        // A stopped group stays STALL (worse than WARN), its time to loss still measured.
        var evaluator = LagEvaluator(rules: LagRules(window: .seconds(30), stopAfter: .seconds(600)), retention: ["t": size])
        for t in 0...10 {
            evaluator.add(LagSample(at: start.addingTimeInterval(Double(t)), committed: 1000, logStart: 500 + 40 * Int64(t),
                                    logEnd: 1100 + 40 * Int64(t), lagSeconds: Double(t)), for: key)
        }
        #expect(evaluator.evaluate(key).status == .stall)
        #expect(evaluator.timeToLoss(key).kind == .due && abs((evaluator.timeToLoss(key).seconds ?? 0) - 2.5) < 0.001)
    }

    /// What the ops page's /metrics and body show for a report: the gauge per partition (0 lost,
    /// +Inf never, a figure when due, nothing when unknown) and the group's soonest partition.
    @Test func opsPageGaugeAndColumn() throws {
        func partition(_ n: Int32, _ loss: TimeToLoss?) -> LagReport.Partition {
            LagReport.Partition(topic: "t", partition: n, committed: 10, logStart: 0, logEnd: 20, lag: 10, lagSeconds: 1, status: .ok, reason: nil, timeToLoss: loss)
        }
        let partitions = [partition(0, .due(1500, "size")), partition(1, .never("caught up")), partition(2, .unknown("one sample")), partition(3, .due(90, "size"))]
        let soonest = try #require(LagReport.Group.soonest(partitions))
        #expect(soonest.0.seconds == 90 && soonest.1 == "t[3]")
        let group = LagReport.Group(group: "g", topics: ["t"], status: .warn, reason: nil, lag: 40, maxLagSeconds: 1, consumed: 40,
                                    partitions: partitions, timeToLoss: soonest.0, timeToLossPartition: soonest.1)
        let collector = OpsCollector(bootstrapServers: "127.0.0.1:1", groups: [], workerMetrics: [], logger: .init(label: "test"))
        collector.exportTimeToLoss(LagReport(at: start, groups: [group]))
        var buffer: [UInt8] = []
        collector.metricsRegistry.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        func value(_ partition: Int32) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix("card_lag_time_to_loss_seconds{") && $0.contains("partition=\"\(partition)\"") && $0.contains("group=\"g\"") }
                .map { String($0.split(separator: " ").last!) }
        }
        #expect(value(0) == "1500.0" && value(3) == "90.0" && value(1) == "inf", "\(text)")
        #expect(value(2) == nil, "not measured: no series")
        // A partition no longer measured loses its series.
        let lost = LagReport.Group(group: "g", topics: ["t"], status: .error, reason: nil, lag: 40, maxLagSeconds: 1, consumed: 40,
                                   partitions: [partition(0, .lost("behind"))], timeToLoss: .lost("behind"), timeToLossPartition: "t[0]")
        collector.exportTimeToLoss(LagReport(at: start, groups: [lost]))
        buffer = []
        collector.metricsRegistry.emit(into: &buffer)
        let after = String(decoding: buffer, as: UTF8.self)
        #expect(after.contains("partition=\"0\"") && after.contains("} 0.0") && !after.contains("partition=\"3\""), "\(after)")

        var state = OpsCollector.State()
        state.lag = LagReport(at: start, groups: [group])
        state.history = [OpsCollector.Point(at: start, lag: ["g": 40], rate: [:], timeToLoss: ["g": 90])]
        let body = OpsPage.body(state)
        #expect(body.contains("<td class=\"num ttl\" title=\"size\">1m</td><td>t[3]</td>"), "\(body)")
        #expect(body.contains("id=\"loss-chart\""))
    }

    /// The partition fills mid-window: the log start's rate counts from the last look before it moved.
    @Test func aLogStartThatJustStartedMovingIsMeasuredFromThen() {
        // Still for 8 s, then 50 msg/s for 2 s: 50 msg/s, not 100/10 = 10 msg/s.
        let rows = looks { t in (Optional(Int64(1000)), t <= 8 ? 0 : 50 * (t - 8), Int64(1500 + 50 * t), Optional(Double(t))) }
        let due = TimeToLossEstimator.estimate(samples(rows), retention: size)
        #expect(due.kind == .due && abs((due.seconds ?? 0) - Double(1000 - 100) / 50) < 0.001, "\(due)")
    }
}
