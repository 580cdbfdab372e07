import Testing

@testable import WorkerRuntime

/// Standby placement and the standby's rules for the records it reads (docs/state-changelog.md, "Standbys").
@Suite("Standbys: placement and record rules")
struct StandbyPlacementTests {
    static let ids = ["host-a/00000001", "host-b/00000002", "host-c/00000003"]

    /// Three instances owning 8 partitions each.
    static func members(_ ids: [String] = ids, partitions: Int32 = 24) -> [MemberView] {
        let share = Int(partitions) / ids.count
        return ids.enumerated().map { index, id in
            MemberView(instance: id, active: Set((index * share..<(index + 1) * share).map { Int32($0) }))
        }
    }

    /// Every member's placement as that member computes it.
    static func placements(_ members: [MemberView], replicas: Int, partitions: Int32 = 24) -> [String: Set<Int32>] {
        Dictionary(uniqueKeysWithValues: members.map { me in
            (me.instance, StandbyPlacement.standbys(me: me.instance, myActive: me.active, members: members,
                                                     partitionCount: partitions, replicas: replicas))
        })
    }

    @Test("each partition gets exactly `replicas` copies, never on its owner", arguments: [1, 2])
    func exactCopiesNeverOnOwner(replicas: Int) {
        let members = Self.members()
        let placed = Self.placements(members, replicas: replicas)
        for partition in Int32(0)..<24 {
            let holders = placed.filter { $0.value.contains(partition) }.map(\.key)
            #expect(holders.count == replicas, "partition \(partition): \(holders)")
            let owner = members.first { $0.active.contains(partition) }!.instance
            #expect(!holders.contains(owner), "partition \(partition)'s copy is on its owner")
        }
    }

    @Test("a member leaving moves only the copies it held; the others stay where they were warmed")
    func leavingMovesOnlyItsCopies() {
        let before = Self.placements(Self.members(), replicas: 1)
        // host-c leaves; its partitions 16..23 go to host-a and host-b.
        var a = Self.members()[0], b = Self.members()[1]
        a.active.formUnion((16..<20).map { Int32($0) })
        b.active.formUnion((20..<24).map { Int32($0) })
        let after = Self.placements([a, b], replicas: 1)
        for partition in Int32(0)..<16 {
            let holderBefore = before.first { $0.value.contains(partition) }!.key
            let holderAfter = after.first { $0.value.contains(partition) }!.key
            if holderBefore != "host-c/00000003" {
                #expect(holderAfter == holderBefore, "partition \(partition) moved from \(holderBefore) to \(holderAfter) though neither it nor its owner changed")
            }
        }
        // With two members every partition's copy is on the member that does not own it.
        for partition in Int32(0)..<24 {
            let owner = a.active.contains(partition) ? a.instance : b.instance
            let holder = after.first(where: { $0.value.contains(partition) })?.key
            #expect(holder != nil && holder != owner)
        }
    }

    @Test("nothing is placed for a lone instance, for 0 replicas, or while this instance's record is all it knows of its own partitions")
    func nothingToPlace() {
        let all = Set((0..<24).map { Int32($0) })
        #expect(StandbyPlacement.standbys(me: "x/1", myActive: all, members: [], partitionCount: 24, replicas: 1).isEmpty)
        #expect(Self.placements(Self.members(), replicas: 0).values.allSatisfy { $0.isEmpty })
        // Its own (stale) record in `members` does not count: what it holds now does.
        let stale = MemberView(instance: "x/1", active: [])
        #expect(StandbyPlacement.standbys(me: "x/1", myActive: all, members: [stale], partitionCount: 24, replicas: 1).isEmpty)
    }

    @Test("the weight is the same on every host (FNV-1a and a murmur3 finaliser, not Swift's seeded Hasher)")
    func scoreIsPinned() {
        #expect(StandbyPlacement.score("host-a/00000001", 3) == 0x9579_3ea7_5d14_d949)
        #expect(StandbyPlacement.score("host-b/00000002", 3) == 0x6edf_dded_72a5_30a3)
    }

    // MARK: - What a copy does with a record

    static func entry(_ version: Int64, after predecessor: Int64, epoch: Int64, predecessorEpoch: Int64?) -> ChangelogEntry {
        ChangelogEntry(version: version, predecessor: predecessor, epoch: epoch, offset: 0, changeset: [], predecessorEpoch: predecessorEpoch)
    }

    @Test("a record that follows the copy's state is applied; a zombie's or a copy's is skipped; another branch means catching up")
    func standbySteps() {
        let state = StatePoint(version: 10, epoch: 0x2_0005)
        #expect(StandbyStep.of(Self.entry(11, after: 10, epoch: 0x2_0005, predecessorEpoch: 0x2_0005), at: state) == .apply)
        #expect(StandbyStep.of(Self.entry(11, after: 10, epoch: 0x3_0001, predecessorEpoch: 0x2_0005), at: state) == .apply, "a new owner going on from the copy's state")
        #expect(StandbyStep.of(Self.entry(11, after: 10, epoch: 0x2_0005, predecessorEpoch: nil), at: state) == .apply, "a record from before predecessor epochs")
        #expect(StandbyStep.of(Self.entry(11, after: 10, epoch: 0x1_0009, predecessorEpoch: 0x2_0005), at: state) == .skip, "a lower epoch: a zombie's")
        #expect(StandbyStep.of(Self.entry(9, after: 8, epoch: 0x2_0005, predecessorEpoch: 0x2_0005), at: state) == .skip, "sent twice")
        #expect(StandbyStep.of(Self.entry(10, after: 9, epoch: 0x2_0005, predecessorEpoch: 0x2_0005), at: state) == .skip, "sent twice")
        #expect(StandbyStep.of(Self.entry(9, after: 8, epoch: 0x3_0001, predecessorEpoch: 0x2_0005), at: state) == .catchUp, "a new owner restored from an older state")
        #expect(StandbyStep.of(Self.entry(11, after: 10, epoch: 0x3_0001, predecessorEpoch: 0x2_0007), at: state) == .catchUp, "same version, another writer")
        #expect(StandbyStep.of(Self.entry(13, after: 12, epoch: 0x3_0001, predecessorEpoch: 0x3_0001), at: state) == .catchUp, "records missed")
    }

    @Test("a file at a state of the chain applies only the records after it; any other file needs a full restore")
    func tailAfterLocalState() {
        let e: Int64 = 0x2_0005
        let chain = (1...6).map { Self.entry(Int64($0), after: Int64($0) - 1, epoch: e, predecessorEpoch: $0 == 1 ? nil : e) }
        let plan = ChangelogChain.Plan(base: nil, chain: chain)
        #expect(ChangelogRestore.tail(of: plan, after: LocalHistory(checkpoint: StatePoint(version: 4, epoch: e)))?.map(\.version) == [5, 6])
        #expect(ChangelogRestore.tail(of: plan, after: LocalHistory(checkpoint: StatePoint(version: 6, epoch: e)))?.isEmpty == true)
        #expect(ChangelogRestore.tail(of: plan, after: LocalHistory(checkpoint: StatePoint(version: 4, epoch: 0x2_0006))) == nil, "another writer's version 4")
        #expect(ChangelogRestore.tail(of: plan, after: LocalHistory(checkpoint: StatePoint(version: 7, epoch: e))) == nil, "ahead: records of its own")
        #expect(ChangelogRestore.tail(of: plan, after: LocalHistory(checkpoint: StatePoint(version: 0, epoch: 0))) == nil, "never stamped")
        let fromSnapshot = ChangelogChain.Plan(base: ChangelogSnapshot(id: "s", state: StatePoint(version: 3, epoch: e), offset: 9, image: []),
                                               chain: Array(chain[3...]))
        #expect(ChangelogRestore.tail(of: fromSnapshot, after: LocalHistory(checkpoint: StatePoint(version: 3, epoch: e)))?.map(\.version) == [4, 5, 6],
                "a file at the snapshot's state")
        #expect(ChangelogRestore.tail(of: fromSnapshot, after: LocalHistory(checkpoint: StatePoint(version: 2, epoch: e))) == nil,
                "behind the snapshot: its records may be gone")
    }
}
