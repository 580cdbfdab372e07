import CSQLiteSession
import GRDB

/// The row changes of one SQLite transaction in SQLite's changeset format
/// (https://sqlite.org/sessionintro.html): every row inserted, updated or deleted in every table
/// that has a declared PRIMARY KEY, consolidated per row (a row inserted then updated is one
/// insert; a row inserted and deleted in the same transaction is absent).
///
/// The bytes may also be a **patchset** (``ChangesetRecorder/patchset()``, `sqlite3session_patchset`):
/// the same changes without the old values, so a deleted row carries only its primary key and an
/// updated row its key and new values. SQLite reads either format (the table headers say which), so
/// ``counts()`` and ``apply(to:policy:)`` take both; applying a patchset cannot meet a `DATA`
/// conflict (there are no old values to compare), only a missing row or a clashing insert.
public struct Changeset: Sendable, Equatable {
    /// The bytes as `sqlite3session_changeset` or `sqlite3session_patchset` wrote them.
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Row operations in the changeset.
    public struct Counts: Sendable, Equatable {
        public var inserts: Int
        public var updates: Int
        public var deletes: Int
        public var total: Int { inserts + updates + deletes }

        public init(inserts: Int, updates: Int, deletes: Int) {
            self.inserts = inserts
            self.updates = updates
            self.deletes = deletes
        }
    }

    /// Counts the changeset's row operations.
    /// - Throws: ``ChangesetError`` when the bytes are not a changeset (`sqlite3changeset_start`/`_next`).
    public func counts() throws -> Counts {
        var inserts: Int32 = 0, updates: Int32 = 0, deletes: Int32 = 0
        let rc = bytes.withUnsafeBytes { buffer in
            card_changeset_count(Int32(buffer.count), buffer.baseAddress, &inserts, &updates, &deletes)
        }
        guard rc == 0 else { throw ChangesetError(code: rc, message: "not a changeset") }
        return Counts(inserts: Int(inserts), updates: Int(updates), deletes: Int(deletes))
    }

    /// What to do when a change meets a row that is not as the changeset expected.
    public enum ConflictPolicy: Sendable {
        /// Any conflict rolls the whole changeset back and throws: for files that must agree exactly.
        case abort
        /// The changeset's row wins: a conflicting row is replaced, an update or delete of a missing
        /// row is omitted. A constraint violation still aborts.
        case replace
    }

    /// Applies the changeset to `db`, all or nothing (SQLite wraps it in a savepoint).
    /// - Returns: the number of conflicts met (resolved under `policy`).
    /// - Throws: ``ChangesetError`` when the apply aborted (a conflict under `.abort`, a constraint, a
    ///   malformed changeset); `db` is then unchanged.
    @discardableResult
    public func apply(to db: Database, policy: ConflictPolicy) throws -> Int {
        guard let connection = db.sqliteConnection else { throw ChangesetError(code: 21, message: "database is closed") }
        var conflicts: Int32 = 0
        let rc = bytes.withUnsafeBytes { buffer in
            card_changeset_apply(UnsafeMutableRawPointer(connection), Int32(buffer.count), buffer.baseAddress,
                                 policy == .abort ? CARD_APPLY_ABORT : CARD_APPLY_REPLACE, &conflicts)
        }
        guard rc == 0 else {
            throw ChangesetError(code: rc, message: String(cString: card_sqlite_errmsg(UnsafeMutableRawPointer(connection))),
                                 conflicts: Int(conflicts))
        }
        return Int(conflicts)
    }
}

extension Changeset {
    /// Runs a C generator that hands back `(size, sqlite3_malloc'd buffer)`, copies the bytes and
    /// frees the buffer.
    /// - Throws: ``ChangesetError`` with the generator's result code when it is not SQLITE_OK.
    static func copied(_ name: String, _ generate: (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Int32)
        throws -> Changeset {
        var size: Int32 = 0
        var buffer: UnsafeMutableRawPointer?
        let rc = generate(&size, &buffer)
        defer { card_sqlite_free(buffer) }
        guard rc == 0 else { throw ChangesetError(code: rc, message: "\(name) failed") }
        guard let buffer, size > 0 else { return Changeset(bytes: []) }
        return Changeset(bytes: Array(UnsafeRawBufferPointer(start: buffer, count: Int(size))))
    }
}

/// A session-extension call failed.
public struct ChangesetError: Error, CustomStringConvertible, Sendable {
    /// The SQLite result code (https://sqlite.org/rescode.html; 4 = SQLITE_ABORT).
    public let code: Int32
    public let message: String
    /// Conflicts met before the apply stopped.
    public var conflicts = 0
    public var description: String { "changeset error \(code): \(message)" + (conflicts > 0 ? " (\(conflicts) conflicts)" : "") }
}

/// Records the changes made on one connection from its creation until `changeset()`
/// (`sqlite3session_create` + `sqlite3session_attach(NULL)`: every table of "main" with a
/// declared PRIMARY KEY; tables named `*_unlogged` are left out).
///
/// Create it inside a write transaction, take the changeset before the commit, and let it go
/// (or call `close`) before the connection is used elsewhere: it lives on the writer's thread.
public final class ChangesetRecorder {
    /// Name suffix of tables never recorded (the changelog's own send queue).
    public static let unloggedSuffix = CARD_SESSION_UNLOGGED_SUFFIX

    private var session: UnsafeMutableRawPointer?

    /// - Throws: ``ChangesetError`` when SQLite cannot create the session.
    public init(_ db: Database) throws {
        guard let connection = db.sqliteConnection else { throw ChangesetError(code: 21, message: "database is closed") }
        var session: UnsafeMutableRawPointer?
        let rc = card_session_create(UnsafeMutableRawPointer(connection), &session)
        guard rc == 0, let session else {
            throw ChangesetError(code: rc, message: String(cString: card_sqlite_errmsg(UnsafeMutableRawPointer(connection))))
        }
        self.session = session
    }

    deinit { card_session_delete(session) }

    /// Whether no net change has been recorded (`sqlite3session_isempty`).
    public var isEmpty: Bool { session.map { card_session_isempty($0) != 0 } ?? true }

    /// The changes recorded so far, consolidated per row.
    /// - Throws: ``ChangesetError`` (SQLITE_NOMEM, or a schema change under the session).
    public func changeset() throws -> Changeset { try generate(card_session_changeset, "sqlite3session_changeset") }

    /// The changes recorded so far as a patchset: what ``changeset()`` holds without the old values
    /// (a deleted row is its primary key only; an updated row its key and new values). The state
    /// changelog sends these: a delivered outbox row's deletion costs its key, not its whole payload
    /// again (docs/state-changelog.md, "Patchsets").
    /// - Throws: ``ChangesetError`` (SQLITE_NOMEM, or a schema change under the session).
    public func patchset() throws -> Changeset { try generate(card_session_patchset, "sqlite3session_patchset") }

    /// Calls one of the shim's two generators (same signature) and copies its buffer out.
    private func generate(_ function: (UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?,
                                       UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32,
                          _ name: String) throws -> Changeset {
        guard let session else { return Changeset(bytes: []) }
        return try Changeset.copied(name) { function(session, $0, $1) }
    }

    /// Stops recording now (before the connection serves another transaction).
    public func close() {
        card_session_delete(session)
        session = nil
    }
}

/// Records each write transaction of one connection as a patchset, on SQLite's pre-update hook,
/// for as long as the connection lives (`card_recorder_*` in CSQLiteSession).
///
/// The bytes are what ``ChangesetRecorder/patchset()`` (a session) gives for the same transaction,
/// up to the order of rows within a table; `ChangesetTests` holds the two to that over random
/// transactions. The difference is cost: a session lives for one transaction, so at every
/// transaction it prepares `PRAGMA table_info` for each table it sees change and a row lookup per
/// changed table, about a dozen prepares; this recorder prepares them once per table per connection.
/// At a steady rate, where every message is its own transaction, the session's prepares were 6–15 %
/// of a worker's CPU (docs/profile-notes.md, "Fourth round").
///
/// Use it from the connection's writer only: `begin` inside a write transaction, the writes,
/// `patchset`, then `end` (also on rollback). A schema change between transactions (a table
/// created, dropped and created again, a column added) is seen at the next `begin`
/// (`PRAGMA schema_version`); one inside a recorded transaction makes ``patchset()`` throw
/// SQLITE_SCHEMA rather than give records that may not match the columns. Rows with a NULL in
/// their primary key are not recorded, as by the session. One connection for the recorder's life;
/// call ``close()`` before the connection closes with `sqlite3_close` (it holds prepared statements).
public final class PatchsetRecorder {
    private var recorder: OpaquePointer?
    private var connection: SQLiteConnection?

    public init() {}

    deinit { card_recorder_delete(recorder) }

    /// Starts recording `db`'s transaction (installs the pre-update hook; it replaces a session's).
    /// - Throws: ``ChangesetError`` when the connection is closed or SQLite is out of memory.
    public func begin(_ db: Database) throws {
        guard let sqlite = db.sqliteConnection else { throw ChangesetError(code: 21, message: "database is closed") }
        if sqlite != connection {
            // Another connection: the statements prepared on the first are of no use here.
            close()
            var created: OpaquePointer?
            let rc = card_recorder_create(UnsafeMutableRawPointer(sqlite), &created)
            guard rc == 0, let created else { throw ChangesetError(code: rc, message: "card_recorder_create failed") }
            recorder = created
            connection = sqlite
        }
        card_recorder_begin(recorder)
    }

    /// Whether no row of a recorded table was touched since ``begin(_:)`` (as `sqlite3session_isempty`:
    /// a row changed and changed back still counts).
    public var isEmpty: Bool { recorder.map { card_recorder_isempty($0) != 0 } ?? true }

    /// The net row changes since ``begin(_:)`` as a patchset (empty bytes when there are none).
    /// - Throws: ``ChangesetError`` with the error the hook met (SQLITE_NOMEM; SQLITE_SCHEMA when a
    ///   table's columns changed under recorded rows or the schema changed inside the transaction)
    ///   or the row lookup's.
    public func patchset() throws -> Changeset {
        guard let recorder else { return Changeset(bytes: []) }
        return try Changeset.copied("patchset recorder") { card_recorder_patchset(recorder, $0, $1) }
    }

    /// Stops recording: removes the hook and forgets the transaction's changes.
    public func end() {
        if let recorder { card_recorder_end(recorder) }
    }

    /// Frees the recorder's statements now (before its connection closes).
    public func close() {
        card_recorder_delete(recorder)
        recorder = nil
        connection = nil
    }
}
