import LCDBCore
import LCDBStore

/// A block-diagonal matrix in an expression. Nothing is computed until a
/// block is asked for, so a statement that stores a result (`let`) streams
/// it into the database one block at a time.
public struct MatrixValue: Sendable {
    public indirect enum Origin: Sendable {
        case stored(String)
        /// A stored matrix whose blocks are not all dense (diag, kfac, ekfac,
        /// identity, mixed): loaded as forms when an operation needs it.
        case storedForms(String)
        /// Blocks in structured forms, in memory (float64).
        case structured(StructuredMatrix)
        /// Each block of a stored matrix in forms mapped on its own
        /// (`inv`, `eig`, `to_ekfac`): computed when asked for, stored by `let` a
        /// block at a time.
        case transformedForms(String, BlockTransform)
        case memory(AnyBlockDiagonalMatrix)
        case source(BlockSource)
        /// Dense Fisher blocks computed from gradient files as they are asked
        /// for: on background threads while `let` stores the finished ones
        /// (`FisherStream`), or in passes when too large to hold (`FisherPasses`).
        case passes(any FisherBlockSource)
        case inverse(MatrixValue, regularization: Double)
        case product(MatrixValue, MatrixValue)
        /// a + alpha * b
        case sum(MatrixValue, MatrixValue, alpha: Double)
        case scaled(MatrixValue, Double)
    }

    public let origin: Origin
    public let collection: LayerCollection
    /// The stored collection this matrix is over, when known.
    public let collectionName: String?
    public let dtype: DType
    public let isSymmetric: Bool

    /// Block `position` as `Scalar`; `store` serves stored operands.
    func block<Scalar: BLASScalar>(at position: Int, store: Store, as type: Scalar.Type) throws -> [Scalar] {
        // Refused before anything is allocated: a block over half of memory would not survive.
        let side = try BlockDiagonalMatrix<Scalar>.side(of: collection.entries[position])
        switch origin {
        case .stored(let name):
            return try store.block(of: name, at: position, as: type)
        case .memory(let matrix):
            return matrix.typed(Scalar.self).blocks[position]
        case .storedForms, .structured, .transformedForms:
            guard let forms = try structuredForm(store: store) else { preconditionFailure("stored forms load as forms") }
            return forms.blocks[position].dense().values.map { Scalar($0) }
        case .source(let source):
            var block = [Scalar](repeating: 0, count: side * side)
            block.withUnsafeMutableBufferPointer { source.fill(block: position, side: side, rows: 0 ..< side, into: $0.baseAddress!) }
            return block
        case .passes(let passes):
            return try passes.block(at: position, as: type)
        case .inverse(let operand, let regularization):
            let single = try singleBlock(operand, position, store, type)
            return try single.inverse(regularization: Scalar(regularization)).blocks[0]
        case .product(let left, let right):
            return try singleBlock(left, position, store, type).matrixProduct(singleBlock(right, position, store, type)).blocks[0]
        case .sum(let left, let right, let alpha):
            return try singleBlock(left, position, store, type)
                .adding(singleBlock(right, position, store, type), scaledBy: Scalar(alpha)).blocks[0]
        case .scaled(let operand, let alpha):
            return try singleBlock(operand, position, store, type).scaled(by: Scalar(alpha)).blocks[0]
        }
    }

    /// Block `position` as a one-layer matrix, so the core's operations apply to it.
    func singleBlock<Scalar: BLASScalar>(_ value: MatrixValue, _ position: Int, _ store: Store,
                                         _ type: Scalar.Type) throws -> BlockDiagonalMatrix<Scalar> {
        let entry = value.collection.entries[position]
        let single = try LayerCollection([(entry.name, entry.layer)])
        return try BlockDiagonalMatrix(collection: single, blocks: [value.block(at: position, store: store, as: type)])
    }

    /// Every block in memory.
    func materialize<Scalar: BLASScalar>(store: Store, as type: Scalar.Type) throws -> BlockDiagonalMatrix<Scalar> {
        if case .memory(let matrix) = origin { return matrix.typed(type) }
        try MemoryBudget.require(bytes, for: "the whole matrix in memory")
        try requireBlocksFit(for: "this operation")
        let blocks = try collection.entries.indices.map { try block(at: $0, store: store, as: type) }
        return try BlockDiagonalMatrix(collection: collection, blocks: blocks)
    }

    func materialize(store: Store) throws -> AnyBlockDiagonalMatrix {
        switch dtype {
        case .float32: .float32(try materialize(store: store, as: Float.self))
        case .float64: .float64(try materialize(store: store, as: Double.self))
        }
    }

    /// The same matrix restricted to layers `subset` (identical layers of this one).
    func restricted(to subset: LayerCollection, store: Store) throws -> MatrixValue {
        if subset == collection { return self }
        if let forms = try structuredForm(store: store) {
            return MatrixValue(origin: .structured(try forms.restricted(to: subset)), collection: subset, collectionName: nil,
                               dtype: dtype, isSymmetric: isSymmetric)
        }
        let matrix = try materialize(store: store)
        let restricted: AnyBlockDiagonalMatrix = switch matrix {
        case .float32(let m): .float32(try m.restricted(to: subset))
        case .float64(let m): .float64(try m.restricted(to: subset))
        }
        return MatrixValue(origin: .memory(restricted), collection: subset, collectionName: nil, dtype: dtype, isSymmetric: isSymmetric)
    }

    /// `s` when this matrix is `s I`: an identity, or multiples, sums,
    /// products and inverses of identities. Operations on it then never
    /// build a block (`vtmv(identity(resnet18), g)` built 10.7 GB blocks).
    /// A non-finite scale is left to the block path: its zeros times inf are NaN.
    var scaledIdentity: Double? {
        identityScale.flatMap { $0.isFinite ? $0 : nil }
    }

    private var identityScale: Double? {
        switch origin {
        case .source(.identity(let scale)): return scale
        case .scaled(let a, let alpha): return a.scaledIdentity.map { $0 * alpha }
        case .sum(let a, let b, let alpha):
            guard let x = a.scaledIdentity, let y = b.scaledIdentity else { return nil }
            return x + alpha * y
        case .product(let a, let b):
            guard let x = a.scaledIdentity, let y = b.scaledIdentity else { return nil }
            return x * y
        case .inverse(let a, let regularization):
            // A singular sum is left to the block path, which reports it.
            guard let x = a.scaledIdentity, x + regularization != 0 else { return nil }
            return 1 / (x + regularization)
        case .stored, .storedForms, .structured, .transformedForms, .memory, .source, .passes: return nil
        }
    }

    /// This matrix as blocks in forms, when it is exactly that: stored or
    /// in-memory forms, their multiples, exact inverses, products and sums
    /// where a form is closed (kfac + s I is ekfac), sums with the identity.
    /// Nil otherwise (dense stored or generated matrices stream as before;
    /// kfac + kfac stays lazy and is split by linearity).
    func structuredForm(store: Store) throws -> StructuredMatrix? {
        switch origin {
        case .structured(let forms): return forms
        case .storedForms(let name): return try store.loadStructured(named: name)
        case .transformedForms(let name, let transform): return try store.loadTransformedForms(name, transform.apply)
        case .scaled(let a, let alpha): return try a.structuredForm(store: store)?.scaled(by: alpha)
        case .inverse(let a, let regularization): return try a.structuredForm(store: store)?.inverse(regularization: regularization)
        case .sum(let a, let b, let alpha):
            if let x = try a.structuredForm(store: store) {
                if let s = b.scaledIdentity { return try x.addingIdentity(alpha * s) }
                if let y = try b.structuredForm(store: store) { return try x.adding(y, scaledBy: alpha) }
            } else if let s = a.scaledIdentity, let y = try b.structuredForm(store: store) {
                return try y.scaled(by: alpha).addingIdentity(s)
            }
            return nil
        case .product(let a, let b):
            if let x = try a.structuredForm(store: store) {
                if let s = b.scaledIdentity { return try x.scaled(by: s) }
                if let y = try b.structuredForm(store: store) { return try x.multiplying(y) }
            } else if let s = a.scaledIdentity, let y = try b.structuredForm(store: store) {
                return try y.scaled(by: s)
            }
            return nil
        case .stored, .memory, .source, .passes: return nil
        }
    }

    /// True for values whose blocks have forms (they are never streamed as dense tiles).
    var hasForms: Bool {
        switch origin {
        case .storedForms, .structured, .transformedForms: true
        case .scaled(let a, _), .inverse(let a, _): a.hasForms
        case .sum(let a, let b, _), .product(let a, let b): a.hasForms || b.hasForms
        case .stored, .memory, .source, .passes: false
        }
    }

    /// Operations between this matrix and its stored or generated operands.
    var depth: Int {
        switch origin {
        case .stored, .storedForms, .structured, .transformedForms, .memory, .source, .passes: 0
        case .inverse(let a, _), .scaled(let a, _): a.depth + 1
        case .product(let a, let b), .sum(let a, let b, _): max(a.depth, b.depth) + 1
        }
    }

    /// How many whole blocks of one layer computing a block of this matrix
    /// holds at once (the result included).
    private var blocksHeld: Int {
        switch origin {
        case .stored, .storedForms, .structured, .transformedForms, .source, .passes: 1
        case .memory: 0
        case .inverse(let a, _), .scaled(let a, _): a.blocksHeld + 1
        case .product(let a, let b), .sum(let a, let b, _): a.blocksHeld + b.blocksHeld + 1
        }
    }

    /// Refuses, before any work starts, an operation that would build whole
    /// blocks memory cannot hold: the largest block, times the blocks held at once.
    func requireBlocksFit(for what: String) throws {
        guard scaledIdentity == nil,
              let largest = collection.entries.max(by: { $0.layer.numel < $1.layer.numel }) else { return }
        let side = Double(largest.layer.numel)
        let bytes = side * side * 8 * Double(max(1, blocksHeld))
        try MemoryBudget.require(bytes, for: "\(what) builds whole blocks; the largest, layer '\(largest.name)' (\(largest.layer.numel) x \(largest.layer.numel)),",
                                 advice: "; store the matrix with let (stored matrices are processed tile by tile) or use a smaller collection")
    }

    /// Bytes of block data.
    var bytes: Double {
        collection.entries.reduce(0.0) { $0 + Double($1.layer.numel) * Double($1.layer.numel) } * Double(dtype.size)
    }
}
