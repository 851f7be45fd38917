/// `annotate NAME key = value, ...` and `annotate NAME drop key, ...`: the
/// user's own metadata on any stored object (estimator, number of samples,
/// damping, dataset, the git commit of the training code), shown by `show`
/// and queryable in the `metadata` view.
struct AnnotateStatement: Statement {
    let name: Located<String>
    let pairs: [(key: String, value: String)]
    let removed: [String]

    static let definition = StatementDefinition(
        words: ["annotate"],
        syntax: ["annotate NAME key = value [, key = value ...]", "annotate NAME drop key [, key ...]"],
        summary: "Attaches metadata to a stored collection, vector or matrix (values are text: quoted, a number or a word; a key set again is replaced), or removes keys. show prints it; the view metadata has it for SQL.",
        example: "annotate F estimator = 'empirical fisher', samples = 50000, damping = 1e-3;"
    ) { parser in
        let name = try parser.name("collection, vector or matrix")
        if parser.acceptKeyword("drop") {
            var keys: [String] = []
            repeat { keys.append(try parser.name("metadata key").value) } while parser.acceptSymbol(",")
            return AnnotateStatement(name: name, pairs: [], removed: keys)
        }
        var pairs: [(String, String)] = []
        repeat {
            let key = try parser.name("metadata key")
            try parser.expectSymbol("=")
            let negative = parser.acceptSymbol("-")
            let token = parser.current
            guard [.string, .number, .identifier, .quotedIdentifier].contains(token.kind) else {
                throw parser.unexpected(expected: "a value (a quoted text, a number or a word)")
            }
            parser.advance()
            guard !negative || token.kind == .number else { throw ShellError("'-' goes before a number", at: token.location) }
            pairs.append((key.value, (negative ? "-" : "") + token.text))
        } while parser.acceptSymbol(",")
        return AnnotateStatement(name: name, pairs: pairs, removed: [])
    }

    func run(in session: Session) throws -> [ResultTable] {
        try ShellError.located(name.location) {
            if removed.isEmpty {
                try session.store.setMetadata(of: name.value, pairs)
            } else {
                try session.store.removeMetadata(of: name.value, keys: removed)
            }
        }
        return []
    }
}
