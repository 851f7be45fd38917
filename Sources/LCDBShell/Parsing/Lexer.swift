/// Splits statement text into tokens. `--` starts a comment to the end of the line.
public struct Lexer {
    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var location: SourceLocation

    public init(_ text: String, start: SourceLocation = SourceLocation(line: 1, column: 1)) {
        scalars = Array(text.unicodeScalars)
        location = start
    }

    public static func tokens(of text: String, start: SourceLocation = SourceLocation(line: 1, column: 1)) throws -> [Token] {
        var lexer = Lexer(text, start: start)
        var tokens: [Token] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }
    private func peek(_ offset: Int) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }

    private mutating func advance() {
        if current == "\n" {
            location.line += 1
            location.column = 1
        } else {
            location.column += 1
        }
        index += 1
    }

    static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c.properties.isAlphabetic
    }

    static func isIdentifierPart(_ c: Unicode.Scalar) -> Bool {
        isIdentifierStart(c) || ("0" ... "9").contains(c) || c == "."
    }

    public mutating func next() throws -> Token {
        skipSpaceAndComments()
        let start = location
        guard let c = current else { return Token(kind: .end, text: "", location: start) }
        // `.read` (as in `help .read`) is one word; no other token starts with '.' and a letter.
        if Lexer.isIdentifierStart(c) || (c == "." && peek(1).map(Lexer.isIdentifierStart) == true) {
            var text = ""
            if c == "." { text = "."; advance() }
            while let c = current, Lexer.isIdentifierPart(c) { text.unicodeScalars.append(c); advance() }
            return Token(kind: .identifier, text: text, location: start)
        }
        if ("0" ... "9").contains(c) || (c == "." && peek(1).map { ("0" ... "9").contains($0) } == true) {
            return Token(kind: .number, text: scanNumber(), location: start)
        }
        if c == "\"" || c == "'" {
            let text = try scanQuoted(c, start: start)
            return Token(kind: c == "'" ? .string : .quotedIdentifier, text: text, location: start)
        }
        // Comparisons: <= >= == != (two characters), < > (one).
        if let next = peek(1), next == "=", "<>=!".unicodeScalars.contains(c) {
            advance()
            advance()
            return Token(kind: .symbol, text: String(c) + "=", location: start)
        }
        if "(),=+-*/<>;".unicodeScalars.contains(c) {
            advance()
            return Token(kind: .symbol, text: String(c), location: start)
        }
        throw ShellError("unexpected character '\(c)'", at: start)
    }

    private mutating func skipSpaceAndComments() {
        while let c = current {
            if c.properties.isWhitespace {
                advance()
            } else if c == "-" && peek(1) == "-" {
                while let c = current, c != "\n" { _ = c; advance() }
            } else {
                return
            }
        }
    }

    private mutating func scanNumber() -> String {
        var text = ""
        func digits() { while let c = current, ("0" ... "9").contains(c) || c == "_" { if c != "_" { text.unicodeScalars.append(c) }; advance() } }
        digits()
        if current == ".", peek(1).map({ ("0" ... "9").contains($0) }) ?? true {
            text += "."
            advance()
            digits()
        }
        if current == "e" || current == "E" {
            let sign = peek(1)
            if let sign, ("0" ... "9").contains(sign) || ((sign == "+" || sign == "-") && peek(2).map { ("0" ... "9").contains($0) } == true) {
                text += "e"
                advance()
                if current == "+" || current == "-" { text.unicodeScalars.append(current!); advance() }
                digits()
            }
        }
        return text
    }

    /// Quoted text; a doubled quote stands for one (SQL style).
    private mutating func scanQuoted(_ quote: Unicode.Scalar, start: SourceLocation) throws -> String {
        advance()
        var text = ""
        while true {
            guard let c = current else {
                throw ShellError("unterminated \(quote == "'" ? "string" : "quoted name"): missing closing \(quote)", at: start)
            }
            advance()
            if c == quote {
                if current == quote { text.unicodeScalars.append(c); advance() } else { return text }
            } else {
                text.unicodeScalars.append(c)
            }
        }
    }
}
