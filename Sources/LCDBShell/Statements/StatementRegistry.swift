/// A statement that has been parsed and can run.
protocol Statement {
    func run(in session: Session) throws -> [ResultTable]
}

/// How a statement is written and read: its leading keywords, syntax lines,
/// meaning and example, and its parser. One registry drives parsing,
/// dispatch, `help` and completion.
public struct StatementDefinition: Sendable {
    public let words: [String]
    public let syntax: [String]
    public let summary: String
    public let example: String
    let parse: @Sendable (inout Parser) throws -> any Statement
}

public enum StatementRegistry {
    /// Every statement, in `help` order. The expression statement (no
    /// keywords) is tried last.
    public static let all: [StatementDefinition] = [
        CreateCollectionStatement.definition,
        AlterCollectionStatement.definition,
        LetStatement.definition,
        ShowStatement.definition,
        ListStatement.definition,
        ParametersStatement.definition,
        DiffStatement.definition,
        RenameStatement.definition,
        CopyStatement.definition,
        DropStatement.definition,
        HelpStatement.definition,
        ExpressionStatement.definition,
    ]

    /// The first words a statement can start with (for completion).
    public static var leadingWords: [String] {
        var seen: [String] = []
        for word in all.compactMap(\.words.first) where !seen.contains(word) { seen.append(word) }
        return seen
    }

    static func parse(_ parser: inout Parser) throws -> any Statement {
        let definition = all.filter { !$0.words.isEmpty && matches($0.words, parser) }
            .max { $0.words.count < $1.words.count }
        guard let definition else {
            if parser.atEnd { throw parser.unexpected(expected: "a statement") }
            return try ExpressionStatement.definition.parse(&parser)
        }
        for _ in definition.words { parser.advance() }
        let statement = try definition.parse(&parser)
        try parser.expectEnd()
        return statement
    }

    private static func matches(_ words: [String], _ parser: Parser) -> Bool {
        var probe = parser
        for word in words {
            guard probe.current.isKeyword(word) else { return false }
            probe.advance()
        }
        return true
    }
}
