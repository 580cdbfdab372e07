import Testing
import WorkerRuntime
@testable import OperatorViews

/// `fleet members`: the newest membership record per instance, gone and stopped instances, and the
/// partitions nobody keeps a copy of.
@Suite("fleet members: the membership view")
struct MembershipViewTests {
    static func record(_ worker: String, _ instance: String, active: [Int32], standby: [Int32], lag: [String: Int64] = [:]) -> Membership.Record {
        Membership.Record(worker: worker, instance: instance, active: active, standby: standby, standbyLag: lag, intervalMs: 2000, standbyDelayMs: 300)
    }

    @Test("newest record per instance; a tombstone removes it; a record 10 s old is gone; foreign values are ignored")
    func newestPerInstance() {
        let now: Int64 = 1_000_000
        let view = MembershipView([
            ("identity/a", Self.record("identity", "a", active: [0, 1], standby: []), false, now - 8000),
            ("identity/a", Self.record("identity", "a", active: [0], standby: [2], lag: ["2": 4]), false, now - 1000),
            ("identity/b", Self.record("identity", "b", active: [1, 2], standby: [0]), false, now - 1500),
            ("identity/c", Self.record("identity", "c", active: [3], standby: []), false, now - 30_000),
            ("identity/d", Self.record("identity", "d", active: [3], standby: []), false, now - 500),
            ("identity/d", nil, true, now - 200),
            ("identity/x", nil, false, now - 100),
            ("identity/future", Self.record("identity", "future", active: [4, 5], standby: [0, 1, 2, 3]), false, now + 3_600_000),
        ], nowMs: now, partitionCounts: ["identity": 6])
        #expect(view.instances.map(\.instance) == ["a", "b", "c", "future"])
        #expect(view.instances.first?.active == [0] && view.instances.first?.behindRecords == 4, "the newest of a's two records")
        #expect(view.instances.map(\.gone) == [false, false, true, true], "30 s old, and an hour ahead of this clock")
        // Live: a owns 0 (copy on b), b owns 1 and 2 (copy of 2 on a, none of 1); c is gone.
        #expect(view.withoutCopy(worker: "identity") == [1])
        #expect(view.withoutOwner(worker: "identity") == [3, 4, 5], "c is gone, the future record is not believed")
        let text = view.render()
        #expect(text.contains("no standby copy of partition(s) 1; partition(s) 3-5 owned by no instance heard"))
        #expect(text.contains("(gone)") && text.contains("s ahead (gone)"))
    }

    @Test("nothing written: one line that says why")
    func empty() {
        #expect(MembershipView([], nowMs: 0).render().contains("no worker instance has written"))
    }

    @Test("long partition lists are never cut")
    func longListsWhole() {
        let many = (0..<24).filter { $0 % 2 == 0 }.map(Int32.init)
        let view = MembershipView([("routing/a", Self.record("routing", "a", active: [], standby: many), false, 0)], nowMs: 0)
        #expect(view.render().contains("0,2,4,6,8,10,12,14,16,18,20,22"))
    }
}
