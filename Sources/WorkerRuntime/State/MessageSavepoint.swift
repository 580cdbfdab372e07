import GRDB

extension PartitionStore {
    /// The savepoint every message is handled in (`WorkerLoop.process`), as GRDB's
    /// `Database.inSavepoint` does it, with its statements prepared once per connection.
    ///
    /// Why: GRDB's `inSavepoint` runs `SAVEPOINT grdb` and `RELEASE SAVEPOINT grdb` through
    /// `execute(sql:)`, which parses and authorises them again for every message: the SQL parser
    /// (`sqlite3_prepare`, GRDB's authorizer and statement cursor) was ~5 % of each worker's CPU
    /// under `fleet bench` (perf, docs/profile-notes.md, issue 14). Same statements, same order,
    /// same outcome: on `.commit` the savepoint is released; on `.rollback` or a thrown error
    /// everything since it is rolled back, it is released, and the first error is rethrown.
    ///
    /// - Parameter operations: the message's work; returns whether to keep it.
    /// - Throws: what `operations` threw; a `DatabaseError` from SQLite (`SQLITE_ABORT` when a
    ///   statement inside rolled the whole transaction back, as GRDB reports it).
    ///
    /// Outside a transaction it is GRDB's own `inSavepoint` (which opens a transaction instead).
    static func inMessageSavepoint(_ db: Database, _ operations: () throws -> Database.TransactionCompletion) throws {
        guard db.isInsideTransaction else { return try db.inSavepoint(operations) }
        try db.cachedStatement(sql: "SAVEPOINT card_message").execute()
        var firstError: Error?
        var needsRollback = false
        do {
            switch try operations() {
            case .commit:
                // A failed statement may have ended the whole transaction (SQLITE_FULL, …): no
                // savepoint is left to release, and the batch must not go on as if it were.
                guard db.isInsideTransaction else {
                    throw DatabaseError(resultCode: .SQLITE_ABORT, message: "Transaction was aborted")
                }
                try db.cachedStatement(sql: "RELEASE SAVEPOINT card_message").execute()
            case .rollback:
                needsRollback = true
            }
        } catch {
            firstError = error
            needsRollback = true
        }
        if needsRollback {
            do {
                // ROLLBACK TO leaves the savepoint on SQLite's stack: release it too.
                try db.cachedStatement(sql: "ROLLBACK TRANSACTION TO SAVEPOINT card_message").execute()
                try db.cachedStatement(sql: "RELEASE SAVEPOINT card_message").execute()
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
    }
}
