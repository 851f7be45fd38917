import Foundation

/// Collects input lines into complete statements: a statement ends at a `;`
/// outside quotes and comments; a meta-command (a line whose first
/// non-blank character is `.`, at the start of a statement) ends with its line.
public struct StatementSplitter {
    public struct Piece: Equatable, Sendable {
        public let text: String
        /// Where the piece starts in its script.
        public let start: SourceLocation
        public let isMetaCommand: Bool
    }

    private var pending = ""
    private var pendingStart: SourceLocation?
    private var line = 0

    public init() {}

    /// True while a statement has started but not ended (continuation prompt).
    public var isInsideStatement: Bool {
        !pending.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty && pendingStart != nil
            && !StatementSplitter.onlyComments(pending)
    }

    /// Feeds one line (without its newline); returns the pieces it completes.
    public mutating func feed(_ text: String) -> [Piece] {
        line += 1
        if pendingStart == nil || StatementSplitter.onlyComments(pending) {
            let trimmed = text.drop { $0 == " " || $0 == "\t" }
            if trimmed.hasPrefix(".") {
                pending = ""
                pendingStart = nil
                return [Piece(text: String(trimmed), start: SourceLocation(line: line, column: text.count - trimmed.count + 1), isMetaCommand: true)]
            }
        }
        if pendingStart == nil { pendingStart = SourceLocation(line: line, column: 1) }
        pending += (pending.isEmpty ? "" : "\n") + text
        var pieces: [Piece] = []
        while let end = StatementSplitter.statementEnd(in: pending) {
            let statement = String(pending[..<end])
            let start = pendingStart ?? SourceLocation(line: line, column: 1)
            let rest = String(pending[pending.index(after: end)...])
            // The rest starts right after the ';' on the current line.
            let consumedLines = statement.filter { $0 == "\n" }.count
            let lastLine = statement.split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
            let restColumn = (consumedLines == 0 ? start.column : 1) + lastLine.count + 1
            if !StatementSplitter.onlyComments(statement) {
                pieces.append(Piece(text: statement, start: start, isMetaCommand: false))
            }
            pending = rest
            pendingStart = SourceLocation(line: start.line + consumedLines, column: restColumn)
        }
        if pending.trimmingCharacters(in: .whitespaces).isEmpty {
            pending = ""
            pendingStart = nil
        }
        return pieces
    }

    /// What is left at the end of input (a statement without its `;`), if anything.
    public mutating func finish() -> Piece? {
        defer { pending = ""; pendingStart = nil }
        guard let start = pendingStart, !StatementSplitter.onlyComments(pending) else { return nil }
        // Trailing blank lines would put "the end of the statement" after them.
        var text = pending
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return Piece(text: text, start: start, isMetaCommand: false)
    }

    public mutating func reset() {
        pending = ""
        pendingStart = nil
    }

    /// Index of the first `;` outside quotes and comments.
    static func statementEnd(in text: String) -> String.Index? {
        var quote: Character?
        var inComment = false
        var previous: Character?
        for index in text.indices {
            let c = text[index]
            if inComment {
                if c == "\n" { inComment = false }
            } else if let q = quote {
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "-" && previous == "-" {
                inComment = true
            } else if c == ";" {
                return index
            }
            previous = inComment ? nil : c
        }
        return nil
    }

    /// True when the text holds nothing but blanks and comments.
    static func onlyComments(_ text: String) -> Bool {
        text.split(separator: "\n", omittingEmptySubsequences: false).allSatisfy { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty || trimmed.hasPrefix("--")
        }
    }
}
