import LCDBCore

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
        ImportStatement.definition,
        ExportStatement.definition,
        VacuumStatement.definition,
        CheckStatement.definition,
        AnnotateStatement.definition,
        HelpStatement.definition,
    ] + TransactionStatement.definitions + SQLStatement.definitions + [
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
            try rejectPartialKeywords(parser)
            try rejectUnknownStatement(parser)
            return try ExpressionStatement.definition.parse(&parser)
        }
        for _ in definition.words { parser.advance() }
        let statement = try definition.parse(&parser)
        try parser.expectEnd()
        return statement
    }

    /// `create colection`: the first word starts a statement but the next does not fit.
    private static func rejectPartialKeywords(_ parser: Parser) throws {
        let first = parser.current.text.lowercased()
        let candidates = all.filter { $0.words.count > 1 && $0.words[0] == first }
        guard parser.current.kind == .identifier, !candidates.isEmpty else { return }
        var probe = parser
        probe.advance()
        let expected = candidates.map { $0.words[1] }
        let hint = NameSuggester.hint(for: probe.current.text, among: expected)
        throw ShellError("expected \(expected.map { "'\($0)'" }.joined(separator: " or ")) after '\(first)', found \(probe.current.quoted)\(hint)",
                         at: probe.current.location)
    }

    /// `shwo mlp;` or `quit;`: a bare word followed by another word is no
    /// expression; say which statement was probably meant.
    private static func rejectUnknownStatement(_ parser: Parser) throws {
        let first = parser.current
        guard first.kind == .identifier else { return }
        var probe = parser
        probe.advance()
        let word = first.text.lowercased()
        if ["quit", "exit"].contains(word) && (probe.atEnd || probe.current.kind == .identifier) {
            throw ShellError("'\(first.text)' is not a statement; type .quit (or Ctrl-D) to leave", at: first.location)
        }
        guard probe.current.kind == .identifier || probe.current.kind == .quotedIdentifier else { return }
        // g."head layer" is a layer of g, not two words.
        if first.text.hasSuffix("."), probe.current.kind == .quotedIdentifier,
           probe.current.location.column == first.location.column + first.text.count { return }
        let hint = NameSuggester.hint(for: first.text, among: leadingWords + MetaCommands.names.map { String($0.dropFirst()) })
        throw ShellError("unknown statement '\(first.text)'\(hint) (type help for the list)", at: first.location)
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
