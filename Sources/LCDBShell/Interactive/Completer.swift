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
    }

    let names: Names

    static let keywords = ["collection", "collections", "vector", "vectors", "matrix", "matrices", "as", "merge", "union",
                           "copy", "add", "drop", "rename", "to", "cascade", "float32", "float64", "common", "identical", "inf"]

    /// `pending`: earlier lines of the statement being typed; `line`: the current line up to the cursor.
    func complete(pending: String, line: String) -> (word: String, candidates: [String]) {
        let word = String(line.reversed().prefix { Lexer.isIdentifierPart($0.unicodeScalars.first!) || $0 == "." }.reversed())
        let before = pending + "\n" + String(line.dropLast(word.count))
        let tokens = before.split(whereSeparator: { $0.isWhitespace || $0 == "," || $0 == ";" }).map(String.init)
        let starting = before.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        let pool: [String]
        if starting && word.hasPrefix(".") {
            pool = MetaCommands.names
        } else if starting {
            pool = StatementRegistry.leadingWords
        } else if let kind = openLayerKind(before) {
            pool = kind.signature.map { $0.name + "=" } + ["true", "false"]
        } else {
            pool = candidates(after: tokens.map { $0.lowercased() }, original: tokens)
        }
        let lowered = word.lowercased()
        let matches = pool.filter { $0.lowercased().hasPrefix(lowered) }
        var unique: [String] = []
        for match in matches where !unique.contains(match) { unique.append(match) }
        return (word, unique.sorted())
    }

    /// The layer kind whose argument list the cursor is in, if any.
    private func openLayerKind(_ text: String) -> LayerKind? {
        guard let open = text.lastIndex(of: "("), !text[open...].contains(")") else { return nil }
        let head = text[..<open].reversed().prefix { $0.isLetter || $0.isNumber }
        return LayerKind(named: String(head.reversed()))
    }

    private func candidates(after tokens: [String], original: [String]) -> [String] {
        let last = tokens.last ?? ""
        let objects = names.collections + names.vectors + names.matrices
        switch last {
        case "collection", "parameters", "diff":
            return names.collections
        case "vector":
            return names.vectors
        case "matrix":
            return names.matrices
        case "show":
            return objects
        case "list":
            return ["collections", "vectors", "matrices"]
        case "drop", "rename", "copy":
            if tokens.count >= 3, tokens[tokens.count - 3] == "alter" || tokens.contains("alter") {
                return layers(of: original)
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
        return objects + FunctionRegistry.all.map { $0.name + "(" } + Completer.keywords
    }

    /// Layer names of the collection named after `alter collection`.
    private func layers(of tokens: [String]) -> [String] {
        guard let index = tokens.firstIndex(where: { $0.lowercased() == "collection" }), index + 1 < tokens.count else { return [] }
        return names.layers[tokens[index + 1]] ?? []
    }
}
