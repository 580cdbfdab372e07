import Foundation
import Kafka
import Testing
@testable import WorkerRuntime

/// The bookkeeping of pausing quiet input partitions (`IdlePause`): pure, so every rule is
/// checked on a clock the test moves.
@Suite("Idle pause: quiet input partitions are paused, probed and resumed")
struct IdlePauseTests {
    let policy = IdlePausePolicy(quietFor: .seconds(2), probeInterval: .milliseconds(100))
    let t0 = ContinuousClock.now
    let p0 = TopicPartitionOffset(topic: "in", partition: 0)
    let p1 = TopicPartitionOffset(topic: "in", partition: 1)

    func known(_ next: Int64?, high: Int64? = nil) -> (TopicPartitionOffset) -> IdlePause.Offsets {
        { _ in IdlePause.Offsets(next: next, fetchedHigh: high) }
    }

    @Test("a partition is paused only after the quiet time, and a delivery starts the time again")
    func quietTime() {
        var idle = IdlePause(policy: policy)
        idle.assigned([p0, p1], now: t0)
        #expect(idle.toPause(now: t0 + .milliseconds(1999), stopped: [], offsets: known(5)).isEmpty)
        idle.delivered(p1, now: t0 + .milliseconds(1500))
        #expect(idle.toPause(now: t0 + .seconds(2), stopped: [], offsets: known(5)) == [p0])
        #expect(idle.toPause(now: t0 + .milliseconds(3499), stopped: [], offsets: known(5)).isEmpty, "p0 is paused already; p1 is quiet for 1.999 s")
        #expect(idle.toPause(now: t0 + .milliseconds(3500), stopped: [], offsets: known(5)) == [p1])
        #expect(idle.paused == [p0: 5, p1: 5])
    }

    @Test("not paused: an unknown next offset, a fetched high watermark beyond it, a partition stopped by the gap guard")
    func notPaused() {
        var idle = IdlePause(policy: policy)
        idle.assigned([p0], now: t0)
        let later = t0 + .seconds(3)
        #expect(idle.toPause(now: later, stopped: [], offsets: known(nil, high: 0)).isEmpty)
        #expect(idle.toPause(now: later, stopped: [], offsets: known(5, high: 6)).isEmpty)
        #expect(idle.toPause(now: later, stopped: [p0], offsets: known(5, high: 5)).isEmpty)
        #expect(idle.paused.isEmpty && idle.nextProbe == nil)
        #expect(idle.toPause(now: later, stopped: [], offsets: known(5, high: 5)) == [p0])
    }

    @Test("the probe resumes exactly the partitions whose latest offset passed the next one read")
    func probeResumes() {
        var idle = IdlePause(policy: policy)
        idle.assigned([p0, p1], now: t0)
        _ = idle.toPause(now: t0 + .seconds(2), stopped: [], offsets: { $0 == p0 ? .init(next: 10, fetchedHigh: 10) : .init(next: 7, fetchedHigh: 7) })
        #expect(!idle.probeDue(now: t0 + .milliseconds(2099)))
        #expect(idle.probeDue(now: t0 + .milliseconds(2100)))
        let now = t0 + .milliseconds(2100)
        #expect(idle.probed(latest: [p0: 10, p1: 8], now: now) == [p1])
        #expect(idle.paused == [p0: 10])
        #expect(idle.nextProbe == now + .milliseconds(100))
        // A resumed partition counts as active from the probe: not paused again at once.
        #expect(idle.toPause(now: now + .milliseconds(1999), stopped: [], offsets: known(8)).isEmpty)
        #expect(idle.probed(latest: [p0: 11], now: now + .milliseconds(200)) == [p0])
        #expect(idle.paused.isEmpty && idle.nextProbe == nil)
    }

    @Test("probes slow to the idle interval only once every partition has been paused for idleAfter; any resume or assignment speeds them again")
    func idleProbes() {
        let policy = IdlePausePolicy(quietFor: .seconds(2), probeInterval: .milliseconds(100),
                                     idleProbeInterval: .milliseconds(500), idleAfter: .seconds(10))
        var idle = IdlePause(policy: policy)
        idle.assigned([p0, p1], now: t0)
        idle.delivered(p1, now: t0 + .seconds(1))
        #expect(idle.toPause(now: t0 + .seconds(2), stopped: [], offsets: known(5)) == [p0])
        // p1 is still fetched: a long quiet on p0 alone never slows the probes (a sparse stream
        // over many partitions keeps its 100 ms).
        #expect(idle.allPausedSince == nil)
        #expect(idle.probed(latest: [p0: 5], now: t0 + .milliseconds(2900)).isEmpty)
        #expect(idle.nextProbe == t0 + .seconds(3))
        #expect(idle.toPause(now: t0 + .seconds(3), stopped: [], offsets: known(5)) == [p1])
        #expect(idle.allPausedSince == t0 + .seconds(3))
        #expect(idle.probed(latest: [p0: 5, p1: 5], now: t0 + .milliseconds(12900)).isEmpty)
        #expect(idle.nextProbe == t0 + .seconds(13), "9.9 s of all paused: still 100 ms")
        #expect(idle.probed(latest: [p0: 5, p1: 5], now: t0 + .seconds(13)).isEmpty)
        #expect(idle.nextProbe == t0 + .milliseconds(13500), "10 s of all paused: 500 ms")

        // News on one partition: it resumes, and probes for the other are fast again at once.
        #expect(idle.probed(latest: [p0: 6, p1: 5], now: t0 + .seconds(20)) == [p0])
        #expect(idle.allPausedSince == nil)
        #expect(idle.nextProbe == t0 + .milliseconds(20100))
        #expect(idle.toPause(now: t0 + .seconds(22), stopped: [], offsets: known(6)) == [p0])
        #expect(idle.allPausedSince == t0 + .seconds(22), "idle time starts again from the last pause")

        // A new assignment is fetched: not idle.
        idle.assigned([TopicPartitionOffset(topic: "in", partition: 2)], now: t0 + .seconds(40))
        #expect(idle.allPausedSince == nil)
        #expect(idle.probeInterval(now: t0 + .seconds(60)) == .milliseconds(100))
    }

    @Test("a failed probe, or one that leaves a partition out, resumes it: fetching is always safe")
    func failedProbeResumes() {
        var idle = IdlePause(policy: policy)
        idle.assigned([p0, p1], now: t0)
        _ = idle.toPause(now: t0 + .seconds(2), stopped: [], offsets: known(3))
        #expect(idle.probed(latest: [p0: 3], now: t0 + .seconds(3)) == [p1])
        #expect(idle.probed(latest: nil, now: t0 + .seconds(4)) == [p0])
        #expect(idle.paused.isEmpty)
    }

    @Test("revoked partitions are forgotten; an assignment clears a pause the bookkeeping held")
    func rebalance() {
        var idle = IdlePause(policy: policy)
        idle.assigned([p0, p1], now: t0)
        _ = idle.toPause(now: t0 + .seconds(2), stopped: [], offsets: known(3))
        idle.revoked(partitions: [1])
        #expect(idle.paused == [p0: 3])
        #expect(idle.lastActivity.keys.sorted { $0.partition < $1.partition } == [p0])
        idle.delivered(p1, now: t0 + .seconds(5))
        #expect(idle.lastActivity[p1] == nil, "a delivery for a partition not assigned does not adopt it")
        idle.assigned([p0], now: t0 + .seconds(6))
        #expect(idle.paused.isEmpty && idle.nextProbe == nil)
    }

    @Test("CARD_IDLE_PAUSE: off, auto or a probe interval in ms; auto is on only below the probe interval's fetch wait")
    func setting() {
        #expect(IdlePauseSetting(environmentValue: "off") == .off)
        #expect(IdlePauseSetting(environmentValue: "AUTO") == .auto)
        #expect(IdlePauseSetting(environmentValue: "250") == .on(IdlePausePolicy(quietFor: .seconds(2), probeInterval: .milliseconds(250),
                                                                                 idleProbeInterval: .milliseconds(500), idleAfter: .seconds(10))))
        #expect(IdlePauseSetting(environmentValue: "1000") == .on(IdlePausePolicy(quietFor: .seconds(2), probeInterval: .seconds(1),
                                                                                  idleProbeInterval: .seconds(1), idleAfter: .seconds(10))),
                "the idle interval is never shorter than the probe interval")
        for bad in ["-1", "60001", "fast", "1.5"] { #expect(IdlePauseSetting(environmentValue: bad) == nil, "\(bad)") }
        #expect(IdlePauseSetting.auto.resolved(fetchMaxWait: .milliseconds(10)) == .standard)
        #expect(IdlePauseSetting.auto.resolved(fetchMaxWait: .milliseconds(500)) == nil)
        #expect(IdlePauseSetting.off.resolved(fetchMaxWait: .milliseconds(10)) == nil)
    }
}
