import LCDBCore

/// A cursor over one statement's tokens, with the grammar's building blocks.
/// Statements parse themselves with these (see `StatementRegistry`).
public struct Parser {
    private let tokens: [Token]
    private var position = 0

    public init(_ tokens: [Token]) {
        self.tokens = tokens
    }

    public var current: Token { tokens[min(position, tokens.count - 1)] }
    public var atEnd: Bool { current.kind == .end || current.isSymbol(";") }

    @discardableResult
    public mutating func advance() -> Token {
        let token = current
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    public mutating func acceptKeyword(_ word: String) -> Bool {
        guard current.isKeyword(word) else { return false }
        advance()
        return true
    }

    public mutating func expectKeyword(_ words: String...) throws -> String {
        for word in words where current.isKeyword(word) {
            advance()
            return word
        }
        throw unexpected(expected: words.map { "'\($0)'" }.joined(separator: " or "))
    }

    public mutating func acceptSymbol(_ symbol: String) -> Bool {
        guard current.isSymbol(symbol) else { return false }
        advance()
        return true
    }

    public mutating func expectSymbol(_ symbol: String) throws {
        guard acceptSymbol(symbol) else { throw unexpected(expected: "'\(symbol)'") }
    }

    /// A name: an identifier or a double-quoted name. `what` says which kind, for errors.
    public mutating func name(_ what: String) throws -> Located<String> {
        guard current.kind == .identifier || current.kind == .quotedIdentifier else {
            throw unexpected(expected: "a \(what) name")
        }
        let token = advance()
        return Located(value: token.text, location: token.location)
    }

    /// A single-quoted string (or a bare word, for file names typed without quotes).
    public mutating func string(_ what: String) throws -> Located<String> {
        guard [.string, .identifier, .quotedIdentifier].contains(current.kind) else { throw unexpected(expected: what) }
        let token = advance()
        return Located(value: token.text, location: token.location)
    }

    /// The statement must end here (an optional `;` is already the end).
    public mutating func expectEnd() throws {
        guard atEnd else { throw unexpected(expected: "the end of the statement") }
    }

    public func unexpected(expected: String) -> ShellError {
        ShellError("expected \(expected), found \(current.quoted)", at: current.location)
    }

    // MARK: - Expressions

    public static let comparisons = ["<", "<=", ">", ">=", "==", "!="]

    /// A sum, or one comparison of two sums.
    public mutating func expression() throws -> Expression {
        let left = try sum()
        guard current.kind == .symbol, Parser.comparisons.contains(current.text) else { return left }
        let op = advance()
        let right = try sum()
        if current.kind == .symbol, Parser.comparisons.contains(current.text) {
            throw ShellError("comparisons do not chain (\(op.text) then \(current.text)); combine two masks with *", at: current.location)
        }
        return .compare(op.text, left, right, op.location)
    }

    private mutating func sum() throws -> Expression {
        let first = try term()
        var links: [Expression.Link] = []
        while current.isSymbol("+") || current.isSymbol("-") {
            let op = advance()
            links.append(.init(op: Character(op.text), operand: try term(), location: op.location))
        }
        return links.isEmpty ? first : .chain(first, links, first.location)
    }

    private mutating func term() throws -> Expression {
        let first = try unary()
        var links: [Expression.Link] = []
        while current.isSymbol("*") || current.isSymbol("/") {
            let op = advance()
            links.append(.init(op: Character(op.text), operand: try unary(), location: op.location))
        }
        return links.isEmpty ? first : .chain(first, links, first.location)
    }

    /// Signs are counted in a loop (`- - - x` is `-x`), not recursed over.
    private mutating func unary() throws -> Expression {
        var negations = 0
        var first: SourceLocation?
        while current.isSymbol("-") || current.isSymbol("+") {
            let sign = advance()
            if sign.text == "-" { negations += 1 }
            first = first ?? sign.location
        }
        let operand = try primary()
        return negations % 2 == 1 ? .negate(operand, first ?? operand.location) : operand
    }

    /// Parentheses and calls nest; the depth is capped with a located error
    /// (100,000 nested parentheses overflowed the stack).
    private var nesting = 0

    private mutating func nested<T>(at location: SourceLocation, _ body: (inout Parser) throws -> T) throws -> T {
        guard nesting < Expression.maxNesting else {
            throw ShellError("expression nested more than \(Expression.maxNesting) levels deep (parentheses and calls); store intermediate results with let", at: location)
        }
        nesting += 1
        defer { nesting -= 1 }
        return try body(&self)
    }

    private mutating func primary() throws -> Expression {
        let token = current
        switch token.kind {
        case .number:
            advance()
            guard let value = Double(token.text) else { throw ShellError("invalid number '\(token.text)'", at: token.location) }
            return .number(value, text: token.text, token.location)
        case .identifier, .quotedIdentifier:
            advance()
            if token.kind == .identifier && current.isSymbol("(") {
                return .call(token.text, try nested(at: token.location) { try $0.arguments() }, token.location)
            }
            // g."head layer": a quoted layer name right after a dotted owner.
            if token.kind == .identifier, token.text.hasSuffix("."), current.kind == .quotedIdentifier,
               current.location.line == token.location.line, current.location.column == token.location.column + token.text.count {
                let layer = advance()
                return .name(token.text + layer.text, token.location)
            }
            return .name(token.text, token.location)
        case .string:
            advance()
            return .string(token.text, token.location)
        case .symbol where token.text == "(":
            return try nested(at: token.location) { try $0.parenthesized(token) }
        default:
            throw unexpected(expected: "a value")
        }
    }

    /// `( ... )` after its opening parenthesis: a grouped expression or a tuple.
    private mutating func parenthesized(_ token: Token) throws -> Expression {
        advance()
        if acceptSymbol(")") { return .tuple([], token.location) }
        let first = try expression()
        if acceptSymbol(")") { return first }
        var items = [first]
        while acceptSymbol(",") {
            if current.isSymbol(")") { break } // (768,)
            items.append(try expression())
        }
        try expectSymbol(")")
        return .tuple(items, token.location)
    }

    /// `(a, b, name=value)`: keyword arguments after positional ones.
    public mutating func arguments() throws -> [Expression.Argument] {
        try expectSymbol("(")
        var result: [Expression.Argument] = []
        if acceptSymbol(")") { return result }
        repeat {
            let start = current.location
            if current.kind == .identifier, tokens[min(position + 1, tokens.count - 1)].isSymbol("=") {
                let label = advance().text
                advance()
                result.append(.init(label: label, value: try expression(), location: start))
            } else {
                if result.contains(where: { $0.label != nil }) {
                    throw ShellError("a positional argument cannot follow a keyword argument", at: start)
                }
                result.append(.init(label: nil, value: try expression(), location: start))
            }
        } while acceptSymbol(",")
        try expectSymbol(")")
        return result
    }

    // MARK: - Layers

    /// `NAME KIND(args)`, e.g. `fc1 Linear(784, 256)`.
    public mutating func layerDefinition() throws -> (name: Located<String>, layer: Layer) {
        let name = try name("layer")
        return (name, try layer())
    }

    /// `KIND(args)` with PyTorch's argument names and defaults.
    public mutating func layer() throws -> Layer {
        let kindToken = current
        guard kindToken.kind == .identifier else { throw unexpected(expected: "a layer kind such as Linear(784, 256)") }
        advance()
        guard let kind = LayerKind(named: kindToken.text) else {
            let hint = NameSuggester.hint(for: kindToken.text, among: LayerKind.allCases.map(\.rawValue))
            throw ShellError("unknown layer kind '\(kindToken.text)'\(hint) (see 'help layers')", at: kindToken.location)
        }
        guard current.isSymbol("(") else { throw unexpected(expected: "'(' after \(kind.rawValue): \(kind.usage)") }
        let arguments = try self.arguments()
        var positional: [HyperparameterValue] = []
        var keywords: [(name: String, value: HyperparameterValue)] = []
        for argument in arguments {
            let value = try Parser.hyperparameter(argument.value)
            if let label = argument.label { keywords.append((label, value)) } else { positional.append(value) }
        }
        do {
            return try Layer(kind, positional, keywords: keywords)
        } catch let error as CoreError {
            // Point at the argument the message names, when it names one.
            let named = arguments.first { argument in argument.label.map { error.message.contains("'\($0)'") } ?? false }
            throw ShellError(error.message, at: named?.location ?? kindToken.location)
        }
    }

    /// A literal hyperparameter: an integer, true/false, or a tuple of integers.
    static func hyperparameter(_ expression: Expression) throws -> HyperparameterValue {
        switch expression {
        case .number(let value, let text, let location):
            guard let integer = Int(exactly: value), !text.contains("."), !text.lowercased().contains("e") else {
                if !text.contains("."), !text.lowercased().contains("e") {
                    throw ShellError("integer \(text) is too large (the largest is \(Int.max))", at: location)
                }
                throw ShellError("expected an integer, found \(text)", at: location)
            }
            return .int(integer)
        case .negate(.number(let value, let text, _), let location):
            guard let integer = Int(exactly: value), !text.contains(".") else {
                throw ShellError("expected an integer, found -\(text)", at: location)
            }
            return .int(-integer)
        case .name(let word, let location):
            switch word.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: throw ShellError("expected a number, true or false, found '\(word)'", at: location)
            }
        case .tuple(let items, _):
            return .shape(try items.map { item in
                guard case .int(let dim) = try hyperparameter(item) else {
                    throw ShellError("a shape holds integers only", at: item.location)
                }
                return dim
            })
        default:
            throw ShellError("expected a literal (an integer, true, false or a tuple)", at: expression.location)
        }
    }
}
