import LCDBCore
import LCDBInterop
import LCDBStore

/// `export collection NAME to 'FILE.json'`, `export vector NAME to 'FILE.safetensors' | 'FILE.npy'`
struct ExportStatement: Statement {
    let kind: String
    let name: Located<String>
    let file: Located<String>

    static let definition = StatementDefinition(
        words: ["export"],
        syntax: ["export collection NAME to 'FILE.json'",
                 "export vector NAME to 'FILE.safetensors' | 'FILE.npy'"],
        summary: "Writes a collection as JSON (name, layers with kind and hyperparameters, in order), or a vector as safetensors (tensors <layer>.weight and <layer>.bias with PyTorch shapes) or as one flat .npy array in flattening order.",
        example: "export vector g to 'gradient.safetensors';"
    ) { parser in
        let kind = try parser.expectKeyword("collection", "vector")
        let name = try parser.name(kind)
        _ = try parser.expectKeyword("to")
        return ExportStatement(kind: kind, name: name, file: try parser.string("a file name in quotes"))
    }

    func run(in session: Session) throws -> [ResultTable] {
        try ShellError.located(name.location) {
            switch kind {
            case "collection":
                try CollectionJSON.write(try session.store.collection(named: name.value), name: name.value, to: file.value)
            default:
                try VectorFiles.write(try session.store.vector(named: name.value), to: file.value)
            }
        }
        return []
    }
}
