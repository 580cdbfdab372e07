/// One live instance of a worker type as its newest membership record shows it
/// (docs/state-changelog.md, "Standbys").
struct MemberView: Sendable, Equatable {
    /// The instance's stable id (``InstanceIdentity``), e.g. `host-1/4c1f9a0e`.
    var instance: String
    /// Input partitions it holds as the active owner.
    var active: Set<Int32>
}

/// Which partitions an instance keeps a standby copy of. Pure: Kafka Streams places standbys in its
/// assignor (KIP-441); librdkafka 2.0.2 has no custom assignor, so every instance computes the same
/// placement from the same membership view instead.
///
/// Rendezvous (highest-random-weight) hashing: for partition P, the instances that are not P's
/// active owner are ranked by `score(instance, P)` and the first `replicas` keep P's standby. Every
/// instance that sees the same members places the same standbys, and a member joining or leaving
/// moves only the standbys it wins or held (about 1/N of them), so warm copies stay warm.
enum StandbyPlacement {
    /// The partitions `me` keeps standby copies of.
    /// - Parameters:
    ///   - me: this instance's id; it counts as a member with `myActive` whatever `members` says
    ///     (its own record may not have been read back yet).
    ///   - members: the other live instances of the same worker type.
    ///   - partitionCount: partitions of the input (= of the changelog, co-partitioned).
    ///   - replicas: standby copies per partition (`CARD_STANDBY_REPLICAS`); 0 places none.
    static func standbys(me: String, myActive: Set<Int32>, members: [MemberView], partitionCount: Int32, replicas: Int) -> Set<Int32> {
        guard replicas > 0, partitionCount > 0 else { return [] }
        var everyone = members.filter { $0.instance != me }
        everyone.append(MemberView(instance: me, active: myActive))
        var mine: Set<Int32> = []
        for partition in 0..<partitionCount {
            let candidates = everyone.filter { !$0.active.contains(partition) }
            guard candidates.contains(where: { $0.instance == me }) else { continue }
            let ranked = candidates.sorted {
                let (a, b) = (score($0.instance, partition), score($1.instance, partition))
                return a != b ? a > b : $0.instance < $1.instance
            }
            if ranked.prefix(replicas).contains(where: { $0.instance == me }) { mine.insert(partition) }
        }
        return mine
    }

    /// A stable 64-bit weight of (instance, partition): FNV-1a over the id's UTF-8 and the
    /// partition's 4 bytes, then a murmur3 finaliser so near ids spread. Swift's `Hasher` is seeded
    /// per process, so every instance would rank differently; this must agree across hosts.
    static func score(_ instance: String, _ partition: Int32) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        for byte in instance.utf8 { mix(byte) }
        let p = UInt32(bitPattern: partition)
        for shift in stride(from: 0, to: 32, by: 8) { mix(UInt8(truncatingIfNeeded: p >> UInt32(shift))) }
        hash ^= hash >> 33
        hash &*= 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        hash &*= 0xc4ce_b9fe_1a85_ec53
        hash ^= hash >> 33
        return hash
    }
}
