import Foundation
import GRDB
import Testing

@testable import WorkerRuntime

/// Issue 14: the per-message savepoint with statements prepared once keeps GRDB's `inSavepoint`
/// outcomes: kept on commit, undone on rollback or error (the error rethrown), the enclosing
/// transaction intact either way, and the same statements reused message after message.
@Suite("Per-message savepoint")
struct MessageSavepointTests {
    private func queue() throws -> DatabaseQueue {
        let queue = try DatabaseQueue()
        try queue.write { try $0.execute(sql: "CREATE TABLE t (k TEXT PRIMARY KEY)") }
        return queue
    }

    private struct Refused: Error {}

    @Test("commit keeps a message's rows, rollback and errors undo only that message's, the transaction goes on")
    func outcomes() throws {
        let queue = try queue()
        try queue.write { db in
            try db.execute(sql: "INSERT INTO t VALUES ('before')")
            for round in 0..<3 {  // the same cached statements, again and again
                try PartitionStore.inMessageSavepoint(db) {
                    try db.execute(sql: "INSERT INTO t VALUES (?)", arguments: ["kept-\(round)"])
                    return .commit
                }
                try PartitionStore.inMessageSavepoint(db) {
                    try db.execute(sql: "INSERT INTO t VALUES (?)", arguments: ["rolled-back-\(round)"])
                    return .rollback
                }
                #expect(throws: Refused.self) {
                    try PartitionStore.inMessageSavepoint(db) {
                        try db.execute(sql: "INSERT INTO t VALUES (?)", arguments: ["thrown-\(round)"])
                        throw Refused()
                    }
                }
                #expect(db.isInsideTransaction)
            }
            try db.execute(sql: "INSERT INTO t VALUES ('after')")
        }
        let rows = try queue.read { try String.fetchAll($0, sql: "SELECT k FROM t ORDER BY k") }
        #expect(rows == ["after", "before", "kept-0", "kept-1", "kept-2"])
    }

    @Test("a database error inside rolls the message back and is rethrown as it came")
    func databaseError() throws {
        let queue = try queue()
        try queue.write { db in
            try db.execute(sql: "INSERT INTO t VALUES ('a')")
            do {
                try PartitionStore.inMessageSavepoint(db) {
                    try db.execute(sql: "INSERT INTO t VALUES ('b')")
                    try db.execute(sql: "INSERT INTO t VALUES ('a')")  // primary key conflict
                    return .commit
                }
                Issue.record("the conflict was not rethrown")
            } catch let error as DatabaseError {
                #expect(error.resultCode == .SQLITE_CONSTRAINT)
            }
        }
        #expect(try queue.read { try String.fetchAll($0, sql: "SELECT k FROM t ORDER BY k") } == ["a"])
    }

    @Test("outside a transaction it opens one, as GRDB's inSavepoint does")
    func outsideTransaction() throws {
        let queue = try queue()
        try queue.writeWithoutTransaction { db in
            try PartitionStore.inMessageSavepoint(db) {
                #expect(db.isInsideTransaction)
                try db.execute(sql: "INSERT INTO t VALUES ('x')")
                return .commit
            }
            #expect(!db.isInsideTransaction)
        }
        #expect(try queue.read { try String.fetchAll($0, sql: "SELECT k FROM t") } == ["x"])
    }
}
