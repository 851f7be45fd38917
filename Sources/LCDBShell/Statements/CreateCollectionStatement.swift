import LCDBCore
import LCDBStore

/// `create collection NAME [(LAYER KIND(...), ...)]` or
/// `create collection NAME as merge(A, B) | union(A, B) | copy(A) | subset(A, 'PATTERNS')`.
struct CreateCollectionStatement: Statement {
    enum Body {
        case layers([(Located<String>, Layer)])
        case merge(Located<String>, Located<String>)
        case union(Located<String>, Located<String>)
        case copy(Located<String>)
        /// The layers of a collection matching names or globs.
        case subset(Located<String>, Located<String>)
    }

    let name: Located<String>
    let body: Body

    static let definition = StatementDefinition(
        words: ["create", "collection"],
        syntax: ["create collection NAME [( LAYER KIND(ARGS), ... )]",
                 "create collection NAME as merge(A, B)   -- the layers identical in A and B, in A's order",
                 "create collection NAME as union(A, B)   -- A's layers, then B's others; a conflict is an error",
                 "create collection NAME as copy(A)",
                 "create collection NAME as subset(A, 'PATTERNS')   -- A's layers matching names or globs, comma-separated ('layer1.*, fc')"],
        summary: "Creates a layer collection, empty, from layer definitions, or from other collections.",
        example: "create collection mlp (fc1 Linear(784, 256), fc2 Linear(256, 10));"
    ) { parser in
        let name = try parser.name("collection")
        if parser.acceptKeyword("as") {
            let operation = try parser.expectKeyword("merge", "union", "copy", "subset")
            try parser.expectSymbol("(")
            let first = try parser.name("collection")
            let body: Body
            if operation == "copy" {
                body = .copy(first)
            } else if operation == "subset" {
                try parser.expectSymbol(",")
                body = .subset(first, try parser.string("layer names or patterns in quotes"))
            } else {
                try parser.expectSymbol(",")
                let second = try parser.name("collection")
                body = operation == "merge" ? .merge(first, second) : .union(first, second)
            }
            try parser.expectSymbol(")")
            return CreateCollectionStatement(name: name, body: body)
        }
        var layers: [(Located<String>, Layer)] = []
        if parser.acceptSymbol("(") {
            repeat {
                let (layerName, layer) = try parser.layerDefinition()
                layers.append((layerName, layer))
            } while parser.acceptSymbol(",")
            try parser.expectSymbol(")")
        }
        return CreateCollectionStatement(name: name, body: .layers(layers))
    }

    func run(in session: Session) throws -> [ResultTable] {
        let store = session.store
        let collection: LayerCollection
        switch body {
        case .layers(let layers):
            var built = LayerCollection()
            for (layerName, layer) in layers {
                do { try built.append(layerName.value, layer) } catch let error as CoreError {
                    throw ShellError(error.message, at: layerName.location)
                }
            }
            collection = built
        case .merge(let a, let b):
            let (first, second) = (try load(a, store), try load(b, store))
            collection = first.commonLayers(with: second)
            try ShellError.located(name.location) { try store.createCollection(name.value, collection) }
            let note = collection.isEmpty ? " (none: '\(a.value)' and '\(b.value)' have no identical layer)" : ""
            return [.message("collection \(name.value): \(ValuePresenter.plural(collection.count, "common layer"))\(note)")]
        case .union(let a, let b):
            do { collection = try load(a, store).union(with: try load(b, store)) } catch let error as CoreError {
                throw ShellError(error.message, at: b.location)
            }
        case .copy(let a):
            collection = try load(a, store)
        case .subset(let a, let patterns):
            let list = patterns.value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            collection = try ShellError.located(patterns.location) { try load(a, store).selecting(list) }
        }
        try ShellError.located(name.location) { try store.createCollection(name.value, collection) }
        return []
    }

    private func load(_ name: Located<String>, _ store: LCDBStore.Store) throws -> LayerCollection {
        do { return try store.collection(named: name.value) } catch let error as LCDBStore.StoreError {
            throw ShellError(error.message, at: name.location)
        }
    }
}
