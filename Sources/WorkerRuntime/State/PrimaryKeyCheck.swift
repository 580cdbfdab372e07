import GRDB

/// SQLite's session extension records only tables with a declared PRIMARY KEY
/// (https://sqlite.org/session/sqlite3session_attach.html): a handler table without one would be
/// silently missing from the state changelog, and a partition restored elsewhere would lack it.
/// So a partition file whose tables lack one is refused when it is opened.
enum PrimaryKeyCheck {
    /// Tables of `db` (other than SQLite's, GRDB's and the `*_unlogged` ones) without a declared primary key.
    static func tablesWithout(in db: Database) throws -> [String] {
        try String.fetchAll(db, sql: """
            SELECT m.name FROM sqlite_master m
            WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '%_unlogged'
              AND NOT EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.pk > 0)
            ORDER BY m.name
            """)
    }

    /// - Throws: ``MissingPrimaryKey`` naming every table without one.
    static func verify(_ db: Database) throws {
        let tables = try tablesWithout(in: db)
        guard tables.isEmpty else { throw MissingPrimaryKey(tables: tables) }
    }
}

/// A partition file has tables the state changelog cannot record.
public struct MissingPrimaryKey: Error, CustomStringConvertible {
    public let tables: [String]
    public var description: String {
        "partition state tables without a declared PRIMARY KEY: \(tables.joined(separator: ", ")); the state changelog "
            + "(SQLite's session extension) cannot record them: give each one a PRIMARY KEY in a migration"
    }
}
