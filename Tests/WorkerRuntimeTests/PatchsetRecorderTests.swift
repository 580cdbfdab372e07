import FleetSupport
import Foundation
import GRDB
import SQLiteChangeset
import Testing

/// The patchset recorder (`PatchsetRecorder`, on the pre-update hook) against SQLite's own session
/// extension: the same transactions on two identical files must give the same patchset, record
/// for record, and a third file that applies only the recorder's patchsets must end with the rows
/// of the first.
@Suite("State changelog: the patchset recorder against SQLite's session")
struct PatchsetRecorderTests {
    /// Every kind of table the session records or skips: rowid aliases, text keys, a composite key
    /// declared in another order than its columns, WITHOUT ROWID, no key, and an unlogged table.
    static let schema = """
        CREATE TABLE t_int (id INTEGER PRIMARY KEY, a TEXT, b REAL, c BLOB);
        CREATE TABLE t_text (k TEXT PRIMARY KEY, v INTEGER, w TEXT);
        CREATE TABLE t_comp (x INTEGER NOT NULL, payload ANY, y TEXT NOT NULL, PRIMARY KEY (y, x));
        CREATE TABLE t_norowid (k INTEGER PRIMARY KEY, v TEXT) WITHOUT ROWID;
        CREATE TABLE t_nopk (a INTEGER, b TEXT);
        CREATE TABLE t_queue_unlogged (seq INTEGER PRIMARY KEY AUTOINCREMENT, v BLOB);
        CREATE TABLE t_nullkey (k TEXT PRIMARY KEY, v INTEGER);
        """

    /// One statement of a random transaction; values cover NULL, integers, ±0.0, text, empty text and blobs.
    static func statement(_ rng: inout SplitMix64) -> String {
        func value() -> String {
            switch Int.random(in: 0..<9, using: &rng) {
            case 0: return "NULL"
            case 1: return "\(Int.random(in: -3...3, using: &rng))"
            case 2: return ["0.0", "-0.0", "1.5", "1e300"].randomElement(using: &rng)!
            case 3: return "''"
            case 4: return "x''"
            case 5: return "x'00ff\(String(format: "%02x", Int.random(in: 0..<256, using: &rng)))'"
            case 6: return "'\(["a", "b", "名字", "a'' quote"].randomElement(using: &rng)!)'"
            case 7: return "\(Int64.random(in: Int64.min...Int64.max, using: &rng))"
            default: return "'\(String(repeating: "z", count: Int.random(in: 0..<300, using: &rng)))'"
            }
        }
        let id = Int.random(in: 1...12, using: &rng), other = Int.random(in: 1...12, using: &rng)
        let key = "'k\(Int.random(in: 0..<8, using: &rng))'"
        let nullableKey = Bool.random(using: &rng) ? "NULL" : key
        switch Int.random(in: 0..<21, using: &rng) {
        case 0: return "INSERT OR REPLACE INTO t_int VALUES (\(id), \(value()), \(value()), \(value()))"
        case 1: return "INSERT INTO t_int VALUES (\(id), \(value()), \(value()), \(value())) ON CONFLICT(id) DO UPDATE SET a = excluded.a"
        case 2: return "UPDATE t_int SET a = \(value()), b = \(value()) WHERE id = \(id)"
        case 3: return "UPDATE OR REPLACE t_int SET id = \(other) WHERE id = \(id)"
        case 4: return "DELETE FROM t_int WHERE id = \(id)"
        case 5: return "UPDATE t_int SET a = a WHERE id = \(id)"
        case 6: return "INSERT OR REPLACE INTO t_text VALUES (\(key), \(value()), \(value()))"
        case 7: return "UPDATE t_text SET v = \(value()) WHERE k = \(key)"
        case 8: return "DELETE FROM t_text WHERE k = \(key)"
        case 9: return "INSERT OR REPLACE INTO t_comp VALUES (\(id % 4), \(value()), \(key))"
        case 10: return "UPDATE OR REPLACE t_comp SET x = \(other % 4) WHERE y = \(key)"
        case 11: return "DELETE FROM t_comp WHERE x = \(id % 4)"
        case 12: return "INSERT OR REPLACE INTO t_norowid VALUES (\(id), \(value()))"
        case 13: return "UPDATE OR REPLACE t_norowid SET k = \(other), v = \(value()) WHERE k = \(id)"
        case 14: return "INSERT INTO t_nopk VALUES (\(id), \(value()))"
        case 15: return "INSERT INTO t_queue_unlogged (v) VALUES (\(value()))"
        case 16: return "DELETE FROM t_text"
        // A rowid table's TEXT key may hold NULL: such rows are not recorded (nor by the session).
        case 18: return "INSERT OR REPLACE INTO t_nullkey VALUES (\(nullableKey), \(Int.random(in: 0...3, using: &rng)))"
        case 19: return "UPDATE t_nullkey SET v = v + 1 WHERE k IS \(nullableKey)"
        case 20: return "DELETE FROM t_nullkey WHERE k IS \(nullableKey)"
        default: return "UPDATE t_comp SET payload = \(value())"
        }
    }

    /// A transaction: statements, some inside a savepoint that is then rolled back or released.
    static func transaction(_ rng: inout SplitMix64) -> [String] {
        var statements: [String] = []
        for _ in 0..<Int.random(in: 0...12, using: &rng) {
            if Int.random(in: 0..<6, using: &rng) == 0 {
                statements.append("SAVEPOINT s")
                for _ in 0..<Int.random(in: 1...4, using: &rng) { statements.append(statement(&rng)) }
                statements.append(Bool.random(using: &rng) ? "ROLLBACK TO s" : "RELEASE s")
                if statements.last == "ROLLBACK TO s" { statements.append("RELEASE s") }
            } else {
                statements.append(statement(&rng))
            }
        }
        return statements
    }

    /// A patchset's records by table header (the header's bytes: column count, key flags, name),
    /// each table's records sorted: the order of rows within a table is the one thing the two
    /// recorders may differ in. Fails the test on bytes that are not a patchset.
    static func records(_ bytes: [UInt8]) -> [[UInt8]: [[UInt8]]] {
        var result: [[UInt8]: [[UInt8]]] = [:]
        var i = 0
        func varint() -> Int {
            var v = 0
            while i < bytes.count {
                let byte = bytes[i]
                i += 1
                v = v << 7 | Int(byte & 0x7f)
                if byte & 0x80 == 0 { break }
            }
            return v
        }
        func skipValue() {
            let type = bytes[i]
            i += 1
            switch type {
            case 1, 2: i += 8
            case 3, 4: let n = varint(); i += n
            default: break
            }
        }
        while i < bytes.count {
            guard bytes[i] == 0x50 else {
                Issue.record("table header expected at \(i), found \(bytes[i])")
                return result
            }
            let headerStart = i
            i += 1
            let columns = varint()
            let keyFlags = Array(bytes[i..<i + columns])
            i += columns
            while bytes[i] != 0 { i += 1 }
            i += 1
            let header = Array(bytes[headerStart..<i])
            var rows: [[UInt8]] = []
            while i < bytes.count, bytes[i] != 0x50 {
                let start = i
                let op = bytes[i]
                i += 2
                let count = op == 0x09 ? keyFlags.filter { $0 != 0 }.count : columns
                for _ in 0..<count { skipValue() }
                rows.append(Array(bytes[start..<i]))
            }
            result[header, default: []] += rows
        }
        return result.mapValues { $0.sorted { $0.lexicographicallyPrecedes($1) } }
    }

    static func dump(_ db: Database) throws -> [String] {
        var rows: [String] = []
        for table in ["t_int", "t_text", "t_comp", "t_norowid", "t_nullkey"] {
            // Rows with a NULL key are in no patchset (the session's rule too): not compared.
            let recorded = table == "t_nullkey" ? " WHERE k IS NOT NULL" : ""
            rows += try Row.fetchAll(db, sql: "SELECT * FROM \(table)\(recorded)").map { row in
                "\(table) " + row.databaseValues.map { "\($0)|\($0.storage)" }.joined(separator: ",")
            }
        }
        return rows.sorted()
    }

    @Test("random transactions: the recorder's patchset is the session's, and applying it gives the same rows",
          arguments: 1...12)
    func sameAsSession(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let bySession = try DatabaseQueue(), byRecorder = try DatabaseQueue(), applied = try DatabaseQueue()
        for queue in [bySession, byRecorder, applied] {
            try queue.write { db in
                try db.execute(sql: Self.schema)
                for id in 1...6 {
                    try db.execute(sql: "INSERT INTO t_int VALUES (?, 'seed', 2.5, x'01')", arguments: [id])
                    try db.execute(sql: "INSERT INTO t_comp VALUES (?, 'p', 'k' || ?)", arguments: [id % 4, id])
                }
            }
        }
        let recorder = PatchsetRecorder()
        var nonEmpty = 0, updates = 0, deletes = 0
        for _ in 0..<40 {
            let statements = Self.transaction(&rng)
            let both = try Self.recordBoth(statements, session: bySession, recorder: recorder, on: byRecorder)
            let (expected, actual) = (both.session, both.recorder)
            let context = statements.joined(separator: "; ")
            #expect(Self.records(actual) == Self.records(expected), "seed \(seed): \(context)")
            #expect(actual.count == expected.count, "seed \(seed): \(context)")
            #expect(both.recorderEmpty == both.sessionEmpty, "seed \(seed): \(context)")
            if !actual.isEmpty {
                nonEmpty += 1
                let counts = try Changeset(bytes: actual).counts()
                updates += counts.updates
                deletes += counts.deletes
                try applied.write { db in _ = try Changeset(bytes: actual).apply(to: db, policy: .abort) }
            }
            #expect(try applied.read(Self.dump) == byRecorder.read(Self.dump), "seed \(seed): \(context)")
        }
        // The seeds must reach what they are here for: patchsets with updates and deletes.
        #expect(nonEmpty > 20 && updates > 0 && deletes > 0)
        #expect(try bySession.read(Self.dump) == byRecorder.read(Self.dump))
    }

    /// One transaction recorded by a session on `bySession` and by `recorder` on `byRecorder`, the same SQL on both.
    static func recordBoth(_ statements: [String], session bySession: DatabaseQueue, recorder: PatchsetRecorder,
                           on byRecorder: DatabaseQueue) throws
        -> (session: [UInt8], recorder: [UInt8], sessionEmpty: Bool, recorderEmpty: Bool) {
        let (expected, expectedEmpty) = try bySession.write { db -> ([UInt8], Bool) in
            let session = try ChangesetRecorder(db)
            defer { session.close() }
            for sql in statements { try db.execute(sql: sql) }
            return (try session.patchset().bytes, session.isEmpty)
        }
        let (actual, empty) = try byRecorder.write { db -> ([UInt8], Bool) in
            try recorder.begin(db)
            defer { recorder.end() }
            for sql in statements { try db.execute(sql: sql) }
            return (try recorder.patchset().bytes, recorder.isEmpty)
        }
        return (expected, actual, expectedEmpty, empty)
    }

    @Test("a table dropped and created again with another primary key is read again; a schema change inside a recorded transaction is an error")
    func schemaChanges() throws {
        let bySession = try DatabaseQueue(), byRecorder = try DatabaseQueue()
        let recorder = PatchsetRecorder()
        defer { recorder.close() }
        for queue in [bySession, byRecorder] {
            try queue.write { try $0.execute(sql: "CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)") }
        }
        var both = try Self.recordBoth(["INSERT INTO t VALUES (1, 'x')"], session: bySession, recorder: recorder, on: byRecorder)
        var (expected, actual) = (both.session, both.recorder)
        #expect(!actual.isEmpty && Self.records(actual) == Self.records(expected))
        // Same column count, the key moved to b: the old key flags would describe the wrong column.
        for queue in [bySession, byRecorder] {
            try queue.write { try $0.execute(sql: "DROP TABLE t; CREATE TABLE t (a INTEGER, b TEXT PRIMARY KEY); INSERT INTO t VALUES (1, 'x')") }
        }
        both = try Self.recordBoth(["UPDATE t SET a = 2 WHERE b = 'x'", "INSERT INTO t VALUES (3, 'y')"],
                                   session: bySession, recorder: recorder, on: byRecorder)
        (expected, actual) = (both.session, both.recorder)
        #expect(Self.records(actual) == Self.records(expected))
        #expect(Self.records(actual).keys.first.map { Array($0.prefix(4)) } == [0x50, 2, 0, 1])
        // DDL inside the recorded transaction: no patchset that might not match the columns.
        #expect(throws: ChangesetError.self) {
            try byRecorder.write { db in
                try recorder.begin(db)
                defer { recorder.end() }
                try db.execute(sql: "INSERT INTO t VALUES (4, 'z'); ALTER TABLE t ADD COLUMN c TEXT")
                _ = try recorder.patchset()
            }
        }
    }

    @Test("a rolled-back transaction leaves nothing for the next, and a column added is read again")
    func rollbackAndNewColumn() throws {
        let queue = try DatabaseQueue()
        try queue.write { try $0.execute(sql: Self.schema) }
        let recorder = PatchsetRecorder()
        struct Rollback: Error {}
        #expect(throws: Rollback.self) {
            try queue.write { db in
                try recorder.begin(db)
                defer { recorder.end() }
                try db.execute(sql: "INSERT INTO t_int (id, a) VALUES (1, 'gone')")
                #expect(!recorder.isEmpty)
                throw Rollback()
            }
        }
        try queue.write { db in
            try db.execute(sql: "ALTER TABLE t_text ADD COLUMN extra TEXT")
            try recorder.begin(db)
            defer { recorder.end() }
            #expect(recorder.isEmpty)
            try db.execute(sql: "INSERT INTO t_text VALUES ('k', 1, 'w', 'new column')")
            try db.execute(sql: "INSERT INTO t_int (id, a) VALUES (2, 'kept')")
            let records = Self.records(try recorder.patchset().bytes)
            // t_int's insert alone (id 1 was rolled back), and t_text with its four columns.
            #expect(records.count == 2)
            #expect(records.values.map(\.count).sorted() == [1, 1])
            #expect(records.keys.contains { header in header[1] == 4 && header.suffix(7) == Array("t_text\0".utf8) })
        }
        // A closed recorder starts again on the next begin.
        recorder.close()
        try queue.write { db in
            try recorder.begin(db)
            defer { recorder.end() }
            try db.execute(sql: "DELETE FROM t_int WHERE id = 2")
            #expect(try Changeset(bytes: recorder.patchset().bytes).counts() == Changeset.Counts(inserts: 0, updates: 0, deletes: 1))
        }
    }
}
