/// Remembers the next offset expected per partition and judges each fetched one.
///
/// Pure state machine so the rule is testable without a broker: a fetched offset equal to
/// the expected one is delivered; below it, it was already delivered (a re-seek) and is skipped;
/// above it, offsets were skipped — a `hole` the caller must classify with ``isLoss(expected:logStart:)``.
///
/// Offsets legally hold nothing a consumer receives: transaction markers (KIP-98 control
/// records, one per partition per committed or aborted transaction), records of aborted
/// transactions (filtered under `isolation.level=read_committed`, librdkafka's default), and
/// compaction holes. So a hole is loss only when the log start offset has passed the
/// expected offset: retention deleted records the consumer never read.
struct OffsetGapGuard: Sendable {
    enum Verdict: Equatable { case deliver, alreadyDelivered, hole(expected: Int64) }

    private var expected: [TopicPartitionOffset: Int64] = [:]
    /// The consumer's position when the partition was assigned, until something is delivered:
    /// librdkafka keeps a partition's application position across assignments, so until it
    /// changes it says nothing about this one (it may even be ahead of the stored offset).
    private var positionAtAssignment: [TopicPartitionOffset: Int64] = [:]

    /// Sets (or, with `nil`, forgets) where a partition will start; `positionNow` is the
    /// consumer's position for it at this moment, if any.
    mutating func expect(_ position: TopicPartitionOffset, positionNow: Int64? = nil) {
        expected[position.withoutOffset] = position.offset
        positionAtAssignment[position.withoutOffset] = positionNow
    }

    mutating func forget(_ partition: TopicPartitionOffset) {
        expected[partition.withoutOffset] = nil
        positionAtAssignment[partition.withoutOffset] = nil
    }

    /// The next offset expected, when known.
    func next(_ partition: TopicPartitionOffset) -> Int64? { expected[partition.withoutOffset] }

    /// Judges a fetched offset and, when delivered, moves the expectation past it.
    /// A `hole` leaves the expectation where it was: call ``accept(_:offset:)`` once it is judged legal.
    mutating func judge(_ partition: TopicPartitionOffset, offset: Int64) -> Verdict {
        let key = partition.withoutOffset
        if let next = expected[key] {
            if offset > next { return .hole(expected: next) }
            if offset < next { return .alreadyDelivered }
        }
        expected[key] = offset + 1
        positionAtAssignment[key] = nil
        return .deliver
    }

    /// Delivers `offset` past a legal hole (or without judging it): the next expected is `offset + 1`.
    mutating func accept(_ partition: TopicPartitionOffset, offset: Int64) {
        expected[partition.withoutOffset] = offset + 1
        positionAtAssignment[partition.withoutOffset] = nil
    }

    /// Moves the expectation to `position` when it is ahead: the consumer's position passed offsets
    /// that hold nothing to deliver. Returns whether it moved.
    mutating func advance(_ partition: TopicPartitionOffset, to position: Int64) -> Bool {
        let key = partition.withoutOffset
        if let next = expected[key], next >= position { return false }
        if positionAtAssignment[key] == position { return false }
        expected[key] = position
        positionAtAssignment[key] = nil
        return true
    }

    /// Whether a hole starting at `expected` is loss: only when the log start offset (low
    /// watermark) is past it. An unknown log start (the broker did not answer) counts as loss,
    /// so a partition is stopped rather than skipped on a guess.
    static func isLoss(expected: Int64, logStart: Int64?) -> Bool {
        guard let logStart else { return true }
        return logStart > expected
    }
}
