import LCDBCore

/// `help`, `help STATEMENT`, `help functions`, `help layers`, `help meta`.
struct HelpStatement: Statement {
    let topic: String?

    static let definition = StatementDefinition(
        words: ["help"],
        syntax: ["help", "help STATEMENT", "help FUNCTION", "help functions", "help layers", "help meta"],
        summary: "Lists every statement with its syntax, or explains one statement, function or topic with an example.",
        example: "help create;"
    ) { parser in
        var words: [String] = []
        while !parser.atEnd { words.append(parser.advance().text) }
        return HelpStatement(topic: words.isEmpty ? nil : words.joined(separator: " ").lowercased())
    }

    func run(in session: Session) throws -> [ResultTable] {
        [.message(HelpStatement.text(for: topic))]
    }

    static func text(for topic: String?) -> String {
        guard let topic else { return overview }
        switch topic {
        case "functions": return functions
        case "layers", "kinds": return layers
        case "meta", "dot", "commands": return MetaCommands.help
        case "merge", "union", "copy":
            let create = StatementRegistry.all.first { $0.words == ["create", "collection"] } ?? StatementRegistry.all[0]
            return "\(topic)(...) makes a new collection in 'create collection NAME as \(topic)(...)':\n" + detail(create)
        default: break
        }
        if let meta = MetaCommands.all.first(where: { $0.names.contains(topic) || $0.names.contains("." + topic) }) {
            return "\(meta.syntax)\n    \(meta.summary)"
        }
        if let definition = StatementRegistry.all.first(where: { !$0.words.isEmpty && $0.words.joined(separator: " ").hasPrefix(topic) })
            ?? StatementRegistry.all.first(where: { $0.words.first == topic.split(separator: " ").first.map(String.init) }) {
            return detail(definition)
        }
        if let function = FunctionRegistry.function(named: topic) {
            return "\(function.usage)\n    \(function.summary)\nExample:\n    \(function.example)"
        }
        if let kind = LayerKind(named: topic) {
            return "\(kind.usage)\n    Parameters as PyTorch stores them; see 'help layers'."
        }
        return "no help for '\(topic)'\(NameSuggester.hint(for: topic, among: topics)); type 'help' for the list"
    }

    /// Every word `help` explains (completion offers them after `help `).
    static var topics: [String] {
        var words: [String] = []
        for word in StatementRegistry.all.compactMap(\.words.first) + FunctionRegistry.all.map(\.name)
            + ["functions", "layers", "meta", "merge", "union", "copy"] + MetaCommands.names + LayerKind.allCases.map(\.rawValue) where !words.contains(word) {
            words.append(word)
        }
        return words
    }

    static func detail(_ definition: StatementDefinition) -> String {
        (definition.syntax + ["    " + definition.summary, "Example:", "    " + definition.example]).joined(separator: "\n")
    }

    static var overview: String {
        var lines = ["Statements end with ';' and may span lines. Names may be quoted: \"my layer\". Comments start with --.", ""]
        for definition in StatementRegistry.all {
            lines += definition.syntax.map { "  " + $0 }
            lines.append("      e.g. " + definition.example)
        }
        lines += ["", "Expressions: numbers, names, + - *, and functions:",
                  "  " + FunctionRegistry.all.map(\.usage).joined(separator: "\n  "),
                  "", "help STATEMENT or help FUNCTION for details and an example; help layers for layer kinds;",
                  "help meta for the dot-commands (.read, .format, .timer, .output, .once, .quit, ...)."]
        return lines.joined(separator: "\n")
    }

    static var functions: String {
        FunctionRegistry.all.map { "\($0.usage)\n    \($0.summary)\n    e.g. \($0.example)" }.joined(separator: "\n")
    }

    static var layers: String {
        (["Layer kinds (PyTorch argument names and defaults; kernel_size=3 means (3, 3)):"]
            + LayerKind.allCases.map { "  " + $0.usage }).joined(separator: "\n")
    }
}
