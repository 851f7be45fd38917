/// A position in a script: 1-based line and column.
public struct SourceLocation: Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var description: String { "line \(line), column \(column)" }

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
}

public struct Token: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// A name or keyword: letters, digits, `_` and `.` (`layer1.0.conv1`).
        case identifier
        /// A name in double quotes, for names with other characters.
        case quotedIdentifier
        /// Text in single quotes (file paths).
        case string
        case number
        /// One of `( ) , = + - * ;`
        case symbol
        case end
    }

    public let kind: Kind
    /// The identifier, the unquoted text, the number's spelling or the symbol.
    public let text: String
    public let location: SourceLocation

    /// True for an unquoted identifier spelled `word`, ignoring case.
    public func isKeyword(_ word: String) -> Bool {
        kind == .identifier && text.lowercased() == word
    }

    public func isSymbol(_ symbol: String) -> Bool { kind == .symbol && text == symbol }

    /// How the token reads in an error message.
    public var quoted: String {
        switch kind {
        case .end: "the end of the statement"
        case .string: "'\(text)'"
        case .quotedIdentifier: "\"\(text)\""
        default: "'\(text)'"
        }
    }
}
