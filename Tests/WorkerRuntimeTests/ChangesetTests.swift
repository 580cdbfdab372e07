import Foundation
import GRDB
import Kafka
import SQLiteChangeset
import Testing

@testable import WorkerRuntime

/// A handler with one table of its own, so a partition file has the runtime's tables and a handler's.
private struct TallyHandler: WorkerHandler {
    var inputTopics: [String] { ["test.input"] }
    func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("tally-v1") { db in
            try db.execute(sql: "CREATE TABLE tally (key TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        }
    }
    func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult { .done([]) }
}

/// Issue 13, step 1: a transaction's row changes as one changeset (SQLite's session extension),
/// applied to another partition file.
@Suite("State changelog: changesets over partition files")
struct ChangesetTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("changeset-\(UUID().uuidString)")

    private func store(_ name: String, partition: Int32 = 0) throws -> PartitionStore {
        let folder = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try PartitionStore(directory: folder, partition: partition, handler: TallyHandler())
    }

    /// Every table's rows, in a stable order, as text: what two files must agree on.
    private func dump(_ store: PartitionStore) throws -> [String: [String]] {
        try store.database.read { db in
            let tables = try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%' ORDER BY name
                """)
            var result: [String: [String]] = [:]
            for table in tables {
                result[table] = try Row.fetchAll(db, sql: "SELECT * FROM \(table)").map { "\($0)" }.sorted()
            }
            return result
        }
    }

    private func message(offset: Int64) -> InboundMessage {
        InboundMessage(message: ConsumedMessage(topic: "test.input", partition: 0, offset: offset, key: Array("k".utf8),
                                                value: Array("v\(offset)".utf8), headers: [KafkaHeader(name: "h", string: "x")],
                                                timestampMilliseconds: 1_700_000_000_000),
                       attempt: 1, firstSeenAt: Date(timeIntervalSince1970: 1_700_000_000))
    }

    /// Writes one batch's worth of rows into every runtime table and the handler's, recording it.
    private func recordedBatch(on store: PartitionStore, first: Int64) throws -> Changeset {
        try store.database.write { db in
            let recorder = try ChangesetRecorder(db)
            defer { recorder.close() }
            try PartitionStore.recordOffset(db, topic: "test.input", partition: 0, next: first + 3)
            try PartitionStore.markApplied(db, id: "id-\(first)", at: Date(timeIntervalSince1970: 1_700_000_000))
            _ = try PartitionStore.append(db, OutboundMessage(topic: "test.output", key: "k", value: Array("out\(first)".utf8),
                                                             id: "out/\(first)", headers: [KafkaHeader(name: "trace", string: "t")]))
            try PartitionStore.park(db, message(offset: first), reason: "later", nextAt: Date(timeIntervalSince1970: 1_700_000_060))
            try db.execute(sql: "INSERT INTO tally (key, n) VALUES ('k', 1) ON CONFLICT(key) DO UPDATE SET n = n + 1")
            return try recorder.changeset()
        }
    }

    @Test("a transaction over every runtime table and a handler's, applied to a fresh file in order, gives the same rows")
    func roundTrip() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try store("source"), copy = try store("copy")
        var changesets: [Changeset] = []
        for first in [Int64(0), 3, 6] { changesets.append(try recordedBatch(on: source, first: first)) }
        // The relay deletes a delivered row, and a parked retry is unparked: deletions travel too.
        changesets.append(try source.database.write { db in
            let recorder = try ChangesetRecorder(db)
            try PartitionStore.deleteOutbox(db, seqs: [1])
            try PartitionStore.unpark(db, message(offset: 0))
            return try recorder.changeset()
        })
        #expect(try changesets[0].counts() == .init(inserts: 5, updates: 0, deletes: 0))
        #expect(try changesets[1].counts() == .init(inserts: 3, updates: 2, deletes: 0), "offset and tally rows are updates")
        #expect(try changesets[3].counts() == .init(inserts: 0, updates: 0, deletes: 2))

        let conflicts = try copy.database.write { db in
            try changesets.map { try $0.apply(to: db, policy: .abort) }
        }
        #expect(conflicts == [0, 0, 0, 0])
        let expected = try dump(source)
        #expect(try dump(copy) == expected)
        #expect(expected["runtime_outbox"]?.count == 2 && expected["runtime_retry"]?.count == 2 && expected["tally"] == ["[key:\"k\" n:3]"])
        // The restored outbox goes on from its highest row id: the relay reads rows after a seq.
        #expect(try copy.outboxRows(after: 0, limit: 10).map(\.seq) == [2, 3])
    }

    @Test("a patchset of the same transactions gives the same rows; a deleted outbox row costs its key, not its payload")
    func patchsetRoundTrip() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try store("source"), copy = try store("copy")
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 2_000)
        func recorded(_ body: (Database) throws -> Void) throws -> (changeset: Changeset, patchset: Changeset) {
            try source.database.write { db in
                let recorder = try ChangesetRecorder(db)
                defer { recorder.close() }
                try body(db)
                return (try recorder.changeset(), try recorder.patchset())
            }
        }
        let append = try recorded { db in
            try PartitionStore.recordOffset(db, topic: "test.input", partition: 0, next: 1)
            for n in 0..<3 {
                _ = try PartitionStore.append(db, OutboundMessage(topic: "test.output", key: "k", value: payload, id: "out/\(n)", headers: []))
            }
            try db.execute(sql: "INSERT INTO tally (key, n) VALUES ('k', 1)")
        }
        let deliver = try recorded { db in
            try PartitionStore.deleteOutbox(db, seqs: [1, 2])
            try PartitionStore.recordOffset(db, topic: "test.input", partition: 0, next: 2)
            try db.execute(sql: "UPDATE tally SET n = 2 WHERE key = 'k'")
        }
        #expect(try deliver.patchset.counts() == .init(inserts: 0, updates: 2, deletes: 2))
        // The changeset repeats both deleted rows' 2,000-byte payloads; the patchset names their keys.
        #expect(deliver.changeset.bytes.count > 4_000)
        #expect(deliver.patchset.bytes.count < 400, "patchset of two deletes and two updates: \(deliver.patchset.bytes.count) bytes")
        #expect(append.patchset.bytes.count > 6_000, "inserts carry every value in both formats")

        let conflicts = try copy.database.write { db in
            try [append.patchset, deliver.patchset].map { try $0.apply(to: db, policy: .abort) }
        }
        #expect(conflicts == [0, 0])
        #expect(try dump(copy) == (try dump(source)))
        #expect(try copy.outboxRows(after: 0, limit: 10).map(\.seq) == [3])
        // A patchset's deletion of a row the file lacks is still a conflict: .abort refuses it, .replace omits it.
        let empty = try store("empty")
        #expect(throws: ChangesetError.self) { try empty.database.write { try deliver.patchset.apply(to: $0, policy: .abort) } }
        #expect(try empty.database.write { try deliver.patchset.apply(to: $0, policy: .replace) } == 4)
    }

    @Test("changes to one row within a transaction are consolidated; a table named *_unlogged is not recorded")
    func consolidation() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try store("source")
        try source.database.write { try $0.execute(sql: "CREATE TABLE queue_unlogged (id INTEGER PRIMARY KEY, v TEXT)") }
        let changeset = try source.database.write { db in
            let recorder = try ChangesetRecorder(db)
            try db.execute(sql: "INSERT INTO tally (key, n) VALUES ('a', 1)")
            try db.execute(sql: "UPDATE tally SET n = 5 WHERE key = 'a'")
            try db.execute(sql: "INSERT INTO tally (key, n) VALUES ('gone', 1)")
            try db.execute(sql: "DELETE FROM tally WHERE key = 'gone'")
            try db.execute(sql: "INSERT INTO queue_unlogged (v) VALUES ('not logged')")
            return try recorder.changeset()
        }
        #expect(try changeset.counts() == .init(inserts: 1, updates: 0, deletes: 0))
        let copy = try store("copy")
        try copy.database.write { db in
            try db.execute(sql: "CREATE TABLE queue_unlogged (id INTEGER PRIMARY KEY, v TEXT)")
            try changeset.apply(to: db, policy: .abort)
        }
        #expect(try copy.database.read { try Int.fetchOne($0, sql: "SELECT n FROM tally WHERE key = 'a'") } == 5)
        #expect(try copy.database.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM tally") } == 1)
        #expect(try copy.database.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM queue_unlogged") } == 0)

        let nothing = try source.database.write { db in
            let recorder = try ChangesetRecorder(db)
            try db.execute(sql: "INSERT INTO queue_unlogged (v) VALUES ('still not logged')")
            #expect(recorder.isEmpty)
            return try recorder.changeset()
        }
        #expect(nothing.bytes.isEmpty)
    }

    @Test("on apply, .abort leaves the file unchanged at the first conflict; .replace lets the changeset's rows win and counts conflicts")
    func conflictPolicy() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = try store("source"), copy = try store("copy")
        let changeset = try source.database.write { db in
            let recorder = try ChangesetRecorder(db)
            try db.execute(sql: "INSERT INTO tally (key, n) VALUES ('new', 1), ('clash', 7)")
            return try recorder.changeset()
        }
        try copy.database.write { try $0.execute(sql: "INSERT INTO tally (key, n) VALUES ('clash', 2)") }
        let aborted = #expect(throws: ChangesetError.self) {
            try copy.database.write { try changeset.apply(to: $0, policy: .abort) }
        }
        #expect(aborted?.code == 4, "SQLITE_ABORT")
        #expect(try copy.database.read { try String.fetchAll($0, sql: "SELECT key || '=' || n FROM tally ORDER BY key") } == ["clash=2"])

        let conflicts = try copy.database.write { try changeset.apply(to: $0, policy: .replace) }
        #expect(conflicts == 1)
        #expect(try copy.database.read { try String.fetchAll($0, sql: "SELECT key || '=' || n FROM tally ORDER BY key") } == ["clash=7", "new=1"])

        // An update or delete of a row the file lacks is omitted under .replace.
        let deletion = try source.database.write { db in
            let recorder = try ChangesetRecorder(db)
            try db.execute(sql: "DELETE FROM tally WHERE key = 'new'")
            return try recorder.changeset()
        }
        let empty = try store("empty")
        #expect(try empty.database.write { try deletion.apply(to: $0, policy: .replace) } == 1)
        #expect(throws: ChangesetError.self) { try empty.database.write { try deletion.apply(to: $0, policy: .abort) } }
    }
}

/// A handler whose table has no primary key: the changelog could not record it.
private struct KeylessHandler: WorkerHandler {
    var inputTopics: [String] { ["test.input"] }
    func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("keyless-v1") { db in try db.execute(sql: "CREATE TABLE keyless (key TEXT, n INTEGER)") }
    }
    func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult { .done([]) }
}

extension ChangesetTests {
    @Test("a partition file with a table lacking a PRIMARY KEY is refused at open, naming the table")
    func keylessTableRefused() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let error = #expect(throws: MissingPrimaryKey.self) {
            _ = try PartitionStore(directory: directory, partition: 0, handler: KeylessHandler())
        }
        #expect(error?.tables == ["keyless"])
        #expect(try store("fine").database.read(PrimaryKeyCheck.tablesWithout).isEmpty, "the runtime's tables all have one")
    }
}
