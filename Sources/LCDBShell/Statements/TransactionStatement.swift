/// `begin`, `commit`, `rollback`: one transaction over several statements.
/// Inside it each statement still fails as a unit (a savepoint: a failed
/// statement is undone and the transaction stays open, as in sqlite3); a
/// script or session that ends with it open rolls it back and says so.
struct TransactionStatement: Statement {
    enum Action: String { case begin, commit, rollback }
    let action: Action
    let location: SourceLocation

    static let definitions: [StatementDefinition] = [
        StatementDefinition(words: ["begin"], syntax: ["begin"],
                            summary: "Starts a transaction: what the next statements store becomes visible to other readers, and permanent, only at commit; rollback undoes all of it. A failed statement inside undoes itself only. A script or session that ends inside it rolls it back.",
                            example: "begin; let F2 = 2 * F; drop matrix F; commit;") { parser in
            TransactionStatement(action: .begin, location: parser.current.location)
        },
        StatementDefinition(words: ["commit"], syntax: ["commit"], summary: "Makes the open transaction's changes permanent.",
                            example: "commit;") { parser in
            TransactionStatement(action: .commit, location: parser.current.location)
        },
        StatementDefinition(words: ["rollback"], syntax: ["rollback"], summary: "Undoes every change since begin.",
                            example: "rollback;") { parser in
            TransactionStatement(action: .rollback, location: parser.current.location)
        },
    ]

    func run(in session: Session) throws -> [ResultTable] {
        switch action {
        case .begin:
            if let open = session.openTransaction {
                throw ShellError("a transaction is already open (begun on line \(open.line)); commit or rollback it first (transactions do not nest)")
            }
            guard !session.store.isInBatch else {
                throw ShellError("lcdb runs with --single-transaction: the whole run is one transaction already")
            }
            try ShellError.located(location) { try session.store.beginBatch() }
            session.openTransaction = location
            return []
        case .commit, .rollback:
            guard session.openTransaction != nil else {
                throw ShellError("no transaction is open (begin starts one)")
            }
            session.openTransaction = nil
            try ShellError.located(location) { try session.store.endBatch(commit: action == .commit) }
            return action == .rollback ? [.message("rolled back: nothing since begin was stored")] : []
        }
    }
}
