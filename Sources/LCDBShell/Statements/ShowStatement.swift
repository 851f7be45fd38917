/// `show NAME`: a collection's layers, a vector's per-layer summary, or a
/// matrix's per-block summary.
struct ShowStatement: Statement {
    let name: Located<String>

    static let definition = StatementDefinition(
        words: ["show"],
        syntax: ["show NAME"],
        summary: "Shows a collection (layers with kind, shapes, numel and offsets), a vector (per layer: numel, norm, min, max; values of small layers) or a matrix (per block: side, trace, Frobenius norm).",
        example: "show mlp;"
    ) { parser in
        ShowStatement(name: try parser.name("collection, vector or matrix"))
    }

    func run(in session: Session) throws -> [ResultTable] {
        let value = try Evaluator(session: session).resolve(name.value, at: name.location)
        return [try ValuePresenter.table(for: value, session: session)]
    }
}
