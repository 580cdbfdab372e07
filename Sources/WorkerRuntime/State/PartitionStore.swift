import Foundation
import GRDB
import Kafka
import SQLiteChangeset

/// One SQLite file holding partition N's state for every input topic: the worker's own tables
/// and the runtime's (offsets, outbox, applied ids, parked retries), so one transaction covers
/// state, outputs and offsets together, and the file can move to another instance whole.
final class PartitionStore {
    let partition: Int32
    let database: DatabasePool
    let url: URL
    /// Set by `enableChangelog`: the state version and epoch every `write` stamps (nil: changelog off).
    var changelog: ChangelogStamp?
    /// Records each changelog transaction's patchset on the writer connection, preparing its
    /// statements once per connection rather than once per transaction as a session would.
    let recorder = PatchsetRecorder()
    /// Transactions `write` has begun on this store (committed or not). What was read from the file
    /// at one count is current while it stays the same: a live store is written only through `write`
    /// (restores and catch-ups write before the store serves the loop; standby copies are other stores).
    var writeCount = 0

    /// Opens (creating if needed) and migrates the file for `partition`.
    /// - Parameter cacheKiB: SQLite page cache per connection. A worker holds a writer and a reader
    ///   per assigned partition, so SQLite's 2 MiB default, over 24 partitions, grew a worker by
    ///   ~70 MiB as the files filled; the hot pages (offsets, outbox tail, recent ids) are few.
    init(directory: URL, partition: Int32, handler: any WorkerHandler, cacheKiB: Int = 512) throws {
        self.partition = partition
        url = Self.fileURL(directory: directory, partition: partition)
        var config = Configuration()
        config.prepareDatabase { db in
            // WAL + NORMAL survives kill -9 (what we guard against) without an fsync per batch;
            // after a power loss the last batches replay from Kafka and dedup absorbs them.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA cache_size = -\(cacheKiB)")
        }
        config.busyMode = .timeout(10)
        // Reads run on the worker loop's thread, one at a time: one reader connection serves them.
        config.maximumReaderCount = 1
        database = try DatabasePool(path: url.path, configuration: config)
        try Self.migrator(handler: handler).migrate(database)
        try database.read(PrimaryKeyCheck.verify)
    }

    deinit { recorder.close() }

    /// Closes the file now: the recorder's statements first, since `sqlite3_close` refuses a
    /// connection that still has statements.
    /// - Throws: GRDB's `DatabaseError` when SQLite cannot close the file.
    func close() throws {
        database.writeWithoutTransaction { _ in recorder.close() }
        try database.close()
    }

    /// Opens partition `partition`'s file in a worker's state directory, with its page cache
    /// (`partitionCacheKiB`): as its owner or as a standby copy.
    convenience init(partition: Int32, handler: any WorkerHandler, configuration: WorkerConfiguration) throws {
        try self.init(directory: configuration.stateDirectory, partition: partition, handler: handler,
                      cacheKiB: configuration.partitionCacheKiB)
    }

    /// `<directory>/partition-NNN.sqlite`.
    static func fileURL(directory: URL, partition: Int32) -> URL {
        directory.appendingPathComponent(String(format: "partition-%03d.sqlite", partition))
    }

    /// Removes the SQLite file at `url` and its `-journal`, `-wal` and `-shm` companions, or only the
    /// companions when `keepingFile`; missing ones are no error. For scratch copies and restores in progress.
    static func removeFiles(at url: URL, keepingFile: Bool = false) {
        for suffix in (keepingFile ? [] : [""]) + ["-journal", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: url.path + suffix)
        }
    }

    /// Every migration of a partition file: the runtime's, the handler's, the changelog's.
    static func migrator(handler: any WorkerHandler) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        registerRuntimeMigrations(&migrator)
        handler.migrate(&migrator)
        registerChangelogMigrations(&migrator)
        return migrator
    }

    static func registerRuntimeMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("runtime-v1") { db in
            try db.execute(sql: """
                CREATE TABLE runtime_offsets (
                    topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
                    PRIMARY KEY (topic, partition));
                CREATE TABLE runtime_outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    topic TEXT NOT NULL, key BLOB, value BLOB NOT NULL,
                    message_id TEXT NOT NULL, headers BLOB);
                CREATE TABLE runtime_applied (message_id TEXT PRIMARY KEY, applied_at REAL NOT NULL) WITHOUT ROWID;
                CREATE TABLE runtime_retry (
                    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
                    key BLOB, value BLOB, headers BLOB, timestamp_ms INTEGER,
                    attempts INTEGER NOT NULL, first_seen_at REAL NOT NULL, next_at REAL NOT NULL,
                    last_reason TEXT NOT NULL,
                    PRIMARY KEY (topic, partition, offset));
                CREATE INDEX runtime_retry_due ON runtime_retry(next_at);
                """)
        }
        // An explicit partition for re-keyed records (InputPlacement); NULL lets the partitioner decide.
        migrator.registerMigration("runtime-v2-outbox-partition") { db in
            try db.execute(sql: "ALTER TABLE runtime_outbox ADD COLUMN partition INTEGER")
        }
    }

    // MARK: - Offsets

    /// The next offset to read for each input topic, as last committed with the state.
    func storedOffsets(topics: [String]) throws -> [TopicPartitionOffset] {
        try database.read { db in
            try topics.map { topic in
                let next = try Int64.fetchOne(db, sql: "SELECT next_offset FROM runtime_offsets WHERE topic = ? AND partition = ?",
                                              arguments: [topic, partition])
                return TopicPartitionOffset(topic: topic, partition: partition, offset: next)
            }
        }
    }

    // The statements below run once or more per message: cached, so SQLite parses them once per connection.

    static func recordOffset(_ db: Database, topic: String, partition: Int32, next: Int64) throws {
        try db.cachedStatement(sql: """
            INSERT INTO runtime_offsets (topic, partition, next_offset) VALUES (?, ?, ?)
            ON CONFLICT(topic, partition) DO UPDATE SET next_offset = excluded.next_offset
            """).execute(arguments: [topic, partition, next])
    }

    // MARK: - Dedup

    static func isApplied(_ db: Database, id: String) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM runtime_applied WHERE message_id = ?"), arguments: [id]) ?? false
    }

    static func markApplied(_ db: Database, id: String, at: Date) throws {
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO runtime_applied (message_id, applied_at) VALUES (?, ?)")
            .execute(arguments: [id, at.timeIntervalSince1970])
    }

    /// Marks `id` applied unless it already is, in one statement (the loop's per-message check).
    /// - Returns: `true` when `id` was new (the message is to be applied), `false` for a duplicate.
    static func markAppliedIfNew(_ db: Database, id: String, at: Date) throws -> Bool {
        try markApplied(db, id: id, at: at)
        return db.changesCount > 0
    }

    // MARK: - Outbox

    /// Appends a message to the outbox.
    /// - Returns: the row as the relay will send it (its seq, and the record with the id header).
    static func append(_ db: Database, _ message: OutboundMessage) throws -> OutboxRow {
        try db.cachedStatement(sql: "INSERT INTO runtime_outbox (topic, key, value, message_id, headers, partition) VALUES (?, ?, ?, ?, ?, ?)")
            .execute(arguments: [message.topic, message.key.map { Data($0) }, Data(message.value), message.id,
                                 HeaderCoding.encode(message.headers), message.partition])
        return OutboxRow(seq: db.lastInsertedRowID, record: message.outboxRecord)
    }

    struct OutboxRow {
        var seq: Int64
        var record: ProducerRecord
    }

    /// Rows after `seq` (and at most `through`), oldest first, with the message id header added.
    ///
    /// Read on the writer's connection, outside any transaction (one statement: SQLite reads it
    /// from one snapshot), with the statement prepared once: the relay asks after every batch and
    /// whenever a changelog record's delivery frees outputs, and a read through the pool (a reader
    /// taken from it, BEGIN/COMMIT, the schema version asked, the SQL parsed) cost more than
    /// the rows (~5 % of each worker's CPU under `fleet bench`, perf, issue 14). This file has
    /// one writer, the worker loop's thread, which is also the only caller: nothing waits.
    func outboxRows(after seq: Int64, through: Int64 = .max, limit: Int) throws -> [OutboxRow] {
        try database.writeWithoutTransaction { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT seq, topic, key, value, message_id, headers, partition FROM runtime_outbox WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"),
                             arguments: [seq, through, limit]).map { row in
                let key: Data? = row["key"]
                let value: Data = row["value"]
                var headers = HeaderCoding.decode(row["headers"])
                headers.append(KafkaHeader(name: messageIDHeader, string: row["message_id"]))
                return OutboxRow(seq: row["seq"], record: ProducerRecord(
                    topic: row["topic"], partition: row["partition"], key: key.map { Array($0) }, value: Array(value), headers: headers))
            }
        }
    }

    /// Deletes the rows `seqs` (delivered ones), as runs of consecutive seqs with one prepared
    /// statement: delivery reports come mostly in seq order, so a batch's rows are one or two runs,
    /// where a statement with one `?` per row was parsed anew for every batch (perf, issue 14).
    static func deleteOutbox(_ db: Database, seqs: [Int64]) throws {
        guard !seqs.isEmpty else { return }
        let statement = try db.cachedStatement(sql: "DELETE FROM runtime_outbox WHERE seq BETWEEN ? AND ?")
        for run in consecutiveRuns(seqs) { try statement.execute(arguments: [run.lowerBound, run.upperBound]) }
    }

    /// `seqs` (any order, repeats allowed) as the fewest ranges of consecutive integers: [5, 1, 2, 3, 7]
    /// → 1...3, 5...5, 7...7. Pure.
    static func consecutiveRuns(_ seqs: [Int64]) -> [ClosedRange<Int64>] {
        var runs: [ClosedRange<Int64>] = []
        for seq in seqs.sorted() {
            if let last = runs.last, seq - last.upperBound <= 1 {  // sorted: never negative, never overflows
                if seq > last.upperBound { runs[runs.count - 1] = last.lowerBound...seq }
            } else {
                runs.append(seq...seq)
            }
        }
        return runs
    }

    /// Number of outbox rows after `seq`, counted up to `limit` at most (unsent ones, for the
    /// relay's memory of them: a large backlog is not walked to learn that it is large).
    func outboxCount(after seq: Int64, upTo limit: Int) throws -> Int {
        try database.writeWithoutTransaction { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM (SELECT 1 FROM runtime_outbox WHERE seq > ? LIMIT ?)"),
                             arguments: [seq, limit]) ?? 0
        }
    }

    /// The highest outbox seq ever allocated in this file (`sqlite_sequence`), 0 before the first.
    func outboxSeqAllocated() throws -> Int64 {
        try database.writeWithoutTransaction { try Self.allocatedOutboxSeq($0) }
    }

    /// Rows in the outbox (messages): read from the file once per ``writeCount``, since only a
    /// `write` changes them; the worker loop asks every tick for each partition, and an idle
    /// worker's 24 reads a second were a tenth of its CPU (perf, issue 14).
    /// - Throws: SQLite errors from the read.
    func outboxDepth() throws -> Int {
        if let cached = depthRead, cached.writeCount == writeCount { return cached.depth }
        let counted = writeCount
        let depth = try database.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM runtime_outbox") ?? 0 }
        depthRead = (counted, depth)
        return depth
    }
    private var depthRead: (writeCount: Int, depth: Int)?

    // MARK: - Retries

    static func park(_ db: Database, _ message: InboundMessage, reason: String, nextAt: Date) throws {
        let m = message.message
        try db.execute(sql: """
            INSERT INTO runtime_retry (topic, partition, offset, key, value, headers, timestamp_ms, attempts, first_seen_at, next_at, last_reason)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(topic, partition, offset) DO UPDATE SET
                attempts = excluded.attempts, next_at = excluded.next_at, last_reason = excluded.last_reason
            """, arguments: [m.topic, m.partition, m.offset, m.key.map { Data($0) }, m.value.map { Data($0) },
                             HeaderCoding.encode(m.headers), m.timestampMilliseconds, message.attempt,
                             message.firstSeenAt.timeIntervalSince1970, nextAt.timeIntervalSince1970, reason])
    }

    static func unpark(_ db: Database, _ message: InboundMessage) throws {
        try db.execute(sql: "DELETE FROM runtime_retry WHERE topic = ? AND partition = ? AND offset = ?",
                       arguments: [message.topic, message.partition, message.offset])
    }

    /// Parked messages due at `now`, as they will be handed to the handler again (attempt + 1).
    static func dueRetries(_ db: Database, now: Date, limit: Int) throws -> [InboundMessage] {
        try Row.fetchAll(db, sql: "SELECT * FROM runtime_retry WHERE next_at <= ? ORDER BY next_at LIMIT ?",
                         arguments: [now.timeIntervalSince1970, limit]).map { row in
            let key: Data? = row["key"]
            let value: Data? = row["value"]
            let message = ConsumedMessage(topic: row["topic"], partition: row["partition"], offset: row["offset"],
                                          key: key.map { Array($0) }, value: value.map { Array($0) },
                                          headers: HeaderCoding.decode(row["headers"]), timestampMilliseconds: row["timestamp_ms"])
            return InboundMessage(message: message, attempt: (row["attempts"] as Int) + 1,
                                  firstSeenAt: Date(timeIntervalSince1970: row["first_seen_at"]))
        }
    }

    func nextRetryDue() throws -> Date? {
        try database.read { db in
            try Double.fetchOne(db, sql: "SELECT MIN(next_at) FROM runtime_retry").map { Date(timeIntervalSince1970: $0) }
        }
    }
}

/// Headers stored as a compact length-prefixed blob (names and values are arbitrary bytes).
enum HeaderCoding {
    /// Each header as `<u32 BE name length><name UTF-8><u32 BE value length><value>`, in order;
    /// `nil` for none. Built in one buffer sized up front: it runs for every output appended to
    /// the outbox, and the former per-field temporary arrays were ~1 % of each worker's CPU
    /// (perf, issue 14). Same bytes as before (HeaderCodingTests pins them).
    static func encode(_ headers: [KafkaHeader]) -> Data? {
        guard !headers.isEmpty else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headers.reduce(0) { $0 + 8 + $1.name.utf8.count + $1.value.count })
        func appendLength(_ count: Int) {
            let n = UInt32(count)
            bytes.append(UInt8(truncatingIfNeeded: n >> 24))
            bytes.append(UInt8(truncatingIfNeeded: n >> 16))
            bytes.append(UInt8(truncatingIfNeeded: n >> 8))
            bytes.append(UInt8(truncatingIfNeeded: n))
        }
        for header in headers {
            appendLength(header.name.utf8.count)
            bytes.append(contentsOf: header.name.utf8)
            appendLength(header.value.count)
            bytes.append(contentsOf: header.value)
        }
        return Data(bytes)
    }

    static func decode(_ data: Data?) -> [KafkaHeader] {
        guard let data else { return [] }
        let bytes = Array(data)
        var headers: [KafkaHeader] = []
        var i = 0
        func length() -> Int? {
            guard i + 4 <= bytes.count else { return nil }
            defer { i += 4 }
            return Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
        }
        while let nameLength = length(), i + nameLength <= bytes.count {
            let name = String(decoding: bytes[i..<i + nameLength], as: UTF8.self)
            i += nameLength
            guard let valueLength = length(), i + valueLength <= bytes.count else { break }
            headers.append(KafkaHeader(name: name, value: Array(bytes[i..<i + valueLength])))
            i += valueLength
        }
        return headers
    }
}
