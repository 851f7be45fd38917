/// `rename collection|vector|matrix NAME to NEW`
struct RenameStatement: Statement {
    let kind: String
    let name: Located<String>
    let newName: Located<String>

    static let definition = StatementDefinition(
        words: ["rename"],
        syntax: ["rename collection NAME to NEW", "rename vector NAME to NEW", "rename matrix NAME to NEW"],
        summary: "Renames a stored object. (Layers are renamed with 'alter collection'.)",
        example: "rename vector g to gradient;"
    ) { parser in
        let kind = try parser.expectKeyword("collection", "vector", "matrix")
        let name = try parser.name(kind)
        _ = try parser.expectKeyword("to")
        return RenameStatement(kind: kind, name: name, newName: try parser.name(kind))
    }

    func run(in session: Session) throws -> [ResultTable] {
        try ShellError.located(name.location) {
            switch kind {
            case "collection": try session.store.renameCollection(name.value, to: newName.value)
            case "vector": try session.store.renameVector(name.value, to: newName.value)
            default: try session.store.renameMatrix(name.value, to: newName.value)
            }
        }
        return []
    }
}
