import Foundation
import Kafka
import Testing
@testable import CardWorkers
@testable import OperatorViews
@testable import WorkerRuntime

@Suite("Lag statuses (Burrow's rules), pure")
struct LagEvaluatorTests {
    let key = LagEvaluator.Key(group: "g", topic: "t", partition: 0)
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// Feeds (committed, logEnd, lagSeconds) one second apart and returns the verdict.
    func judge(_ looks: [(Int64?, Int64, Double?)], logStart: Int64 = 0, rules: LagRules = LagRules(window: .seconds(30), stopAfter: .seconds(60))) -> LagEvaluator.Verdict {
        var evaluator = LagEvaluator(rules: rules)
        for (i, look) in looks.enumerated() {
            evaluator.add(LagSample(at: start.addingTimeInterval(Double(i)), committed: look.0, logStart: logStart, logEnd: look.1, lagSeconds: look.2), for: key)
        }
        return evaluator.evaluate(key)
    }

    @Test func consumingAndCatchingUpIsOK() {
        #expect(judge([(10, 12, 1), (12, 15, 1), (15, 15, nil), (16, 18, 1)]).status == .ok, "lag reached zero in the window")
        #expect(judge([(10, 20, 1), (15, 24, 1), (20, 23, 1), (25, 30, 1)]).status == .ok, "moving, lag not growing at every look")
    }

    @Test func lagGrowingAtEveryLookWhileMovingIsWARN() {
        let verdict = judge([(10, 12, 1), (11, 15, 1), (12, 19, 2), (13, 25, 2)])
        #expect(verdict.status == .warn)
        #expect(verdict.reason?.contains("grew from 2 to 12") == true)
    }

    @Test func notMovingWithLagIsSTALLThenSTOP() {
        #expect(judge([(10, 12, 5), (10, 13, 6), (10, 14, 7)]).status == .stall)
        #expect(judge([(10, 12, 61), (10, 13, 62), (10, 14, 63)]).status == .stop, "the waiting message is older than stopAfter")
        // Unchanged for as long as stopAfter, seen by this evaluator itself.
        let long = (0..<25).map { i in (Int64(10), Int64(12 + i), Optional(Double(i))) }
        #expect(judge(long, rules: LagRules(window: .seconds(5), stopAfter: .seconds(20))).status == .stop)
    }

    /// `fleet lag --watch` on a partition idle at zero lag for an hour: one message then takes 40 s
    /// to commit. Only those 40 s count, not the hour since the last commit.
    @Test func idleTimeAtZeroLagDoesNotCountTowardSTOP() {
        let rules = LagRules(window: .seconds(30), stopAfter: .seconds(120))
        var evaluator = LagEvaluator(rules: rules)
        for minute in 0...60 {
            evaluator.add(LagSample(at: start.addingTimeInterval(Double(minute * 60)), committed: 10, logStart: 0, logEnd: 10), for: key)
        }
        let arrival = start.addingTimeInterval(3600)
        for second in 1...40 {
            evaluator.add(LagSample(at: arrival.addingTimeInterval(Double(second)), committed: 10, logStart: 0, logEnd: 11,
                                    lagSeconds: Double(second)), for: key)
        }
        let slow = evaluator.evaluate(key)
        #expect(slow.status == .stall, "\(slow)")
        #expect(slow.reason?.contains("for 40 s") == true, "\(slow)")

        // A real stop is still one: the same message waits past stop-after with no commit.
        for second in 41...125 {
            evaluator.add(LagSample(at: arrival.addingTimeInterval(Double(second)), committed: 10, logStart: 0, logEnd: 11,
                                    lagSeconds: Double(second)), for: key)
        }
        #expect(evaluator.evaluate(key).status == .stop)
    }

    @Test func aConsumerThatStoppedWhileIdleIsSTOPOnceAMessageWaitsLongEnough() {
        // Message timestamps unknown (the age reader failed): the unchanged time alone decides.
        var evaluator = LagEvaluator(rules: LagRules(window: .seconds(10), stopAfter: .seconds(30)))
        for i in 0..<10 { evaluator.add(LagSample(at: start.addingTimeInterval(Double(i)), committed: 7, logStart: 0, logEnd: 7), for: key) }
        for i in 10..<45 {
            evaluator.add(LagSample(at: start.addingTimeInterval(Double(i)), committed: 7, logStart: 0, logEnd: 8), for: key)
        }
        let verdict = evaluator.evaluate(key)
        #expect(verdict.status == .stop, "\(verdict)")
        #expect(verdict.reason?.contains("no commit for 35 s") == true, "\(verdict)")
    }

    @Test func behindTheLogStartOrRewoundIsERROR() {
        let lost = judge([(5, 100, nil)], logStart: 40)
        #expect(lost.status == .error)
        #expect(lost.reason?.contains("35 message(s) lost") == true)
        #expect(judge([(20, 30, 1), (15, 30, 1), (16, 31, 1)]).status == .error, "rewind")
    }

    @Test func tooFewSamplesJudgeNoTrend() {
        #expect(judge([(10, 12, 500), (10, 13, 501)]).status == .ok)
    }

    @Test func theGroupTakesItsWorstPartition() {
        var evaluator = LagEvaluator(rules: LagRules())
        let a = LagEvaluator.Key(group: "g", topic: "t", partition: 0), b = LagEvaluator.Key(group: "g", topic: "t", partition: 1)
        for i in 0..<3 {
            evaluator.add(LagSample(at: start.addingTimeInterval(Double(i)), committed: 5, logStart: 0, logEnd: 5), for: a)
            evaluator.add(LagSample(at: start.addingTimeInterval(Double(i)), committed: 5, logStart: 0, logEnd: 9, lagSeconds: 1), for: b)
        }
        #expect(evaluator.evaluate(group: [a, b]).status == .stall)
    }
}

@Suite("Stuck-partition rule, pure")
struct StuckPartitionDetectorTests {
    let tp = TopicPartitionOffset(topic: "t", partition: 3)

    @Test func firesOncePerEpisodeAndRecovers() {
        var detector = StuckPartitionDetector(timeout: .seconds(10))
        let t0 = ContinuousClock.now
        let idle = WorkerHealth.Progress(position: 5, since: t0 - .seconds(3600))
        // Idle for an hour, then a message arrives: the clock starts now, not an hour ago.
        var v = detector.evaluate([.init(partition: tp, progress: idle, low: 0, high: 6)], now: t0)
        #expect(v.stuck.isEmpty)
        v = detector.evaluate([.init(partition: tp, progress: idle, low: 0, high: 8)], now: t0 + .seconds(9))
        #expect(v.stuck.isEmpty)
        v = detector.evaluate([.init(partition: tp, progress: idle, low: 0, high: 8)], now: t0 + .seconds(10))
        #expect(v.stuck == [tp] && v.newlyStuck.count == 1)
        v = detector.evaluate([.init(partition: tp, progress: idle, low: 0, high: 9)], now: t0 + .seconds(20))
        #expect(v.stuck == [tp] && v.newlyStuck.isEmpty, "one warning per episode")
        let moved = WorkerHealth.Progress(position: 9, since: t0 + .seconds(21))
        v = detector.evaluate([.init(partition: tp, progress: moved, low: 0, high: 9)], now: t0 + .seconds(22))
        #expect(v.stuck.isEmpty && v.recovered == [tp])
    }

    @Test func aPositionBehindTheLogStartStillCountsAsUnconsumed() {
        let o = StuckPartitionDetector.Observation(partition: tp, progress: .init(position: 2, since: .now), low: 50, high: 60)
        #expect(o.unconsumed == 10)
        let fresh = StuckPartitionDetector.Observation(partition: tp, progress: .init(position: nil, since: .now), low: 0, high: 4)
        #expect(fresh.unconsumed == 4)
    }
}

@Suite("Trace context and stage reports, pure")
struct TraceAndStageTests {
    @Test func childSpansKeepTheTraceAndAreDeterministic() throws {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let child = TraceContext.child(of: parent, applicationID: "app-1", stage: "identity")
        #expect(TraceContext.traceID(of: child) == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(child != parent && child == TraceContext.child(of: parent, applicationID: "app-1", stage: "identity"))
        let started = TraceContext.child(of: "garbage", applicationID: "app-1", stage: "intake")
        let parts = started.split(separator: "-")
        #expect(parts.count == 4 && parts[1].count == 32 && parts[2].count == 16 && parts[3] == "01")
        #expect(TraceContext.traceID(of: TraceContext.child(of: started, applicationID: "app-1", stage: "routing")) == String(parts[1]))
    }

    @Test func stageReportsMergeAndGiveNearestRankQuantiles() {
        var a = StageReport(stage: "identity", unfinished: 2, oldestUnfinishedSince: Date(timeIntervalSince1970: 100), recentDurations: [1, 2, 3])
        a.merge(StageReport(stage: "identity", unfinished: 1, oldestUnfinishedSince: Date(timeIntervalSince1970: 50), recentDurations: Array(4...10).map(Double.init)))
        #expect(a.unfinished == 3 && a.oldestUnfinishedSince == Date(timeIntervalSince1970: 50))
        #expect(a.quantile(0.5) == 5 && a.quantile(0.9) == 9 && a.quantile(0.99) == 10)
        #expect(StageReport(stage: "x").quantile(0.5) == nil)
    }
}
