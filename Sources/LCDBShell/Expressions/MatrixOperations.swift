import LCDBCore
import LCDBStore

/// Products and reductions on matrix values: stored matrices stream through
/// the store tile by tile; other matrices are computed block by block.
enum MatrixOperations {
    static func product(_ m: MatrixValue, _ v: AnyParameterVector, matching: LayerMatching,
                        session: Session) throws -> Value {
        let identical = m.collection == v.collection
        let name = identical || matching == .identical ? m.collectionName : nil
        if case .stored(let stored) = m.origin {
            return .vector(try session.store.product(stored, v, matching: matching), collectionName: name)
        }
        let (matrix, vector) = try aligned(m, v, matching, "mv", session)
        switch matrix.dtype {
        case .float32: return .vector(.float32(try blockwise(matrix, vector.typed(Float.self), session) { try $0.product(with: $1) }), collectionName: name)
        case .float64: return .vector(.float64(try blockwise(matrix, vector.typed(Double.self), session) { try $0.product(with: $1) }), collectionName: name)
        }
    }

    static func quadraticForm(_ m: MatrixValue, _ v: AnyParameterVector, matching: LayerMatching,
                              session: Session) throws -> Double {
        if case .stored(let stored) = m.origin {
            return try session.store.quadraticForm(stored, v, matching: matching)
        }
        guard case .vector(let mv, _) = try product(m, v, matching: matching, session: session) else { return 0 }
        let x = try v.typed(Double.self).restricted(to: mv.collection)
        return try mv.typed(Double.self).dot(x)
    }

    static func solve(_ m: MatrixValue, _ v: AnyParameterVector, regularization: Double, matching: LayerMatching,
                      session: Session) throws -> Value {
        let name = m.collection == v.collection || matching == .identical ? m.collectionName : nil
        if case .stored(let stored) = m.origin {
            return .vector(try session.store.solve(stored, v, regularization: regularization, matching: matching), collectionName: name)
        }
        let (matrix, vector) = try aligned(m, v, matching, "solve", session)
        switch matrix.dtype {
        case .float32:
            return .vector(.float32(try blockwise(matrix, vector.typed(Float.self), session) {
                try $0.solve($1, regularization: Float(regularization))
            }), collectionName: name)
        case .float64:
            return .vector(.float64(try blockwise(matrix, vector.typed(Double.self), session) {
                try $0.solve($1, regularization: regularization)
            }), collectionName: name)
        }
    }

    static func trace(_ m: MatrixValue, session: Session) throws -> Double {
        if case .stored(let stored) = m.origin { return try session.store.trace(stored) }
        return try perBlock(m, session) { $0.trace() }.reduce(0, +)
    }

    static func frobeniusNorm(_ m: MatrixValue, session: Session) throws -> Double {
        if case .stored(let stored) = m.origin { return try session.store.frobeniusNorm(stored) }
        return try perBlock(m, session) { $0.frobeniusNorm() }.reduce(0) { $0 + $1 * $1 }.squareRoot()
    }

    static func diagonal(_ m: MatrixValue, session: Session) throws -> Value {
        if case .stored(let stored) = m.origin {
            return .vector(try session.store.diagonal(stored), collectionName: m.collectionName)
        }
        let values = try perBlock(m, session) { $0.diagonal().values }.flatMap { $0 }
        let diagonal = try ParameterVector<Double>(collection: m.collection, values: values)
        return .vector(AnyParameterVector(diagonal).converted(to: m.dtype), collectionName: m.collectionName)
    }

    static func inverse(_ m: MatrixValue, regularization: Double) -> MatrixValue {
        MatrixValue(origin: .inverse(m, regularization: regularization), collection: m.collection,
                    collectionName: m.collectionName, dtype: m.dtype, isSymmetric: m.isSymmetric)
    }

    static func matrixProduct(_ a: MatrixValue, _ b: MatrixValue) throws -> MatrixValue {
        try a.collection.requireEqual(to: b.collection, for: "mm")
        return MatrixValue(origin: .product(a, b), collection: a.collection, collectionName: a.collectionName ?? b.collectionName,
                           dtype: Arithmetic.promote(a.dtype, b.dtype), isSymmetric: false)
    }

    // MARK: - Block by block

    private static func aligned(_ m: MatrixValue, _ v: AnyParameterVector, _ matching: LayerMatching, _ what: String,
                                _ session: Session) throws -> (MatrixValue, AnyParameterVector) {
        switch matching {
        case .identical:
            try m.collection.requireEqual(to: v.collection, for: what)
            return (m, v)
        case .common:
            let common = try m.collection.requireCommonLayers(with: v.collection, for: what)
            let vector: AnyParameterVector = switch v {
            case .float32(let x): .float32(try x.restricted(to: common))
            case .float64(let x): .float64(try x.restricted(to: common))
            }
            return (try m.restricted(to: common, store: session.store), vector)
        }
    }

    /// Applies `operation` to each block and the matching piece of `x`, one block in memory at a time.
    private static func blockwise<Scalar: BLASScalar>(
        _ m: MatrixValue, _ x: ParameterVector<Scalar>, _ session: Session,
        _ operation: (BlockDiagonalMatrix<Scalar>, ParameterVector<Scalar>) throws -> ParameterVector<Scalar>
    ) throws -> ParameterVector<Scalar> {
        var values: [Scalar] = []
        values.reserveCapacity(m.collection.numel)
        for position in m.collection.entries.indices {
            try Interruption.check()
            let block = try m.singleBlock(m, position, session.store, Scalar.self)
            let piece = try ParameterVector(collection: block.collection, values: Array(x.values[m.collection.range(at: position)]))
            values += try operation(block, piece).values
        }
        return try ParameterVector(collection: m.collection, values: values)
    }

    private static func perBlock<T>(_ m: MatrixValue, _ session: Session,
                                    _ operation: (BlockDiagonalMatrix<Double>) throws -> T) throws -> [T] {
        try m.collection.entries.indices.map { position in
            try Interruption.check()
            return try operation(m.singleBlock(m, position, session.store, Double.self))
        }
    }
}
