import LCDBCore
import LCDBStore

/// Products and reductions on matrix values: stored matrices stream through
/// the store tile by tile; other matrices are computed block by block.
enum MatrixOperations {
    static func product(_ m: MatrixValue, _ v: AnyParameterVector, matching: LayerMatching,
                        session: Session) throws -> Value {
        let identical = m.collection == v.collection
        let name = identical || matching == .identical ? m.collectionName : nil
        if case .storedForms(let stored) = m.origin, identical {
            // Streamed a block at a time, reading overlapping the products.
            let product = try session.store.formsProduct(stored, v.typed(Double.self))
            return .vector(AnyParameterVector(product).converted(to: Arithmetic.promote(m.dtype, v.dtype)), collectionName: name)
        }
        if let forms = try m.structuredForm(store: session.store) {
            // Computed in float64; the result in the wider of the two dtypes (NumPy's promotion).
            let (matrix, x) = try alignedForms(forms, v, matching, "mv")
            return .vector(AnyParameterVector(try matrix.product(with: x)).converted(to: Arithmetic.promote(m.dtype, v.dtype)),
                           collectionName: name)
        }
        if case .stored(let stored) = m.origin {
            return .vector(try session.store.product(stored, v, matching: matching), collectionName: name)
        }
        if let scale = m.scaledIdentity {
            let (_, vector) = try aligned(m, v, matching, "mv", session)
            return .vector(try combine(vector.converted(to: m.dtype), nil, 0, scale: scale, dtype: m.dtype), collectionName: name)
        }
        if identical, let linear = try linearProduct(m, v, session: session) {
            return .vector(linear, collectionName: name)
        }
        let (matrix, vector) = try aligned(m, v, matching, "mv", session)
        switch matrix.dtype {
        case .float32: return .vector(.float32(try blockwise(matrix, vector.typed(Float.self), session) { try $0.product(with: $1) }), collectionName: name)
        case .float64: return .vector(.float64(try blockwise(matrix, vector.typed(Double.self), session) { try $0.product(with: $1) }), collectionName: name)
        }
    }

    /// M x for a stored matrix in forms and a stored vector over its
    /// collection, the vector read a layer at a time beside the blocks; nil
    /// for any other pair (the caller reads the vector and goes the usual way).
    static func storedProduct(_ m: MatrixValue, vectorNamed vector: String, session: Session) throws -> Value? {
        guard case .storedForms(let stored) = m.origin,
              let (product, dtype) = try session.store.formsProduct(stored, vectorNamed: vector) else { return nil }
        return .vector(AnyParameterVector(product).converted(to: Arithmetic.promote(m.dtype, dtype)), collectionName: m.collectionName)
    }

    /// `reduction` of M x for a stored matrix in forms and a stored vector
    /// over its collection, M x never held whole; nil for any other pair.
    static func storedProduct(_ m: MatrixValue, vectorNamed vector: String, reducedTo reduction: ProductReduction,
                              session: Session) throws -> Double? {
        guard case .storedForms(let stored) = m.origin else { return nil }
        return try session.store.formsProduct(stored, vectorNamed: vector, reducedTo: reduction)
    }

    /// (A + alpha B) x as A x + alpha B x, and (alpha A) x as alpha (A x), in
    /// the matrix's dtype: a damped product such as mv(F + 0.1 * identity(w), x)
    /// then streams a stored F tile by tile and never builds F + 0.1 I. Nil
    /// when `m` is not a sum or multiple (its product is computed as it is).
    private static func linearProduct(_ m: MatrixValue, _ v: AnyParameterVector, session: Session) throws -> AnyParameterVector? {
        func part(_ operand: MatrixValue) throws -> AnyParameterVector {
            if case .source(.identity(let scale)) = operand.origin {
                return try combine(v.converted(to: operand.dtype), nil, 0, scale: scale, dtype: operand.dtype)
            }
            guard case .vector(let product, _) = try product(operand, v, matching: .identical, session: session) else {
                preconditionFailure("a matrix-vector product is a vector")
            }
            return product
        }
        // Only without dtype promotion: a float32 operand of a float64 sum is
        // multiplied in float64 by the block path, and must stay so.
        switch m.origin {
        case .sum(let a, let b, let alpha) where a.dtype == m.dtype && b.dtype == m.dtype:
            return try combine(part(a), part(b), alpha, scale: 1, dtype: m.dtype)
        case .scaled(let a, let alpha) where a.dtype == m.dtype:
            return try combine(part(a), nil, 0, scale: alpha, dtype: m.dtype)
        default:
            return nil
        }
    }

    /// scale * (x + alpha * y) in `dtype`.
    private static func combine(_ x: AnyParameterVector, _ y: AnyParameterVector?, _ alpha: Double, scale: Double,
                                dtype: DType) throws -> AnyParameterVector {
        func run<Scalar: BLASScalar>(_: Scalar.Type) throws -> ParameterVector<Scalar> {
            var result = x.typed(Scalar.self)
            if let y { result = try result.adding(y.typed(Scalar.self), scaledBy: Scalar(alpha)) }
            return scale == 1 ? result : result.scaled(by: Scalar(scale))
        }
        return dtype == .float32 ? .float32(try run(Float.self)) : .float64(try run(Double.self))
    }

    static func quadraticForm(_ m: MatrixValue, _ v: AnyParameterVector, matching: LayerMatching,
                              session: Session) throws -> Double {
        if case .storedForms(let stored) = m.origin, m.collection == v.collection {
            return try session.store.formsProduct(stored, v.typed(Double.self), xDType: v.dtype, reducedTo: .quadraticForm)
        }
        if let forms = try m.structuredForm(store: session.store) {
            let (matrix, x) = try alignedForms(forms, v, matching, "vtmv")
            return try matrix.product(with: x).dot(x)
        }
        if case .stored(let stored) = m.origin {
            return try session.store.quadraticForm(stored, v, matching: matching)
        }
        if let scale = m.scaledIdentity {
            let (_, vector) = try aligned(m, v, matching, "vtmv", session)
            return switch vector.converted(to: m.dtype) {
            case .float32(let x): scale * (try x.dot(x))
            case .float64(let x): scale * (try x.dot(x))
            }
        }
        guard case .vector(let mv, _) = try product(m, v, matching: matching, session: session) else { return 0 }
        let x = try v.typed(Double.self).restricted(to: mv.collection)
        return try mv.typed(Double.self).dot(x)
    }

    static func solve(_ m: MatrixValue, _ v: AnyParameterVector, regularization: Double, matching: LayerMatching,
                      session: Session) throws -> Value {
        let name = m.collection == v.collection || matching == .identical ? m.collectionName : nil
        if case .storedForms(let stored) = m.origin, m.collection == v.collection {
            // A block at a time, never holding the matrix whole.
            let solution = try session.store.formsSolve(stored, v.typed(Double.self), regularization: regularization)
            return .vector(AnyParameterVector(solution).converted(to: Arithmetic.promote(m.dtype, v.dtype)), collectionName: name)
        }
        if let forms = try m.structuredForm(store: session.store) {
            let (matrix, x) = try alignedForms(forms, v, matching, "solve")
            return .vector(AnyParameterVector(try matrix.solve(x, regularization: regularization)).converted(to: Arithmetic.promote(m.dtype, v.dtype)),
                           collectionName: name)
        }
        if case .stored(let stored) = m.origin {
            return .vector(try session.store.solve(stored, v, regularization: regularization, matching: matching), collectionName: name)
        }
        if let scale = m.scaledIdentity {
            guard scale + regularization != 0 else {
                throw ShellError("solve: the matrix plus regul times I is zero (singular); add a nonzero regul")
            }
            let (_, vector) = try aligned(m, v, matching, "solve", session)
            return .vector(try combine(vector.converted(to: m.dtype), nil, 0, scale: 1 / (scale + regularization), dtype: m.dtype),
                           collectionName: name)
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

    /// Linear too: trace(A + alpha B) = trace(A) + alpha trace(B), so stored operands stream.
    static func trace(_ m: MatrixValue, session: Session) throws -> Double {
        if case .storedForms(let stored) = m.origin {
            return try session.store.forEachForm(of: stored) { _, block in block.trace() }.reduce(0, +)
        }
        if let forms = try m.structuredForm(store: session.store) { return forms.trace() }
        switch m.origin {
        case .stored(let stored): return try session.store.trace(stored)
        case .sum(let a, let b, let alpha): return try trace(a, session: session) + alpha * trace(b, session: session)
        case .scaled(let a, let alpha): return try alpha * trace(a, session: session)
        default:
            if let scale = m.scaledIdentity { return scale * Double(m.collection.numel) }
            return try perBlock(m, session) { $0.trace() }.reduce(0, +)
        }
    }

    static func frobeniusNorm(_ m: MatrixValue, session: Session) throws -> Double {
        if case .storedForms(let stored) = m.origin {
            return Norms.combined(try session.store.forEachForm(of: stored) { _, block in block.frobeniusNorm() })
        }
        if let forms = try m.structuredForm(store: session.store) { return forms.frobeniusNorm() }
        if let scale = m.scaledIdentity { return abs(scale) * Double(m.collection.numel).squareRoot() }
        switch m.origin {
        case .stored(let stored):
            return try session.store.frobeniusNorm(stored)
        case .sum, .scaled:
            if let norm = try panelFrobeniusNorm(m, session: session) { return norm }
        default:
            break
        }
        return Norms.combined(try perBlock(m, session) { ($0.frobeniusNorm(), 1) })
    }

    /// The Frobenius norm of a sum or multiple computed a panel at a time
    /// (`PanelSource`), in one read transaction: frobenius(F1 - F2) of two
    /// stored Fishers never builds a block. A symmetric result is read as
    /// its upper triangle, entries right of the diagonal counting twice. Nil
    /// when some operand needs whole blocks.
    private static func panelFrobeniusNorm(_ m: MatrixValue, session: Session) throws -> Double? {
        try session.store.snapshot {
            let layout: MatrixLayout = m.isSymmetric ? .upper : .full
            guard let source = try PanelSource<Double>.make(m, layout: layout, store: session.store) else { return nil }
            var norms: [(norm: Double, weight: Double)] = []
            var panel: [Double] = []
            for (position, entry) in m.collection.entries.enumerated() {
                let side = entry.layer.numel
                let step = max(1, (1 << 17) / side) // about 1 MiB of panel
                for rowStart in stride(from: 0, to: side, by: step) {
                    try Interruption.check()
                    let rows = rowStart ..< min(side, rowStart + step)
                    let columns = layout == .upper ? rowStart ..< side : 0 ..< side
                    if panel.count < rows.count * columns.count { panel = [Double](repeating: 0, count: rows.count * columns.count) }
                    try panel.withUnsafeMutableBufferPointer { buffer in
                        let base = buffer.baseAddress!
                        try source.fill(position, side, rows, columns, base)
                        guard layout == .upper else {
                            norms.append((Double.nrm2(count: rows.count * columns.count, base), 1))
                            return
                        }
                        for row in rows {
                            // Columns left of `row` are mirrored entries, counted with their twins.
                            let diagonal = base + (row - rowStart) * columns.count + row - rowStart
                            norms.append((abs(diagonal[0]), 1))
                            norms.append((Double.nrm2(count: side - row - 1, diagonal + 1), 2))
                        }
                    }
                }
            }
            return Norms.combined(norms)
        }
    }

    /// Linear as well (same dtype only, as for `mv`): stored operands stream.
    static func diagonal(_ m: MatrixValue, session: Session) throws -> Value {
        .vector(try diagonalVector(m, session: session), collectionName: m.collectionName)
    }

    private static func diagonalVector(_ m: MatrixValue, session: Session) throws -> AnyParameterVector {
        if case .storedForms(let stored) = m.origin {
            try ParameterVector<Double>.requireMemory(over: m.collection, copies: 1, "the diagonal")
            // Each block's diagonal goes straight into its place (GPT-2: 1 GB, not 2).
            var values = [Double](repeating: 0, count: m.collection.numel)
            _ = try session.store.forEachForm(of: stored) { position, block in
                let range = m.collection.range(at: position)
                values.replaceSubrange(range, with: block.diagonal())
            }
            return AnyParameterVector(try ParameterVector<Double>(collection: m.collection, values: values)).converted(to: m.dtype)
        }
        if let forms = try m.structuredForm(store: session.store) {
            return AnyParameterVector(try forms.diagonal()).converted(to: m.dtype)
        }
        if let scale = m.scaledIdentity {
            try ParameterVector<Double>.requireMemory(over: m.collection, copies: 2, "the diagonal")
            let values = [Double](repeating: scale, count: m.collection.numel)
            return AnyParameterVector(try ParameterVector<Double>(collection: m.collection, values: values)).converted(to: m.dtype)
        }
        switch m.origin {
        case .stored(let stored):
            return try session.store.diagonal(stored)
        case .sum(let a, let b, let alpha) where a.dtype == m.dtype && b.dtype == m.dtype:
            return try combine(diagonalVector(a, session: session), diagonalVector(b, session: session), alpha, scale: 1, dtype: m.dtype)
        case .scaled(let a, let alpha) where a.dtype == m.dtype:
            return try combine(diagonalVector(a, session: session), nil, 0, scale: alpha, dtype: m.dtype)
        default:
            let values = try perBlock(m, session) { $0.diagonal().values }.flatMap { $0 }
            let diagonal = try ParameterVector<Double>(collection: m.collection, values: values)
            return AnyParameterVector(diagonal).converted(to: m.dtype)
        }
    }

    static func inverse(_ m: MatrixValue, regularization: Double) -> MatrixValue {
        // Of a stored matrix in forms, block by block: `let` then stores it a block at a time.
        if let blockwise = m.transformingStoredForms(BlockTransform { block, layer in
            try block.inverse(regularization: regularization, layer: layer)
        }) {
            return blockwise
        }
        return MatrixValue(origin: .inverse(m, regularization: regularization), collection: m.collection,
                    collectionName: m.collectionName, dtype: m.dtype, isSymmetric: m.isSymmetric)
    }

    static func matrixProduct(_ a: MatrixValue, _ b: MatrixValue) throws -> MatrixValue {
        try a.collection.requireEqual(to: b.collection, for: "mm")
        return MatrixValue(origin: .product(a, b), collection: a.collection, collectionName: a.collectionName ?? b.collectionName,
                           dtype: Arithmetic.promote(a.dtype, b.dtype), isSymmetric: false)
    }

    /// The forms and the vector (float64) over the same layers: identical, or
    /// the common ones with `layers=common`.
    private static func alignedForms(_ forms: StructuredMatrix, _ v: AnyParameterVector, _ matching: LayerMatching,
                                     _ what: String) throws -> (StructuredMatrix, ParameterVector<Double>) {
        let x = v.typed(Double.self)
        switch matching {
        case .identical:
            try forms.collection.requireEqual(to: v.collection, for: what)
            return (forms, x)
        case .common:
            let common = try forms.collection.requireCommonLayers(with: v.collection, for: what)
            return (try forms.restricted(to: common), try x.restricted(to: common))
        }
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
        try m.requireBlocksFit(for: "this product")
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
        try m.requireBlocksFit(for: "this operation")
        return try m.collection.entries.indices.map { position in
            try Interruption.check()
            return try operation(m.singleBlock(m, position, session.store, Double.self))
        }
    }
}
