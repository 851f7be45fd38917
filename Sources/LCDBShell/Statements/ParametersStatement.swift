import LCDBStore

/// `parameters COLLECTION`: PyTorch's named_parameters, with shapes and offsets.
struct ParametersStatement: Statement {
    let name: Located<String>

    static let definition = StatementDefinition(
        words: ["parameters"],
        syntax: ["parameters COLLECTION"],
        summary: "Lists the named parameter tensors (fc1.weight, fc1.bias, ...) with shapes, numel and offsets.",
        example: "parameters mlp;"
    ) { parser in
        ParametersStatement(name: try parser.name("collection"))
    }

    func run(in session: Session) throws -> [ResultTable] {
        let collection = try ShellError.located(name.location) { try session.store.collection(named: name.value) }
        return [ResultTable(columns: ["parameter", "shape", "numel", "offset"], rows: collection.namedParameters().map {
            [.text($0.name), ValuePresenter.shape($0.shape), .integer($0.numel), .integer($0.offset)]
        })]
    }
}
