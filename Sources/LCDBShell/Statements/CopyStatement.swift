import LCDBStore

/// `copy collection|vector|matrix NAME to NEW`
struct CopyStatement: Statement {
    let kind: String
    let name: Located<String>
    let newName: Located<String>

    static let definition = StatementDefinition(
        words: ["copy"],
        syntax: ["copy collection NAME to NEW", "copy vector NAME to NEW", "copy matrix NAME to NEW"],
        summary: "Copies a stored object under a new name (matrices tile by tile).",
        example: "copy collection resnet18 to resnet18_cifar;"
    ) { parser in
        let kind = try parser.expectKeyword("collection", "vector", "matrix")
        let name = try parser.name(kind)
        _ = try parser.expectKeyword("to")
        return CopyStatement(kind: kind, name: name, newName: try parser.name(kind))
    }

    func run(in session: Session) throws -> [ResultTable] {
        let store = session.store
        try ShellError.located(name.location) {
            switch kind {
            case "collection":
                let collection = try store.collection(named: name.value)
                try ShellError.located(newName.location) { try store.createCollection(newName.value, collection) }
            // A new name taken by another kind of object is refused by the store (one namespace).
            case "vector":
                session.noteInput("vector", name.value)
                try session.storing(newName.value) {
                    try store.copyVector(name.value, to: newName.value)
                }
            default:
                session.noteInput("matrix", name.value)
                try session.storing(newName.value) { try store.copyMatrix(name.value, to: newName.value) }
            }
        }
        return []
    }
}
