import LCDBStore

/// `select ...` and `with ...`: a read-only SQL query of the open database
/// (its documented views), printed in the current format. The text goes to
/// SQLite as written (lcdb's lexer never sees it); a query that would write
/// is refused by the store before it runs.
struct SQLStatement: Statement {
    let sql: String
    let location: SourceLocation

    /// Words that start a SQL query.
    static let leadingWords = ["select", "with"]

    static let definitions = leadingWords.map { word in
        StatementDefinition(
            words: [word],
            syntax: word == "select" ? ["select ... (SQL, read-only)"] : ["with ... select ... (SQL, read-only)"],
            summary: word == "select"
                ? "Runs a read-only SQL query on the open database (the views collections, layers, vectors, vector_chunks, matrices, matrix_blocks, matrix_parts, matrix_tiles: see .schema), printed in the current format; blobs print as their size. insert, update, delete and other writes are refused."
                : "A SQL query with common table expressions, read-only like select.",
            example: word == "select" ? "select name, representation, bytes from matrices;" : "with big as (select * from layers where numel > 1000) select name from big;"
        ) { parser in
            // Reached only if the session did not route the text to SQL first.
            throw parser.unexpected(expected: "a statement")
        }
    }

    /// SQL words that only write: refused with the reason, not "unknown statement".
    static let writingWords = ["insert", "update", "delete", "replace", "attach", "detach", "pragma", "reindex", "analyze", "savepoint", "release"]

    static let readOnlyMessage = "SQL in lcdb is read-only (select and with queries of the views); this statement would change the database: use lcdb's statements (let, drop, rename, ...), which keep its invariants"

    /// The query when `text` starts with a SQL keyword, nil otherwise.
    /// Throws when it starts with a SQL word that writes.
    init?(text: String, start: SourceLocation) throws {
        // Blanks and `--` comment lines before the first word are skipped.
        var line = start.line, column = start.column
        var rest = Substring(text)
        while let first = rest.first {
            if first == "\n" {
                line += 1
                column = 1
                rest = rest.dropFirst()
            } else if first.isWhitespace {
                column += 1
                rest = rest.dropFirst()
            } else if rest.hasPrefix("--") {
                rest = rest.drop { $0 != "\n" }
            } else {
                break
            }
        }
        let word = rest.prefix { $0.isLetter }.lowercased()
        let wordEnds = rest.dropFirst(word.count).first.map({ !$0.isLetter && !$0.isNumber && $0 != "_" }) ?? false
        let nextWord = rest.dropFirst(word.count).drop { $0.isWhitespace }.prefix { $0.isLetter }.lowercased()
        let definesSchema = ["create", "drop", "alter"].contains(word)
            && ["table", "view", "index", "trigger", "virtual", "temp", "temporary", "unique"].contains(nextWord)
        if wordEnds, SQLStatement.writingWords.contains(word) || definesSchema {
            throw ShellError(SQLStatement.readOnlyMessage, at: SourceLocation(line: line, column: column))
        }
        guard SQLStatement.leadingWords.contains(word), wordEnds else { return nil }
        var sql = String(rest)
        while let last = sql.last, last == ";" || last.isWhitespace { sql.removeLast() }
        self.sql = sql
        location = SourceLocation(line: line, column: column)
    }

    func run(in session: Session) throws -> [ResultTable] {
        let (columns, rows) = try ShellError.located(location) { try session.store.query(sql) }
        let cells: [[ResultTable.Cell]] = rows.map { row in
            row.map { cell in
                switch cell {
                case .integer(let value): .integer(Int(value))
                case .real(let value): .real(value)
                case .text(let text): .text(text)
                case .blob(let bytes): .text("<blob: \(bytes) bytes>")
                case .null: .null
                }
            }
        }
        return [ResultTable(columns: columns, rows: cells)]
    }
}
