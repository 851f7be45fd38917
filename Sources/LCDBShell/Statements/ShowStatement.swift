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
        [try ValuePresenter.table(for: try Evaluator(session: session).evaluate(expression), session: session)]
    }
}
