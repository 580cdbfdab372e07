import Foundation
import Kafka
import Synchronization

/// What a worker's ops endpoints tell: alive, ready, which partitions it holds and how far each got.
///
/// The loop reports assignments and progress; the reference loader reports whether its tables
/// caught up; the watchdog reports stuck partitions. Readers (the HTTP surface, tests) take
/// a `Snapshot`. Every access goes through one `Mutex`, so it is safe from any thread.
public final class WorkerHealth: Sendable {
    /// One partition's progress as the watchdog sees it.
    public struct Progress: Sendable, Hashable {
        /// The next offset the worker will read (its stored truth); `nil` when it starts from the beginning.
        public var position: Int64?
        /// When `position` last moved (or the partition was assigned).
        public var since: ContinuousClock.Instant
    }

    /// A point-in-time view, encodable for `/readyz`.
    public struct Snapshot: Sendable, Codable, Hashable {
        public var worker: String
        public var ready: Bool
        /// Why the worker is not ready (empty when ready).
        public var reasons: [String]
        public var assignedPartitions: [Int32]
        /// `nil` when the worker has no reference tables.
        public var referenceTablesCaughtUp: Bool?
        /// `topic[partition]` of every partition the watchdog holds stuck.
        public var stuckPartitions: [String]

        enum CodingKeys: String, CodingKey {
            case worker, ready, reasons
            case assignedPartitions = "assigned_partitions"
            case referenceTablesCaughtUp = "reference_tables_caught_up"
            case stuckPartitions = "stuck_partitions"
        }
    }

    private struct State {
        var progress: [TopicPartitionOffset: Progress] = [:]
        var referenceCaughtUp: (@Sendable () -> Bool)?
        var stuck: Set<TopicPartitionOffset> = []
        var restoring: Set<Int32> = []
    }

    public let worker: String
    private let state = Mutex(State())

    public init(worker: String) { self.worker = worker }

    // MARK: - Reported by the runtime

    func attachReference(_ isCaughtUp: @escaping @Sendable () -> Bool) {
        state.withLock { $0.referenceCaughtUp = isCaughtUp }
    }

    /// Partitions assigned at these positions (the offsets the worker seeks to).
    func assigned(_ positions: [TopicPartitionOffset]) {
        let now = ContinuousClock.now
        state.withLock { s in
            for p in positions { s.progress[p.withoutOffset] = Progress(position: p.offset, since: now) }
        }
    }

    /// Every partition of these numbers (whatever the topic) was revoked.
    func revoked(partitions: Set<Int32>) {
        state.withLock { s in
            s.progress = s.progress.filter { !partitions.contains($0.key.partition) }
            s.stuck = s.stuck.filter { !partitions.contains($0.partition) }
        }
    }

    /// The worker stored `next` as the next offset of `partition`.
    func advanced(_ partition: TopicPartitionOffset, next: Int64) {
        let now = ContinuousClock.now
        state.withLock { s in
            let key = partition.withoutOffset
            if s.progress[key]?.position != next { s.progress[key] = Progress(position: next, since: now) }
        }
    }

    /// Partition `partition`'s state is being restored from the changelog (`true`) or no longer is.
    func restoring(_ partition: Int32, _ isRestoring: Bool) {
        state.withLock { s in
            if isRestoring { s.restoring.insert(partition) } else { s.restoring.remove(partition) }
        }
    }

    func setStuck(_ stuck: Set<TopicPartitionOffset>) { state.withLock { $0.stuck = stuck } }

    // MARK: - Read by ops

    /// Progress of every assigned topic partition.
    public var progress: [TopicPartitionOffset: Progress] { state.withLock { $0.progress } }

    /// Partitions the watchdog holds stuck now.
    public var stuckPartitions: Set<TopicPartitionOffset> { state.withLock { $0.stuck } }

    /// Ready = holds at least one partition, restores none, and its reference tables (if any) have caught up.
    public func snapshot() -> Snapshot {
        let (progress, reference, stuck, restoring) = state.withLock { ($0.progress, $0.referenceCaughtUp, $0.stuck, $0.restoring) }
        let partitions = Set(progress.keys.map(\.partition)).sorted()
        let caughtUp = reference?()
        var reasons: [String] = []
        if partitions.isEmpty && restoring.isEmpty { reasons.append("no partitions assigned") }
        if !restoring.isEmpty { reasons.append("restoring partitions \(restoring.sorted()) from the state changelog") }
        if caughtUp == false { reasons.append("reference tables not caught up") }
        return Snapshot(worker: worker, ready: reasons.isEmpty, reasons: reasons, assignedPartitions: partitions,
                        referenceTablesCaughtUp: caughtUp, stuckPartitions: stuck.map(\.description).sorted())
    }
}
