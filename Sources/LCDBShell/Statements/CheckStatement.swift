import LCDBStore

/// `check`: lcdb's own invariants over the whole file (after SQLite's
/// `integrity_check`), reporting every damaged object by name. Damage fails
/// the statement (non-zero exit in batch mode) after listing it.
struct CheckStatement: Statement {
    let location: SourceLocation

    static let definition = StatementDefinition(
        words: ["check"],
        syntax: ["check"],
        summary: "Checks the database: SQLite's integrity check, lcdb's schema, and each object's invariants (layer sizes agree with their definitions; a vector's chunks and a matrix's tiles cover every layer and block exactly once, each of the right size). Lists every damaged object by name and fails if there is one; reads sizes, not values.",
        example: "check;"
    ) { parser in
        CheckStatement(location: parser.current.location)
    }

    func run(in session: Session) throws -> [ResultTable] {
        let problems = try ShellError.located(location) { try session.store.check() }
        guard !problems.isEmpty else { return [.message("check: ok")] }
        try session.emit([ResultTable(columns: ["kind", "name", "problem"],
                                      rows: problems.map { [.text($0.kind), .text($0.name), .text($0.problem)] })])
        throw ShellError("check: \(problems.count) damaged object\(problems.count == 1 ? "" : "s") (listed above)", at: location)
    }
}
