import Foundation
import LCDBCore

/// Context-aware completion: statement keywords at the start, dot-commands,
/// layer kinds where a layer is defined, hyperparameter names inside a layer
/// kind's parentheses, function names, and the stored collections, layers,
/// vectors and matrices where a name goes.
struct Completer {
    struct Names {
        var collections: [String] = []
        var vectors: [String] = []
        var matrices: [String] = []
        /// Layer names by collection.
        var layers: [String: [String]] = [:]
        /// Column names by SQL view (for `select` queries).
        var views: [String: [String]] = [:]
    }

    static let sqlKeywords = ["select", "from", "where", "and", "or", "not", "order", "by", "group", "having", "limit",
                              "join", "on", "as", "distinct", "count(", "sum(", "min(", "max(", "avg(", "like", "in", "desc", "asc"]

    let names: Names

    static let keywords = ["collection", "collections", "vector", "vectors", "matrix", "matrices", "as", "merge", "union",
                           "copy", "add", "drop", "rename", "to", "cascade", "float32", "float64", "common", "identical", "inf"]

    /// `pending`: earlier lines of the statement being typed; `line`: the current line up to the cursor.
    func complete(pending: String, line: String) -> (word: String, candidates: [String]) {
        let word = Completer.currentWord(line)
        let before = pending + "\n" + String(line.dropLast(word.count))
        let tokens = before.split(whereSeparator: { $0.isWhitespace || $0 == "," || $0 == ";" }).map(String.init)
        let starting = before.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        let pool: [String]
        if starting && word.hasPrefix(".") {
            pool = MetaCommands.names
        } else if starting {
            pool = StatementRegistry.leadingWords
        } else if let meta = metaCommand(before) {
            pool = Completer.metaArguments[meta] ?? []
        } else if let kind = openLayerKind(before) {
            pool = layerArguments(kind, before)
        } else if tokens.first?.lowercased() == "help" {
            pool = tokens.count == 1 ? HelpStatement.topics : []
        } else if let first = tokens.first?.lowercased(), SQLStatement.leadingWords.contains(first) {
            pool = sqlCandidates(after: tokens.map { $0.lowercased() })
        } else {
            pool = candidates(after: tokens.map { $0.lowercased() }, original: tokens,
                              afterCompleteWord: word.isEmpty && Completer.followsCompleteWord(before))
        }
        let lowered = word.lowercased()
        let matches = pool.filter { $0.lowercased().hasPrefix(lowered) }
        var unique: [String] = []
        for match in matches where !unique.contains(match) { unique.append(match) }
        return (word, unique.sorted())
    }

    /// The word before the cursor: an identifier (dots allowed), or a quoted
    /// name still open (`"my ne`), quote included.
    static func currentWord(_ line: String) -> String {
        var quotes = 0
        var open: String.Index?
        for index in line.indices where line[index] == "\"" {
            quotes += 1
            open = quotes % 2 == 1 ? index : nil
        }
        if let open { return String(line[open...]) }
        return String(line.reversed().prefix { Lexer.isIdentifierPart($0.unicodeScalars.first!) || $0 == "." }.reversed())
    }

    /// A stored name as it must be typed: in double quotes (inner quotes
    /// doubled) unless it is a plain identifier.
    static func quotedIfNeeded(_ name: String) -> String {
        let scalars = Array(name.unicodeScalars)
        let plain = scalars.first.map(Lexer.isIdentifierStart) == true && scalars.dropFirst().allSatisfy(Lexer.isIdentifierPart)
        return plain ? name : "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// True when the text before the cursor ends with a finished word or a
    /// closing parenthesis, then a blank.
    static func followsCompleteWord(_ text: String) -> Bool {
        guard let last = text.last, last == " " || last == "\t" else { return false }
        guard let previous = text.last(where: { !$0.isWhitespace }) else { return false }
        return previous == ")" || previous == "\"" || previous.unicodeScalars.first.map(Lexer.isIdentifierPart) == true
    }

    /// The dot-command whose argument is being typed, e.g. `.format`.
    private func metaCommand(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("."), !trimmed.contains(" ") else { return nil }
        return trimmed.lowercased()
    }

    static let metaArguments: [String: [String]] = [
        ".format": OutputFormat.allCases.map(\.rawValue), ".mode": OutputFormat.allCases.map(\.rawValue),
        ".timer": ["on", "off"], ".echo": ["on", "off"], ".bail": ["on", "off"], ".help": [], ".quit": [], ".exit": [],
    ]

    /// A layer kind's argument names not given yet (by keyword or by position).
    private func layerArguments(_ kind: LayerKind, _ text: String) -> [String] {
        guard let open = text.lastIndex(of: "(") else { return [] }
        let inside = text[text.index(after: open)...]
        let given = inside.split(separator: ",", omittingEmptySubsequences: false).dropLast()
        var named = Set<String>()
        var positional = 0
        for argument in given {
            if let equals = argument.firstIndex(of: "=") {
                named.insert(argument[..<equals].trimmingCharacters(in: .whitespaces))
            } else if !argument.trimmingCharacters(in: .whitespaces).isEmpty {
                positional += 1
            }
        }
        let remaining = kind.signature.enumerated().filter { index, parameter in index >= positional && !named.contains(parameter.name) }
        return remaining.map { $0.element.name + "=" } + ["true", "false"]
    }

    /// The layer kind whose argument list the cursor is in, if any.
    private func openLayerKind(_ text: String) -> LayerKind? {
        guard let open = text.lastIndex(of: "("), !text[open...].contains(")") else { return nil }
        let head = text[..<open].reversed().prefix { $0.isLetter || $0.isNumber }
        return LayerKind(named: String(head.reversed()))
    }

    private func candidates(after tokens: [String], original: [String], afterCompleteWord: Bool) -> [String] {
        let last = tokens.last ?? ""
        let quoted = { (names: [String]) in names.map(Completer.quotedIfNeeded) }
        let objects = quoted(names.collections + names.vectors + names.matrices)
        switch last {
        case "collection", "parameters", "diff":
            return quoted(names.collections)
        case "vector":
            return quoted(names.vectors)
        case "matrix":
            return quoted(names.matrices)
        case "show":
            return objects
        case "list":
            return ["collections", "vectors", "matrices"]
        case "drop", "rename", "copy":
            if tokens.count >= 3, tokens[tokens.count - 3] == "alter" || tokens.contains("alter") {
                return quoted(layers(of: original))
            }
            return ["collection", "vector", "matrix"]
        case "create", "alter":
            return ["collection"]
        default:
            break
        }
        // A layer name was just written in a definition: a kind follows.
        if tokens.contains("add") || (tokens.first == "create" && tokens.contains(where: { $0.hasSuffix("(") || $0.contains("(") })) {
            if !last.contains("(") && !last.hasSuffix(")") && last != "add" { return LayerKind.allCases.map { $0.rawValue + "(" } }
        }
        // After a complete word (`show mlp `, `norm(g) `) an operator or `;` follows: offering every name is noise.
        if afterCompleteWord { return [] }
        return objects + FunctionRegistry.all.map { $0.name + "(" } + Completer.keywords
    }

    /// In a SQL query: view names after `from` or `join`, else the columns of
    /// the views it names (of every view when it names none), views and keywords.
    private func sqlCandidates(after tokens: [String]) -> [String] {
        let views = names.views.keys.sorted()
        if let last = tokens.last, last == "from" || last == "join" { return views }
        let named = views.filter { tokens.contains($0) }
        let columns = (named.isEmpty ? views : named).flatMap { names.views[$0] ?? [] }
        return columns + views + Completer.sqlKeywords
    }

    /// Layer names of the collection named after `alter collection`.
    private func layers(of tokens: [String]) -> [String] {
        guard let index = tokens.firstIndex(where: { $0.lowercased() == "collection" }), index + 1 < tokens.count else { return [] }
        return names.layers[tokens[index + 1]] ?? []
    }
}
