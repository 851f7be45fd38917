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
                 "export vector NAME to 'FILE.safetensors' | 'FILE.npy'",
                 "export matrix NAME to 'FILE.safetensors' | 'DIRECTORY' | 'FILE.npy' (one-block matrices)"],
        summary: "Writes a collection as JSON (name, layers with kind and hyperparameters, in order); a vector as safetensors (tensors <layer>.weight and <layer>.bias with PyTorch shapes) or as one flat .npy array in flattening order; a block-diagonal matrix as safetensors or a directory of <layer>.npy files, one side x side block per layer, tile by tile (a one-block matrix also as one .npy); a matrix with diag, kfac, ekfac, identity, eigen or quasidiag blocks as safetensors with each layer's parts (<layer>.diag; <layer>.A, <layer>.G; <layer>.U_A, <layer>.U_G, <layer>.D; <layer>.scale; <layer>.U, <layer>.lambda; <layer>.diag, <layer>.cross; <layer> for dense blocks); a low-rank matrix as <layer>.J (+ core, shift), a full one as <layer>.rows. Files are written beside their target and renamed into place; devices, FIFOs and directories are refused, a symlink is written through.",
        example: "export vector g to 'gradient.safetensors';"
    ) { parser in
        let kind = try parser.expectKeyword("collection", "vector", "matrix")
        let name = try parser.name(kind)
        _ = try parser.expectKeyword("to")
        return ExportStatement(kind: kind, name: name, file: try parser.string("a file name in quotes"))
    }

    func run(in session: Session) throws -> [ResultTable] {
        try ShellError.located(name.location) {
            switch kind {
            case "collection":
                try CollectionJSON.write(try session.store.collection(named: name.value), name: name.value, to: file.value)
            case "matrix":
                let store = session.store
                let matrix = try store.matrix(named: name.value)
                if try store.isWholeMatrix(name.value) {
                    try WholeMatrixFiles.write(try store.loadWhole(named: name.value), dtype: matrix.dtype, to: file.value)
                    return
                }
                guard matrix.isDense else {
                    // A block at a time (GPT-2's KFAC held whole took 2.4 GB).
                    let names = matrix.collection.names
                    try FormFiles.write(dtype: matrix.dtype, to: file.value) { body in
                        _ = try store.forEachForm(of: name.value) { position, form in try body(names[position], form) }
                    }
                    return
                }
                try MatrixFiles.export(matrix.collection, dtype: matrix.dtype, to: file.value) { body in
                    try store.streamTiles(of: name.value, body)
                }
            default:
                // Chunk by chunk from the store: any size of vector, one chunk in memory.
                let store = session.store
                let collection = try store.collection(named: try store.collectionName(ofVector: name.value))
                let dtype = try store.dtype(ofVector: name.value)
                try VectorFiles.write(over: collection, dtype: dtype, to: file.value) { emit in
                    try store.forEachVectorPiece(named: name.value) { try emit($0.bytes) }
                }
            }
        }
        return []
    }
}
