import GRDB
import LCDBCore

/// One cell of a SQL query's result, as the shell prints it.
public enum SQLCell: Equatable, Sendable {
    case integer(Int64)
    case real(Double)
    case text(String)
    /// A blob's size: tiles and chunks are megabytes of raw numbers.
    case blob(bytes: Int)
    case null
}

extension Store {
    /// Runs one read-only SQL query (`select` or `with`) and returns its
    /// columns and rows. Anything that could write (`insert`, `update`,
    /// `delete`, a `with ... insert`, `drop`, `attach`, a pragma assignment,
    /// several statements) is refused before it runs: SQLite itself says
    /// whether a prepared statement writes (`sqlite3_stmt_readonly`), so the
    /// store's invariants stay lcdb's to keep.
    public func query(_ sql: String) throws -> (columns: [String], rows: [[SQLCell]]) {
        try read { db in
            let statement: Statement
            do {
                statement = try db.makeStatement(sql: sql)
            } catch let error as DatabaseError {
                throw StoreError(.sql, "SQL: \(error.message ?? "\(error)")")
            }
            guard statement.isReadonly else {
                throw StoreError(.sql, "SQL in lcdb is read-only (select and with queries of the views); this statement would change the database: use lcdb's statements (let, drop, rename, ...), which keep its invariants")
            }
            let columns = statement.columnNames
            var rows: [[SQLCell]] = []
            // What the rows take, roughly (a cell, its text), checked as they
            // come: a query of 30 million rows ended in a failed allocation,
            // a trap, instead of an error. Printing needs about as much again.
            var bytes = 0.0
            do {
                let cursor = try Row.fetchCursor(statement)
                while let row = try cursor.next() {
                    if rows.count % 4096 == 4095 {
                        try Interruption.check()
                        try MemoryBudget.require(2 * bytes, for: "the query's result (\(rows.count + 1) rows so far)",
                                                 advice: "; add a LIMIT (and OFFSET for the next rows), or query the file with sqlite3 for bulk output")
                    }
                    rows.append((0 ..< row.count).map { index in
                        switch row[index] as DatabaseValue {
                        case let value where value.isNull: return .null
                        case let value:
                            switch value.storage {
                            case .int64(let number): return .integer(number)
                            case .double(let number): return .real(number)
                            case .string(let text):
                                bytes += Double(text.utf8.count)
                                return .text(text)
                            case .blob(let data): return .blob(bytes: data.count)
                            case .null: return .null
                            }
                        }
                    })
                    bytes += Double(64 + 48 * row.count)
                }
            } catch let error as DatabaseError {
                throw StoreError(.sql, "SQL: \(error.message ?? "\(error)")")
            }
            return (columns, rows)
        }
    }

    /// The SQL of schema objects (tables, views, indexes, triggers) named
    /// `name`, or of all of them, as sqlite3's `.schema` prints it.
    public func schemaSQL(named name: String?) throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: """
                SELECT sql || ';' FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'
                AND (? IS NULL OR name = ?) ORDER BY type = 'view', name
                """, arguments: [name, name])
        }
    }

    /// Tables and views, as sqlite3's `.tables` lists them: views (the
    /// documented interface) first.
    public func tableNames() throws -> [(name: String, type: String)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'
                ORDER BY type = 'table', name
                """).map { ($0["name"], $0["type"]) }
        }
    }

    /// Column names of every view (for completion).
    public func viewColumns() throws -> [String: [String]] {
        try read { db in
            var result: [String: [String]] = [:]
            for view in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name") {
                result[view] = try db.columns(in: view).map(\.name)
            }
            return result
        }
    }
}
