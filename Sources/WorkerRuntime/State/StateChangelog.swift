import Foundation
import GRDB
import Kafka
import SQLiteChangeset

/// Whether a worker writes its partitions' state changelog (docs/state-changelog.md).
public enum StateChangelogMode: String, Sendable, CaseIterable {
    /// On when the topic `card.<worker>-changelog` exists with the inputs' partition count, off
    /// (one notice) when it does not exist. The default: a fleet whose topics come from `Topics/`
    /// has it; a test cluster with only its own topics runs as before.
    case auto
    /// Required: the worker refuses to start without the topic.
    case on
    /// Not written (the state lives only in the instance's files, as before issue 13).
    case off

    /// Environment variable that sets the mode (`auto`, `on`, `off`) for every worker of a process tree.
    public static let environmentVariable = "CARD_STATE_CHANGELOG"

    /// The mode `CARD_STATE_CHANGELOG` names, `.auto` when unset.
    /// - Throws: ``StateChangelogError`` for any other value.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Self {
        guard let text = environment[environmentVariable], !text.isEmpty else { return .auto }
        guard let mode = Self(rawValue: text.lowercased()) else {
            throw StateChangelogError("\(environmentVariable)=\(text) is not one of auto, on, off")
        }
        return mode
    }
}

/// The changelog cannot be written as configured; the worker refuses to start.
public struct StateChangelogError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Names and headers of the state changelog.
public enum StateChangelog {
    /// The changelog topic of worker `worker`: `card.<worker>-changelog`, co-partitioned with its input.
    public static func topic(worker: String) -> String { "card.\(worker)-changelog" }

    /// Header: the partition file's state version after the record's transaction (decimal text).
    public static let versionHeader = "card-state-version"
    /// Header: the version the transaction started from (decimal text); a restore follows this chain.
    public static let predecessorHeader = "card-state-predecessor"
    /// Header: the owner epoch (decimal text): `generation << 16 | random 16 bits`, the generation
    /// one above the highest the file or the changelog has seen, each time an owner opens the file.
    public static let epochHeader = "card-owner-epoch"
    /// Header: `<part>/<parts>` (1-based) of a changeset larger than one record may carry.
    public static let partHeader = "card-state-part"
    /// Header: the owner epoch that wrote the predecessor version (decimal text), so a restore links
    /// a record to exactly one earlier state, a record's or a snapshot's. Absent on records written
    /// before snapshots existed; the restore then falls back to the epoch rule.
    public static let predecessorEpochHeader = "card-state-predecessor-epoch"

    /// Decides the topic from the mode and the cluster's partition counts.
    /// - Parameter counts: every topic's partition count, as the brokers report them.
    /// - Returns: the changelog topic to write, or `nil` when the changelog is off.
    /// - Throws: ``StateChangelogError`` when the mode is `.on` and the topic is missing, or when the
    ///   topic exists with another partition count than the inputs (it would not be co-partitioned).
    static func resolve(mode: StateChangelogMode, worker: String, inputTopics: [String], counts: [String: Int32]) throws -> String? {
        guard mode != .off else { return nil }
        let topic = topic(worker: worker)
        guard let count = counts[topic] else {
            if mode == .on { throw StateChangelogError("\(StateChangelogMode.environmentVariable)=on but topic \(topic) does not exist: apply Topics/ (fleet topics apply)") }
            return nil
        }
        for input in inputTopics {
            if let inputCount = counts[input], inputCount != count {
                throw StateChangelogError("refusing to start: the state changelog \(topic) has \(count) partitions, input \(input) has \(inputCount); they must be equal (co-partitioned)")
            }
        }
        return topic
    }
}

/// One changelog record waiting in the partition file's send queue (`runtime_changelog_out_unlogged`).
struct ChangelogRecord: Sendable {
    var version: Int64
    var predecessor: Int64
    var epoch: Int64
    /// The epoch that wrote `predecessor` (nil for a queue row left by a build without the column).
    var predecessorEpoch: Int64?
    /// Outbox rows with `seqFrom < seq <= seqThrough` were appended by this record's transaction:
    /// the relay sends them only after this record's delivery report (design, case 2).
    var seqFrom: Int64
    var seqThrough: Int64
    var changeset: [UInt8]

    /// The Kafka records that carry it: one, or several parts when the changeset is over `partBytes`.
    func producerRecords(topic: String, partition: Int32, partBytes: Int) -> [ProducerRecord] {
        let size = max(partBytes, 1)
        let parts = max(1, (changeset.count + size - 1) / size)
        return (0..<parts).map { index in
            let slice = Array(changeset[min(index * size, changeset.count)..<min((index + 1) * size, changeset.count)])
            var headers = [KafkaHeader(name: StateChangelog.versionHeader, string: String(version)),
                           KafkaHeader(name: StateChangelog.predecessorHeader, string: String(predecessor)),
                           KafkaHeader(name: StateChangelog.epochHeader, string: String(epoch))]
            if let predecessorEpoch { headers.append(KafkaHeader(name: StateChangelog.predecessorEpochHeader, string: String(predecessorEpoch))) }
            if parts > 1 { headers.append(KafkaHeader(name: StateChangelog.partHeader, string: "\(index + 1)/\(parts)")) }
            return ProducerRecord(topic: topic, partition: partition, key: Array(String(partition).utf8), value: slice, headers: headers)
        }
    }
}

/// The state version, owner epoch and outbox position of a partition file whose changelog is on.
struct ChangelogStamp {
    var topic: String
    var version: Int64
    var epoch: Int64
    /// The epoch that wrote `version`: the file's previous owner until this one writes.
    var writerEpoch: Int64
    /// Highest outbox seq ever allocated in the file (`sqlite_sequence`).
    var lastOutboxSeq: Int64
    /// Records committed since the relay last took them.
    var fresh: [ChangelogRecord] = []
    /// When the relay takes the next snapshot (docs/state-changelog.md, "Snapshots").
    var snapshots: SnapshotSchedule = SnapshotSchedule(policy: .off)

    /// The state the file stands at: its version and the epoch that wrote it.
    var point: StatePoint { StatePoint(version: version, epoch: writerEpoch) }
}

extension PartitionStore {
    static func registerChangelogMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("runtime-v3-changelog") { db in
            try db.execute(sql: """
                CREATE TABLE runtime_changelog (
                    id INTEGER PRIMARY KEY CHECK (id = 0), version INTEGER NOT NULL, epoch INTEGER NOT NULL);
                CREATE TABLE runtime_changelog_out_unlogged (
                    version INTEGER PRIMARY KEY, predecessor INTEGER NOT NULL, epoch INTEGER NOT NULL,
                    seq_from INTEGER NOT NULL, seq_through INTEGER NOT NULL, changeset BLOB NOT NULL);
                """)
        }
        migrator.registerMigration("runtime-v4-changelog-predecessor-epoch") { db in
            try db.execute(sql: "ALTER TABLE runtime_changelog_out_unlogged ADD COLUMN predecessor_epoch INTEGER")
        }
        // The newest state of this file known to be in the changelog (``LocalHistory``); local
        // knowledge, so `_unlogged`: never part of a changeset.
        migrator.registerMigration("runtime-v5-changelog-anchor") { db in
            try db.execute(sql: """
                CREATE TABLE runtime_changelog_anchor_unlogged (
                    id INTEGER PRIMARY KEY CHECK (id = 0), version INTEGER NOT NULL, epoch INTEGER NOT NULL)
                """)
        }
    }

    /// Sets the file's anchor (``LocalHistory/anchor``) in the caller's transaction.
    static func setAnchor(_ db: Database, _ state: StatePoint) throws {
        try db.cachedStatement(sql: """
            INSERT INTO runtime_changelog_anchor_unlogged (id, version, epoch) VALUES (0, ?, ?)
            ON CONFLICT(id) DO UPDATE SET version = excluded.version, epoch = excluded.epoch
            """).execute(arguments: [state.version, state.epoch])
    }

    /// What the checkpoint rule knows of this file's past (``LocalHistory``).
    func history() throws -> LocalHistory {
        try database.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT version, epoch FROM runtime_changelog WHERE id = 0")
            let anchor = try Row.fetchOne(db, sql: "SELECT version, epoch FROM runtime_changelog_anchor_unlogged WHERE id = 0")
            let queued = try Row.fetchAll(db, sql: "SELECT version, epoch FROM runtime_changelog_out_unlogged ORDER BY version")
            return LocalHistory(checkpoint: StatePoint(version: row?["version"] ?? 0, epoch: row?["epoch"] ?? 0),
                                anchor: anchor.map { StatePoint(version: $0["version"], epoch: $0["epoch"]) },
                                queued: queued.map { StatePoint(version: $0["version"], epoch: $0["epoch"]) })
        }
    }

    /// The file's state version and owner epoch as last committed (0, 0 for a file never stamped).
    func checkpoint() throws -> (version: Int64, epoch: Int64) {
        try database.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT version, epoch FROM runtime_changelog WHERE id = 0")
            return (row?["version"] ?? 0, row?["epoch"] ?? 0)
        }
    }

    /// Turns the changelog on for this file: from now on every `write` that changes it stamps a
    /// version and queues a record.
    /// - Parameters:
    ///   - seenEpoch: the highest owner epoch the changelog holds (0 when unknown).
    ///   - snapshots: when the relay snapshots the file (default: never).
    ///
    /// This opening is a new owner: its epoch's generation (high bits) is one above any seen, so a
    /// restore prefers its records to those of an earlier owner still writing (a zombie); the low
    /// 16 bits are random so two owners that opened from the same state tell their records apart.
    func enableChangelog(topic: String, seenEpoch: Int64 = 0, snapshots: SnapshotSchedule = SnapshotSchedule(policy: .off)) throws {
        let (version, epoch) = try checkpoint()
        let lastSeq = try database.read { try Self.allocatedOutboxSeq($0) }
        let generation = (max(epoch, seenEpoch) >> 16) + 1
        changelog = ChangelogStamp(topic: topic, version: version, epoch: generation << 16 | Int64.random(in: 0..<65_536),
                                   writerEpoch: epoch, lastOutboxSeq: lastSeq, snapshots: snapshots)
    }

    static func allocatedOutboxSeq(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = 'runtime_outbox'")) ?? 0
    }

    /// Records committed since the last call, in version order (for the relay).
    func takeFreshChangelogRecords() -> [ChangelogRecord] {
        guard let records = changelog?.fresh, !records.isEmpty else { return [] }
        changelog?.fresh.removeAll(keepingCapacity: true)
        return records
    }

    /// Queued records not yet deleted after delivery, oldest first (a previous run's leftovers).
    func queuedChangelogRecords() throws -> [ChangelogRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM runtime_changelog_out_unlogged ORDER BY version").map { row in
                let bytes: Data = row["changeset"]
                return ChangelogRecord(version: row["version"], predecessor: row["predecessor"], epoch: row["epoch"],
                                       predecessorEpoch: row["predecessor_epoch"], seqFrom: row["seq_from"], seqThrough: row["seq_through"], changeset: Array(bytes))
            }
        }
    }

    /// Deletes delivered records from the send queue and moves the anchor to the newest of them:
    /// that state is in the changelog now.
    static func deleteQueuedChangelog(_ db: Database, through version: Int64) throws {
        if let newest = try Row.fetchOne(db.cachedStatement(
            sql: "SELECT version, epoch FROM runtime_changelog_out_unlogged WHERE version <= ? ORDER BY version DESC LIMIT 1"), arguments: [version]) {
            try setAnchor(db, StatePoint(version: newest["version"], epoch: newest["epoch"]))
        }
        try db.cachedStatement(sql: "DELETE FROM runtime_changelog_out_unlogged WHERE version <= ?").execute(arguments: [version])
    }

    /// Runs `body` in one write transaction. With the changelog on, a transaction that changed the
    /// file also, before it commits, stamps the next state version (`runtime_changelog`, itself part
    /// of the changeset) and queues the transaction's changeset as one changelog record in the
    /// unlogged send queue: the record exists exactly when the transaction does (kill -9 at any
    /// instant leaves both or neither).
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        writeCount &+= 1
        guard let stamp = changelog else { return try database.write(body) }
        var record: ChangelogRecord?
        let result = try database.write { db -> T in
            try recorder.begin(db)
            defer { recorder.end() }
            let value = try body(db)
            guard !recorder.isEmpty else { return value }
            let version = stamp.version + 1
            try db.cachedStatement(sql: """
                INSERT INTO runtime_changelog (id, version, epoch) VALUES (0, ?, ?)
                ON CONFLICT(id) DO UPDATE SET version = excluded.version, epoch = excluded.epoch
                """).execute(arguments: [version, stamp.epoch])
            // A patchset: deleting a delivered outbox row (most deletes) costs its key, not its payload again.
            let changeset = try recorder.patchset()
            let seqThrough = try Self.allocatedOutboxSeq(db)
            let queued = ChangelogRecord(version: version, predecessor: stamp.version, epoch: stamp.epoch,
                                         predecessorEpoch: stamp.writerEpoch,
                                         seqFrom: stamp.lastOutboxSeq, seqThrough: seqThrough, changeset: changeset.bytes)
            try db.cachedStatement(sql: """
                INSERT INTO runtime_changelog_out_unlogged (version, predecessor, epoch, predecessor_epoch, seq_from, seq_through, changeset)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [queued.version, queued.predecessor, queued.epoch, queued.predecessorEpoch, queued.seqFrom,
                                         queued.seqThrough, Data(queued.changeset)])
            record = queued
            return value
        }
        if let record {
            changelog?.version = record.version
            changelog?.writerEpoch = record.epoch
            changelog?.lastOutboxSeq = record.seqThrough
            changelog?.fresh.append(record)
            changelog?.snapshots.changesetBytes += record.changeset.count
        }
        return result
    }
}
