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

    /// The statement being collected, as UTF-8, and how far it has been
    /// scanned: each byte is scanned once, so collecting a statement is
    /// linear in its size (rescanning the whole statement for every new
    /// line made a 4,000-line statement take 36 s).
    private var pending: [UInt8] = []
    private var scanned = 0
    private var quote: UInt8?
    private var inComment = false
    private var previous: UInt8?
    /// True once the pending text holds something other than blanks and comments.
    private var hasContent = false
    private var pendingStart: SourceLocation?
    private var line = 0

    public init() {}

    /// True while a statement has started but not ended (continuation prompt).
    public var isInsideStatement: Bool { pendingStart != nil && hasContent }

    /// Feeds one line (without its newline); returns the pieces it completes.
    public mutating func feed(_ text: String) -> [Piece] {
        line += 1
        if pendingStart == nil || !hasContent {
            let trimmed = text.drop { $0 == " " || $0 == "\t" }
            if trimmed.hasPrefix(".") {
                reset()
                return [Piece(text: String(trimmed), start: SourceLocation(line: line, column: text.count - trimmed.count + 1), isMetaCommand: true)]
            }
        }
        if pendingStart == nil { pendingStart = SourceLocation(line: line, column: 1) }
        if !pending.isEmpty { pending.append(UInt8(ascii: "\n")) }
        pending.append(contentsOf: text.utf8)
        if !StatementSplitter.onlyComments(text) { hasContent = true }
        var pieces: [Piece] = []
        // Statements are cut at `consumed`; the bytes before it are dropped
        // once per line, so many statements on one line stay linear too.
        var consumed = 0
        var start = pendingStart ?? SourceLocation(line: line, column: 1)
        while let end = nextStatementEnd() {
            let statementBytes = pending[consumed ..< end]
            let statement = String(decoding: statementBytes, as: UTF8.self)
            // The rest is on the current line, right after the ';'.
            let consumedLines = statementBytes.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
            let lastLineStart = statementBytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? consumed
            let lastLine = String(decoding: pending[lastLineStart ..< end], as: UTF8.self)
            let restColumn = (consumedLines == 0 ? start.column : 1) + lastLine.count + 1
            if !StatementSplitter.onlyComments(statement) {
                pieces.append(Piece(text: statement, start: start, isMetaCommand: false))
            }
            consumed = end + 1
            quote = nil
            inComment = false
            previous = nil
            start = SourceLocation(line: start.line + consumedLines, column: restColumn)
        }
        if consumed > 0 {
            pending.removeSubrange(..<consumed)
            scanned -= consumed
            pendingStart = start
            hasContent = !StatementSplitter.onlyComments(String(decoding: pending, as: UTF8.self))
        }
        if pending.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) {
            reset()
        }
        return pieces
    }

    /// What is left at the end of input (a statement without its `;`), if anything.
    public mutating func finish() -> Piece? {
        defer { reset() }
        guard let start = pendingStart, hasContent else { return nil }
        // Trailing blank lines would put "the end of the statement" after them.
        var text = String(decoding: pending, as: UTF8.self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return Piece(text: text, start: start, isMetaCommand: false)
    }

    public mutating func reset() {
        pending = []
        scanned = 0
        quote = nil
        inComment = false
        previous = nil
        hasContent = false
        pendingStart = nil
    }

    /// Index of the first `;` outside quotes and comments, scanning on from
    /// where the last call stopped (the scan state is kept between calls).
    private mutating func nextStatementEnd() -> Int? {
        while scanned < pending.count {
            let index = scanned
            let c = pending[index]
            scanned += 1
            if inComment {
                if c == UInt8(ascii: "\n") { inComment = false }
            } else if let q = quote {
                if c == q { quote = nil }
            } else if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                quote = c
            } else if c == UInt8(ascii: "-") && previous == UInt8(ascii: "-") {
                inComment = true
            } else if c == UInt8(ascii: ";") {
                previous = c
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
