/// An expression on its own prints its value: a number, or the summary of a
/// vector or matrix.
struct ExpressionStatement: Statement {
    let expression: Expression

    static let definition = StatementDefinition(
        words: [],
        syntax: ["EXPRESSION"],
        summary: "Evaluates an expression and prints the result without storing it (see 'help functions').",
        example: "norm(mv(F, g) - g, inf);"
    ) { parser in
        let expression = try parser.expression()
        try parser.expectEnd()
        return ExpressionStatement(expression: expression)
    }

    func run(in session: Session) throws -> [ResultTable] {
        [try ValuePresenter.table(for: try Evaluator(session: session).evaluate(expression), session: session)]
    }
}
