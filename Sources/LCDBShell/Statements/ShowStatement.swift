import LCDBStore

/// `show NAME` (or `show EXPRESSION`): a collection's layers, a vector's
/// per-layer summary, or a matrix's per-block summary.
struct ShowStatement: Statement {
    let expression: Expression

    static let definition = StatementDefinition(
        words: ["show"],
        syntax: ["show NAME", "show EXPRESSION"],
        summary: "Shows a collection (layers with kind, shapes, numel and offsets), a vector (per layer: numel, norm, min, max; values of small layers) or a matrix (per block: side, trace, Frobenius norm).",
        example: "show mlp;"
    ) { parser in
        ShowStatement(expression: try parser.expression())
    }

    func run(in session: Session) throws -> [ResultTable] {
        var table: ResultTable
        if case .name(let name, _) = expression, try session.store.kind(of: name) == "vector" {
            // Read a chunk at a time, never loaded: any size of vector.
            table = try ShellError.located(expression.location) { try StoredVectorStreams.table(of: name, session.store) }
        } else {
            table = try ValuePresenter.table(for: try Evaluator(session: session).evaluate(expression), session: session)
        }
        if case .name(let name, _) = expression, try session.store.kind(of: name) != nil {
            let lines = try ShowStatement.history(of: name, session.store)
            if !lines.isEmpty { table.note = ([table.note].compactMap { $0 } + lines).joined(separator: "\n") }
        }
        return [table]
    }

    /// How a stored object was made (statement, lcdb version, time, inputs,
    /// each marked stale when dropped or replaced since) and its metadata.
    static func history(of name: String, _ store: Store) throws -> [String] {
        var lines: [String] = []
        if let made = try store.provenance(of: name) {
            lines.append("made by: \(made.statement)")
            lines.append("  with lcdb \(made.version) at \(made.createdAt)")
            if !made.inputs.isEmpty {
                lines.append("  from: " + made.inputs.map { input in
                    "\(input.kind) \(input.name)" + (input.sha256.map { " sha256:\($0.prefix(12))" } ?? "")
                        + (input.stale ? " (stale: dropped or replaced since)" : "")
                }
                    .joined(separator: ", "))
            }
        }
        let metadata = try store.metadata(of: name)
        if !metadata.isEmpty { lines.append("metadata: " + metadata.map { "\($0.key) = \($0.value)" }.joined(separator: ", ")) }
        return lines
    }
}
