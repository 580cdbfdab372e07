/// Remembers the next offset expected per partition and judges each fetched one.
///
/// Pure state machine so the rule is testable without a broker: a fetched offset equal to
/// the expected one is delivered; below it, it was already delivered (a re-seek) and is skipped;
/// above it, messages are missing and the partition must stop.
struct OffsetGapGuard: Sendable {
    enum Verdict: Equatable { case deliver, alreadyDelivered, gap(expected: Int64) }

    private var expected: [TopicPartitionOffset: Int64] = [:]

    /// Sets (or, with `nil`, forgets) where a partition will start.
    mutating func expect(_ position: TopicPartitionOffset) {
        expected[position.withoutOffset] = position.offset
    }

    mutating func forget(_ partition: TopicPartitionOffset) { expected[partition.withoutOffset] = nil }

    /// Judges a fetched offset and, when delivered, moves the expectation past it.
    mutating func judge(_ partition: TopicPartitionOffset, offset: Int64) -> Verdict {
        let key = partition.withoutOffset
        if let next = expected[key] {
            if offset > next { return .gap(expected: next) }
            if offset < next { return .alreadyDelivered }
        }
        expected[key] = offset + 1
        return .deliver
    }
}
