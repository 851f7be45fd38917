/// `list collections | vectors | matrices`
struct ListStatement: Statement {
    let what: String

    static let definition = StatementDefinition(
        words: ["list"],
        syntax: ["list collections", "list vectors", "list matrices"],
        summary: "Lists the stored objects of one kind with their sizes.",
        example: "list collections;"
    ) { parser in
        ListStatement(what: try parser.expectKeyword("collections", "vectors", "matrices"))
    }

    func run(in session: Session) throws -> [ResultTable] {
        let store = session.store
        switch what {
        case "collections":
            return [ResultTable(columns: ["name", "layer_count", "numel"], rows: try store.collectionSummaries().map {
                [.text($0.name), .integer($0.layerCount), .integer($0.numel)]
            })]
        case "vectors":
            return [ResultTable(columns: ["name", "collection", "dtype", "numel"], rows: try store.vectorSummaries().map {
                [.text($0.name), .text($0.collection), .text($0.dtype.rawValue), .integer($0.numel)]
            })]
        default:
            return [ResultTable(columns: ["name", "collection", "representation", "dtype", "bytes", "symmetric", "layout"],
                                rows: try store.matrixSummaries().map {
                [.text($0.name), .text($0.collection), .text($0.representation), .text($0.dtype.rawValue),
                 .integer($0.bytes), .integer($0.symmetric ? 1 : 0), .text($0.layout.rawValue)]
            })]
        }
    }
}
