import LCDBCore
import LCDBStore

/// What the shell computes from a stored vector named bare (`norm(g)`,
/// `sum(g)`, `argmax(g)`, `head(g)`, `show g`, ...) read from the database a
/// chunk at a time instead of loaded: a vector larger than memory works (a
/// 7B-parameter model's float32 gradient is 28 GB) and a smaller one costs
/// no copy. The numbers are the in-memory ones to the last bit
/// (`StreamedReductions`); the tests compare the two paths.
enum StoredVectorStreams {
    /// The reductions of stored vector `name` (a second pass only for a
    /// 2-norm whose squares over- or underflow), with its collection and dtype.
    static func reductions(of name: String, _ needs: StreamedReductions.Needs, _ store: Store) throws -> (StreamedReductions, LayerCollection, DType) {
        let collection = try store.collection(named: try store.collectionName(ofVector: name))
        var reductions = StreamedReductions(count: collection.numel, needs: needs)
        var scratch: [Double] = []
        let dtype = try store.forEachVectorPiece(named: name) { piece in
            piece.withValues(doubles: { reductions.add($0) }, floats: { reductions.add($0) })
        }.dtype
        if reductions.needsSecondPass {
            try store.forEachVectorPiece(named: name) { $0.withDoubles(&scratch) { reductions.addAgain($0) } }
        }
        return (reductions, collection, dtype)
    }

    /// `show` of a stored vector: per layer numel, norm, min, max and the
    /// values of small layers; the norm of the whole in the note. The same
    /// table as `ValuePresenter.vectorTable` of the loaded vector.
    static func table(of name: String, _ store: Store) throws -> ResultTable {
        let collectionName = try store.collectionName(ofVector: name)
        let collection = try store.collection(named: collectionName)
        var whole = StreamedReductions(count: collection.numel, needs: .l2)
        var layers = collection.entries.map { StreamedReductions(count: $0.layer.numel, needs: [.l2, .extremes]) }
        var shown = [[Double]](repeating: [], count: collection.count)
        var scratch: [Double] = []
        let dtype = try store.forEachVectorPiece(named: name) { piece in
            piece.withValues(doubles: { whole.add($0); layers[piece.position].add($0) },
                             floats: { whole.add($0); layers[piece.position].add($0) })
            if collection.entries[piece.position].layer.numel <= ValuePresenter.valuesShownPerLayer {
                piece.withDoubles(&scratch) { shown[piece.position] += $0 }
            }
        }.dtype
        if whole.needsSecondPass || layers.contains(where: \.needsSecondPass) {
            try store.forEachVectorPiece(named: name) { piece in
                piece.withDoubles(&scratch) { values in
                    whole.addAgain(values)
                    layers[piece.position].addAgain(values)
                }
            }
        }
        let rows: [[ResultTable.Cell]] = collection.entries.indices.map { position in
            let layer = layers[position], numel = collection.entries[position].layer.numel
            let values: ResultTable.Cell = numel <= ValuePresenter.valuesShownPerLayer
                ? .text(shown[position].map(ResultTable.format).joined(separator: " ")) : .text("...")
            return [.text(collection.entries[position].name), .integer(numel), .real(layer.norm(.l2)),
                    .real(numel == 0 ? 0 : layer.min), .real(numel == 0 ? 0 : layer.max), values]
        }
        return ResultTable(columns: ["layer", "numel", "norm", "min", "max", "values"], rows: rows,
                           note: "\(dtype) vector over \(collectionName): \(ValuePresenter.plural(collection.numel, "value")), norm \(ResultTable.format(whole.norm(.l2)))")
    }

    /// Flat indices `range` of stored vector `name` as Doubles (only the
    /// chunks holding them are read), with the vector's collection and dtype.
    static func values(of name: String, _ range: Range<Int>, _ store: Store) throws -> ([Double], LayerCollection, DType) {
        var values: [Double] = []
        values.reserveCapacity(range.count)
        var scratch: [Double] = []
        let (collection, dtype) = try store.forEachVectorPiece(named: name, elements: range) { $0.withDoubles(&scratch) { values += $0 } }
        return (values, collection, dtype)
    }

    /// Layer `position` of stored vector `name` as a vector over that one
    /// layer, in the stored dtype: only its chunks are read (`g.fc1` of a
    /// 28 GB gradient reads fc1).
    static func layer(_ position: Int, of name: String, _ store: Store) throws -> AnyParameterVector {
        let collection = try store.collection(named: try store.collectionName(ofVector: name))
        let entry = collection.entries[position]
        let single = try LayerCollection([(entry.name, entry.layer)])
        let range = collection.range(at: position)
        let dtype = try store.dtype(ofVector: name)
        try MemoryBudget.require(Double(range.count) * (dtype == .float32 ? 4 : 8), for: "layer '\(entry.name)' of vector '\(name)'")
        // In the stored dtype: one of the two arrays fills, the other stays empty.
        var floats: [Float] = [], doubles: [Double] = []
        try store.forEachVectorPiece(named: name, elements: range) { piece in
            piece.withValues(doubles: { doubles += $0 }, floats: { floats += $0 })
        }
        return dtype == .float32 ? .float32(try ParameterVector(collection: single, values: floats))
            : .float64(try ParameterVector(collection: single, values: doubles))
    }

    /// The number of values of stored vector `name` (from its collection).
    static func numel(of name: String, _ store: Store) throws -> Int {
        try store.collection(named: try store.collectionName(ofVector: name)).numel
    }
}
