import Foundation
import LCDBCore
import LCDBInterop
import LCDBStore

/// `import collection NAME from 'FILE' [with (PATTERN as KIND[(ARGS)], ...)]`
/// `import vector NAME over COLLECTION from 'FILE' [dtype float32|float64]`
struct ImportStatement: Statement {
    enum Target {
        case collection(overrides: [CheckpointInference.Override])
        case vector(over: Located<String>, dtype: DType?)
        case matrix(over: Located<String>, dtype: DType?)
    }

    let name: Located<String>
    let file: Located<String>
    let target: Target

    static let definition = StatementDefinition(
        words: ["import"],
        syntax: ["import collection NAME from 'FILE.safetensors' [with (PATTERN as KIND[(ARGS)], ...)]",
                 "import collection NAME from 'FILE.json'",
                 "import vector NAME over COLLECTION from 'FILE.safetensors' | 'FILE.npy' [dtype float32|float64]",
                 "import matrix NAME over COLLECTION from 'FILE.safetensors' | 'DIRECTORY' [dtype float32|float64]"],
        summary: "Builds a collection from a checkpoint's tensors (kinds inferred from shapes; overrides force a kind for matching module names) or from lcdb's JSON; imports a vector (tensors <layer>.weight/<layer>.bias, or one flat .npy array); imports a matrix whose blocks are side x side tensors named after the layers (streamed), or whose layers' tensors say their forms: <layer>.diag; <layer>.A and <layer>.G (kfac; a 1-D factor is diagonal); <layer>.U_A, <layer>.U_G and <layer>.D (ekfac); <layer>.scale (identity); or a matrix spanning layers: <layer>.J for every layer, with optional core and shift (low-rank c I + Jᵀ S J), or <layer>.rows (full). Shapes, symmetry and orthonormality are checked first. Nothing is stored if any part fails.",
        example: "import collection net from 'model.safetensors' with ('up*' as ConvTranspose2d, 'gn*' as GroupNorm(num_groups=32));"
    ) { parser in
        let what = try parser.expectKeyword("collection", "vector", "matrix")
        let name = try parser.name(what)
        if what != "collection" {
            _ = try parser.expectKeyword("over")
            let over = try parser.name("collection")
            _ = try parser.expectKeyword("from")
            let file = try parser.string("a file name in quotes")
            var dtype: DType?
            if parser.acceptKeyword("dtype") {
                let word = try parser.expectKeyword("float32", "float64")
                dtype = DType(name: word)
            }
            return ImportStatement(name: name, file: file,
                                   target: what == "vector" ? .vector(over: over, dtype: dtype) : .matrix(over: over, dtype: dtype))
        }
        _ = try parser.expectKeyword("from")
        let file = try parser.string("a file name in quotes")
        var overrides: [CheckpointInference.Override] = []
        if parser.acceptKeyword("with") {
            try parser.expectSymbol("(")
            repeat {
                let pattern = try parser.string("a module name pattern in quotes")
                _ = try parser.expectKeyword("as")
                let kindToken = parser.current
                guard kindToken.kind == .identifier, let kind = LayerKind(named: kindToken.text) else {
                    throw ShellError("unknown layer kind '\(kindToken.text)'\(NameSuggester.hint(for: kindToken.text, among: LayerKind.allCases.map(\.rawValue)))", at: kindToken.location)
                }
                parser.advance()
                var arguments: [String: HyperparameterValue] = [:]
                if parser.current.isSymbol("(") {
                    for argument in try parser.arguments() {
                        guard let label = argument.label else {
                            throw ShellError("override arguments are named, e.g. num_groups=32 (the shapes give the rest)", at: argument.location)
                        }
                        arguments[label] = try Parser.hyperparameter(argument.value)
                    }
                }
                overrides.append(.init(pattern: pattern.value, kind: kind, arguments: arguments))
            } while parser.acceptSymbol(",")
            try parser.expectSymbol(")")
        }
        return ImportStatement(name: name, file: file, target: .collection(overrides: overrides))
    }

    func run(in session: Session) throws -> [ResultTable] {
        try ShellError.located(file.location) {
            switch target {
            case .collection(let overrides):
                return try importCollection(overrides, session)
            case .vector(let over, let dtype):
                session.noteInput("collection", over.value)
                return try session.storing(name.value) { try importVector(over: over.value, dtype: dtype, session) }
            case .matrix(let over, let dtype):
                session.noteInput("collection", over.value)
                return try session.storing(name.value) { try importMatrix(over: over.value, dtype: dtype, session) }
            }
        }
    }

    private func importCollection(_ overrides: [CheckpointInference.Override], _ session: Session) throws -> [ResultTable] {
        if file.value.lowercased().hasSuffix(".json") {
            let collection = try CollectionJSON.read(file.value)
            try session.store.createCollection(name.value, collection)
            return [.message("collection \(name.value): \(ValuePresenter.plural(collection.count, "layer")), \(ValuePresenter.plural(collection.numel, "parameter")) from \(file.value)")]
        }
        guard file.value.lowercased().hasSuffix(".safetensors") else {
            let what = file.value.lowercased().hasSuffix(".npy") ? "a .npy file holds one array, not a checkpoint"
                : "the file name must end in .safetensors (a checkpoint) or .json (lcdb's collection format)"
            throw ShellError("cannot import a collection from '\(file.value)': \(what)", at: file.location)
        }
        let checkpoint = try SafetensorsFile.open(file.value) // the header is all it needs
        let inference = try CheckpointInference(checkpoint, overrides: overrides)
        try session.store.createCollection(name.value, inference.collection)
        var rows: [[ResultTable.Cell]] = inference.layers.map {
            [.text($0.name), .text($0.layer.description + ($0.overridden ? " (override)" : "")),
             ValuePresenter.shape($0.layer.weightShape), ValuePresenter.shape($0.layer.biasShape), .integer($0.layer.numel)]
        }
        rows += inference.skipped.map { [.text($0.tensor), .text("skipped: \($0.reason)"), .null, .null, .integer(0)] }
        let parameterTensors = checkpoint.tensors.filter { $0.dtype.isFloatingPoint && !$0.name.hasSuffix("running_mean") && !$0.name.hasSuffix("running_var") }
        let tensorElements = parameterTensors.reduce(0) { $0 + $1.count }
        return [ResultTable(columns: ["module", "kind", "weight", "bias", "numel"], rows: rows,
                            note: "collection \(name.value): \(ValuePresenter.plural(inference.collection.count, "layer")), \(ValuePresenter.plural(inference.collection.numel, "parameter")) (the file's parameter tensors hold \(tensorElements)); \(ValuePresenter.plural(inference.skipped.count, "tensor")) skipped")]
    }

    /// Streams the file into the store a chunk at a time (memory holds one
    /// chunk, whatever the vector's size), in one transaction: a file that
    /// fails part way (truncated, unreadable) stores nothing.
    private func importVector(over collectionName: String, dtype: DType?, _ session: Session) throws -> [ResultTable] {
        let collection = try session.store.collection(named: collectionName)
        let source = try VectorFileSource(file.value, over: collection)
        let chosen = dtype ?? defaultDType()
        try session.store.saveVector(name.value, over: collectionName, dtype: chosen, replace: true) { offset, count, target in
            switch chosen {
            case .float32: try source.read(offset: offset, count: count, into: target.assumingMemoryBound(to: Float.self))
            case .float64: try source.read(offset: offset, count: count, into: target.assumingMemoryBound(to: Double.self))
            }
        }
        var note = "vector \(name.value): \(ValuePresenter.plural(collection.numel, "value")) over \(collectionName) as \(chosen)"
        let nonFinite = source.nonFinite
        if !nonFinite.isEmpty {
            note += "; non-finite values (imported as they are): " + nonFinite.map { "\($0.tensor) \($0.count)" }.joined(separator: ", ")
        }
        return [.message(note)]
    }

    /// Streams the blocks in row panel by row panel, in one transaction. A
    /// file whose blocks are all exactly symmetric (checked first, a block at
    /// a time) is stored as upper triangles: half the bytes.
    private func importMatrix(over collectionName: String, dtype: DType?, _ session: Session) throws -> [ResultTable] {
        let store = session.store
        let collection = try store.collection(named: collectionName)
        // Tensors for no layer are not imported; the message names them.
        let unused = try FormFiles.unusedTensors(file.value, over: collection)
        let unusedNote = unused.isEmpty ? "" : "; \(ValuePresenter.plural(unused.count, "tensor")) for no layer of \(collectionName) not imported: "
            + unused.prefix(5).joined(separator: ", ") + (unused.count > 5 ? ", ..." : "")
        if let kind = try WholeMatrixFiles.kind(file.value, over: collection) {
            // A low-rank or full matrix (it spans layers): read whole and checked, then stored.
            let (matrix, fileDType) = try WholeMatrixFiles.read(file.value, over: collection)
            let chosen = dtype ?? fileDType
            try store.saveWhole(name.value, over: collectionName, matrix, dtype: chosen, replace: true)
            return [.message("matrix \(name.value): \(kind) over \(collectionName) as \(chosen) (\(matrix.numel) parameters)")]
        }
        if try !FormFiles.isAllDense(file.value, over: collection) {
            // Each layer's tensors say its form; read and checked whole, then stored as parts.
            let (forms, fileDType) = try FormFiles.read(file.value, over: collection)
            let chosen = dtype ?? fileDType
            try store.saveStructured(name.value, over: collectionName, forms, dtype: chosen, replace: true)
            let counts = FormKind.allCases.compactMap { kind -> String? in
                let count = forms.blocks.filter { $0.kind == kind }.count
                return count == 0 ? nil : "\(count) \(kind.rawValue)"
            }
            return [.message("matrix \(name.value): \(ValuePresenter.plural(collection.count, "block")) over \(collectionName) as \(chosen), \(forms.representation) (\(counts.joined(separator: ", ")))\(unusedNote)")]
        }
        let reader = try MatrixFiles.Reader(file.value, over: collection)
        // The file's dtype unless asked otherwise, as for vectors.
        let chosen = dtype ?? reader.fileDType
        var nonFinite = 0
        let symmetric = try SymmetryCheck.holds(for: reader, over: collection)
        func load<Scalar: BLASScalar>(_: Scalar.Type) throws {
            try store.createMatrix(name.value, over: collectionName, as: Scalar.self, layout: symmetric ? .upper : .full,
                                   symmetric: symmetric, replace: true,
                                   progress: session.progressReporter("importing \(name.value)")) { position, side, rows, columns, target in
                // Float targets decode straight from the file (bits kept); counted
                // after conversion, so a value beyond float32's range counts.
                let values: [Scalar] = Scalar.self == Float.self
                    ? unsafeBitCast(try reader.rows(position, rows, as: Float.self), to: [Scalar].self)
                    : unsafeBitCast(try reader.rows(position, rows), to: [Scalar].self)
                for (index, row) in rows.enumerated() {
                    let source = (row - rows.lowerBound) * side + columns.lowerBound
                    let panelRow = target + index * columns.count
                    for column in 0 ..< columns.count {
                        let value = values[source + column]
                        if !value.isFinite { nonFinite += 1 }
                        panelRow[column] = value
                    }
                }
            }
        }
        chosen == .float32 ? try load(Float.self) : try load(Double.self)
        var note = "matrix \(name.value): \(ValuePresenter.plural(collection.count, "block")) over \(collectionName) as \(chosen)\(symmetric ? ", symmetric" : "")"
        if nonFinite > 0 { note += "; \(nonFinite) non-finite values (imported as they are, or beyond \(chosen)'s range)" }
        return [.message(note + unusedNote)]
    }

    /// float64 when the file holds float64 data, float32 otherwise.
    private func defaultDType() -> DType {
        if file.value.lowercased().hasSuffix(".npy") {
            return (try? NPYFile.layout(of: file.value).dtype) == .f64 ? .float64 : .float32
        }
        let tensors = (try? SafetensorsFile.open(file.value).tensors) ?? []
        return tensors.contains { $0.dtype == .f64 } ? .float64 : .float32
    }
}

/// Checks, before anything is stored, that every block of a matrix file is
/// exactly symmetric (entry (i, j) has the bits of (j, i), so that mirroring
/// the stored triangle gives back the file: 0 and -0 differ), reading one block at a
/// time and stopping at the first difference. A block is held in memory for
/// the check, so blocks over `limit` entries (an eighth of the machine's
/// memory as float64) are not checked and count as not symmetric: they are
/// stored whole and products use gemv instead of symv (slower, never wrong).
enum SymmetryCheck {
    static let limit = max(1 << 24, Int(MemoryBudget.available / 64))

    static func holds(for reader: MatrixFiles.Reader, over collection: LayerCollection) throws -> Bool {
        for (position, entry) in collection.entries.enumerated() {
            try Interruption.check()
            let side = entry.layer.numel
            guard side <= limit / side else { return false }
            let block = try reader.rows(position, 0 ..< side)
            guard isSymmetric(block, side: side) else { return false }
        }
        return true
    }

    /// Compares the two triangles in 64 x 64 squares, so that the column
    /// walked on one side stays in cache.
    static func isSymmetric(_ block: [Double], side: Int) -> Bool {
        let square = 64
        for rowStart in stride(from: 0, to: side, by: square) {
            for columnStart in stride(from: rowStart, to: side, by: square) {
                for row in rowStart ..< min(side, rowStart + square) {
                    for column in max(row + 1, columnStart) ..< max(row + 1, min(side, columnStart + square))
                    where block[row * side + column].bitPattern != block[column * side + row].bitPattern {
                        return false
                    }
                }
            }
        }
        return true
    }
}
