/// `drop collection NAME [cascade]`, `drop vector NAME`, `drop matrix NAME`
struct DropStatement: Statement {
    let kind: String
    let name: Located<String>
    let cascade: Bool

    static let definition = StatementDefinition(
        words: ["drop"],
        syntax: ["drop collection NAME [cascade]", "drop vector NAME", "drop matrix NAME"],
        summary: "Deletes a stored object. A collection still used by vectors or matrices is kept unless 'cascade' deletes them too.",
        example: "drop collection mlp cascade;"
    ) { parser in
        let kind = try parser.expectKeyword("collection", "vector", "matrix")
        let name = try parser.name(kind)
        let cascade = kind == "collection" && parser.acceptKeyword("cascade")
        return DropStatement(kind: kind, name: name, cascade: cascade)
    }

    func run(in session: Session) throws -> [ResultTable] {
        try ShellError.located(name.location) {
            switch kind {
            case "collection": try session.store.dropCollection(name.value, cascade: cascade)
            case "vector": try session.store.dropVector(name.value)
            default: try session.store.dropMatrix(name.value)
            }
        }
        return []
    }
}
