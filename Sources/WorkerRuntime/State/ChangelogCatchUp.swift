import Foundation
import Kafka
import Logging
import Metrics

/// Brings one partition file to the changelog's newest state before it is used: as the active
/// owner's file on assignment (`WorkerLoop.openPartition`), or as a standby copy
/// (``StandbyReplicas``). docs/state-changelog.md, "Checkpoint rule", "Restore" and "Standbys".
///
/// Three ways, cheapest first: the file is current (the checkpoint rule: nothing read beyond the
/// last record); the file stands at a state of the changelog's chain (a standby, or an owner that
/// left cleanly and got the partition back): only the records after it are applied to it in place;
/// otherwise a full restore into `.restoring` from the newest snapshot.
struct ChangelogCatchUp {
    var reader: ChangelogReader
    var directory: URL
    var partition: Int32
    var handler: any WorkerHandler
    var logger: Logger
    /// `active` or `standby`: in every log line, so an operator tells a move's wait from background work.
    var role: String
    /// Records still to read (0 when done): `card_worker_restore_remaining_records` for the active owner.
    var remaining: Gauge?
    /// Called once before the changelog is read in full (the active owner marks /readyz not ready).
    var willRead: () -> Void = {}
    /// A standby copy's rule: the file counts as current only when its own state is the changelog's
    /// newest (not merely one it went through: states of its own beyond it, from when this instance
    /// owned the partition, are not the chain's), and its send queue is emptied (a copy never sends).
    var exactHead = false

    /// What was done and what was seen.
    struct Result {
        var store: PartitionStore
        /// Highest owner epoch met (the next owner's generation goes above it).
        var seenEpoch: Int64
        /// The changelog was read in full (`false`: the checkpoint rule answered from its last record).
        var readInFull: Bool
        /// Changeset bytes applied after a snapshot by a full restore (the snapshot schedule starts from them), else nil.
        var restoredAfterSnapshotBytes: Int?
        /// The state the file stands at now.
        var state: StatePoint
        /// Where a reader going on from here must start: the first part of a record whose parts ran
        /// past the end read (nil: at the end read).
        var resumeAt: Int64? = nil
    }

    /// - Parameters:
    ///   - store: the file, open; it may be closed and a new one returned (full restore).
    ///   - tail: the changelog partition's watermarks and last record (``ChangelogReader/tails(partitions:)``).
    ///   - open: opens the partition file again after a full restore.
    /// - Throws: ``StateChangelogError`` when the changelog cannot rebuild the state (a missing record
    ///   and no snapshot after it; a snapshot whose image is not the state it names); `KafkaError`
    ///   when the changelog cannot be read; SQLite errors.
    func run(store: PartitionStore, tail: ChangelogReader.Tail, open: () throws -> PartitionStore) throws -> Result {
        var store = store
        let history = try store.history()
        let metadata: Logger.Metadata = [LogKey.partition: "\(partition)", LogKey.topic: "\(reader.topic)", "state.role": "\(role)"]
        func current(_ newest: StatePoint?) throws -> Bool {
            guard exactHead else { return ChangelogChain.useLocal(history, newest: newest) }
            guard newest == nil ? history.checkpoint.version == 0 : history.checkpoint == newest else { return false }
            try store.database.write { db in
                try db.execute(sql: "DELETE FROM runtime_changelog_out_unlogged")
                if let newest { try PartitionStore.setAnchor(db, newest) }  // its state is the changelog's
            }
            return true
        }
        if try current(tail.newest) {
            logger.info("partition state current: local file used as is", metadata: metadata.merging([
                "state.version": "\(history.checkpoint.version)", "changelog.version": "\(tail.newest?.version ?? 0)"]) { a, _ in a })
            return Result(store: store, seenEpoch: tail.newest?.epoch ?? 0, readInFull: false, state: history.checkpoint)
        }
        willRead()
        let started = ContinuousClock.now
        let total = tail.high - tail.low
        remaining?.record(total)
        defer { remaining?.record(0) }
        logger.notice("catching up partition state from the changelog", metadata: metadata.merging([
            "state.version": "\(history.checkpoint.version)", "changelog.version": "\(tail.newest?.version ?? 0)",
            "changelog.records": "\(total)"]) { a, _ in a })
        let contents = try reader.contents(partition: partition, low: tail.low, high: tail.high) { read in
            remaining?.record(total - read)
            logger.info("restore: reading the changelog", metadata: metadata.merging([
                "restore.read": "\(read)", "restore.total": "\(total)"]) { a, _ in a })
        }
        let seenEpoch = max(contents.entries.map(\.epoch).max() ?? tail.newest?.epoch ?? 0, contents.snapshots.map(\.state.epoch).max() ?? 0)
        let plan = try ChangelogChain.plan(contents.entries, snapshots: contents.snapshots)
        let head = plan.head
        func seconds() -> String { String(format: "%.3f", (ContinuousClock.now - started).seconds) }
        func applying(_ applied: Int, of total: Int) {
            logger.info("restore: applying", metadata: metadata.merging([
                "restore.applied": "\(applied)", "restore.total": "\(total)"]) { a, _ in a })
        }
        if try current(head) {
            logger.info("partition state current after reading the whole changelog: local file used as is", metadata: metadata)
            return Result(store: store, seenEpoch: seenEpoch, readInFull: true, state: history.checkpoint, resumeAt: contents.incompleteFrom)
        }
        if let records = ChangelogRestore.tail(of: plan, after: history) {
            let conflicts = try ChangelogRestore.applyTail(records, to: store.database) { applying($0, of: records.count) }
            logger.notice("partition state caught up from the changelog in place", metadata: metadata.merging([
                "state.version": "\(head?.version ?? 0)", "state.from.version": "\(history.checkpoint.version)",
                "restore.records": "\(records.count)", "restore.bytes": "\(records.reduce(0) { $0 + $1.changeset.count })",
                "restore.conflicts": "\(conflicts)", "restore.seconds": "\(seconds())"]) { a, _ in a })
            return Result(store: store, seenEpoch: seenEpoch, readInFull: true, state: head ?? history.checkpoint,
                          resumeAt: contents.incompleteFrom)
        }
        try store.close()
        let bytes = plan.chain.reduce(0) { $0 + $1.changeset.count }
        let conflicts = try ChangelogRestore.restore(plan, directory: directory, partition: partition, handler: handler) { applying($0, of: $1) }
        store = try open()
        logger.notice("partition state restored from the changelog", metadata: metadata.merging([
            "state.version": "\(head?.version ?? 0)", "restore.snapshot.version": "\(plan.base?.state.version ?? 0)",
            "restore.snapshot.bytes": "\(plan.base?.image.count ?? 0)", "restore.records": "\(plan.chain.count)",
            "restore.bytes": "\(bytes)", "restore.skipped": "\(contents.entries.count - plan.chain.count)",
            "restore.snapshots.rejected": "\(contents.rejectedSnapshots)", "restore.conflicts": "\(conflicts)",
            "restore.seconds": "\(seconds())"]) { a, _ in a })
        return Result(store: store, seenEpoch: seenEpoch, readInFull: true, restoredAfterSnapshotBytes: plan.base != nil ? bytes : nil,
                      state: head ?? StatePoint(version: 0, epoch: 0), resumeAt: contents.incompleteFrom)
    }
}
