import Foundation
import GRDB

/// What restoring a partition costs, from a snapshot and from changesets only (`fleet bench-restore`).
///
/// Builds one partition file the way a worker does: `rows` handler rows of about `rowBytes` bytes,
/// each with an applied message id, written in transactions of `rowsPerTransaction` inputs through
/// ``PartitionStore/write`` with the changelog on (so every transaction's changeset is recorded as
/// the relay would send it). Then times, in the same process and on the same disk:
/// - taking a snapshot (`VACUUM INTO`, read, SHA-256: what the owner's background queue does);
/// - a restore from that snapshot alone (SHA-256 check, image written, migrations, queue cleared, rename);
/// - a restore from the changesets only (every record applied in slices of 500, as before snapshots).
/// Reading the records from Kafka is not included (see ``ChangelogReader``): these are the
/// restore's own costs. Prints nothing; asserts nothing about speed.
public enum RestoreBenchmark {
    public struct Figures: Sendable {
        public var rows: Int
        public var transactions: Int
        public var fileBytes: Int
        public var changesetBytes: Int
        public var imageBytes: Int
        public var snapshotSeconds: Double
        public var restoreFromSnapshotSeconds: Double
        public var restoreFromChangesetsSeconds: Double
        /// Whether both restores gave the source's rows (compared in full).
        public var identical: Bool
    }

    private struct Handler: WorkerHandler {
        var inputTopics: [String] { ["bench.input"] }
        func migrate(_ migrator: inout DatabaseMigrator) {
            migrator.registerMigration("bench-state-v1") { db in
                try db.execute(sql: """
                    CREATE TABLE bench_state (
                        application_id TEXT PRIMARY KEY, child_id TEXT NOT NULL, status TEXT NOT NULL,
                        payload TEXT NOT NULL, updated_at REAL NOT NULL)
                    """)
            }
        }
        func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult { .done([]) }
    }

    /// Runs the benchmark in `directory` (created; its files are left for the caller to delete).
    /// - Throws: SQLite and file errors.
    public static func run(rows: Int, rowsPerTransaction: Int = 500, rowBytes: Int = 200, directory: URL) throws -> Figures {
        let handler = Handler()
        let dirs = ["source", "from-snapshot", "from-changesets"].map { directory.appendingPathComponent($0) }
        for dir in dirs { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        let source = try PartitionStore(directory: dirs[0], partition: 0, handler: handler)
        try source.enableChangelog(topic: "bench-changelog")
        var entries: [ChangelogEntry] = []
        let filler = String(repeating: "x", count: max(0, rowBytes - 60))
        var written = 0
        while written < rows {
            let count = min(rowsPerTransaction, rows - written)
            let start = written
            try source.write { db in
                for i in start..<(start + count) {
                    try db.execute(sql: "INSERT INTO bench_state VALUES (?, ?, ?, ?, ?)", arguments: [
                        String(format: "APP-%010d", i), String(format: "1101052015%08d", i), "received", "\(i):\(filler)",
                        Double(1_700_000_000 + i)])
                    try PartitionStore.markApplied(db, id: "bench.input/\(i)", at: Date(timeIntervalSince1970: Double(1_700_000_000 + i)))
                }
                try PartitionStore.recordOffset(db, topic: "bench.input", partition: 0, next: Int64(start + count))
            }
            written += count
            for record in source.takeFreshChangelogRecords() {
                entries.append(ChangelogEntry(version: record.version, predecessor: record.predecessor, epoch: record.epoch,
                                              offset: Int64(entries.count), changeset: record.changeset,
                                              predecessorEpoch: record.predecessorEpoch))
                // As the relay would after the record's delivery report (the queue is not part of the state).
                try source.database.write { try PartitionStore.deleteQueuedChangelog($0, through: record.version) }
            }
        }
        _ = try source.database.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        let fileBytes = (try FileManager.default.attributesOfItem(atPath: source.url.path)[.size] as? Int) ?? 0

        var clock = ContinuousClock.now
        let image = try SnapshotImage.take(of: source.url, scratch: URL(fileURLWithPath: source.url.path + ".snapshot"))
        let snapshotSeconds = (ContinuousClock.now - clock).seconds

        clock = ContinuousClock.now
        let imageBytes = try image.bytes()
        image.discard()
        guard StateSnapshot.sha256Hex(imageBytes) == image.sha256 else { throw StateChangelogError("snapshot hash changed") }
        let snapshot = ChangelogSnapshot(id: image.id, state: image.state, offset: 0, image: imageBytes)
        let plan = try ChangelogChain.plan(entries, snapshots: [snapshot])
        _ = try ChangelogRestore.restore(plan, directory: dirs[1], partition: 0, handler: handler) { _, _ in }
        let fromSnapshot = (ContinuousClock.now - clock).seconds

        clock = ContinuousClock.now
        let chain = try ChangelogChain.plan(entries, snapshots: [])
        _ = try ChangelogRestore.restore(chain, directory: dirs[2], partition: 0, handler: handler) { _, _ in }
        let fromChangesets = (ContinuousClock.now - clock).seconds

        func dump(_ dir: URL) throws -> [String] {
            let store = try PartitionStore(directory: dir, partition: 0, handler: handler)
            defer { try? store.close() }
            return try store.database.read { db in
                try String.fetchAll(db, sql: "SELECT application_id || child_id || status || payload || updated_at FROM bench_state ORDER BY application_id")
                    + String.fetchAll(db, sql: "SELECT message_id FROM runtime_applied ORDER BY message_id")
                    + String.fetchAll(db, sql: "SELECT topic || next_offset FROM runtime_offsets")
            }
        }
        let expected = try dump(dirs[0])
        let identical = try dump(dirs[1]) == expected && dump(dirs[2]) == expected
        try source.close()
        return Figures(rows: rows, transactions: entries.count, fileBytes: fileBytes, changesetBytes: entries.reduce(0) { $0 + $1.changeset.count },
                       imageBytes: image.byteCount, snapshotSeconds: snapshotSeconds, restoreFromSnapshotSeconds: fromSnapshot,
                       restoreFromChangesetsSeconds: fromChangesets, identical: identical)
    }
}
