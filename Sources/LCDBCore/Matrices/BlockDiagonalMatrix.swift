import Foundation

/// A block-diagonal matrix over a layer collection (NNGeometry's
/// PMatBlockDiag): one dense `numel x numel` block per layer, row-major, in
/// the collection's order. Parameters of different layers do not interact.
///
/// Numerical contract (all blocks independent, run by `BlockScheduler`):
/// - product (mv): `gemv` per block. quadraticForm (vTMv): `gemv` then `dot`.
/// - matrixProduct (mm): `gemm` per block.
/// - trace, diagonal: read the diagonal; frobeniusNorm: `nrm2` over each block.
/// - adding, subtracting, scaled: `axpy` / `scal` over each block.
/// - solve and inverse of M + regularization * I: Cholesky (`PanelCholesky`,
///   then `potrs` or its panel inverse) when the block is exactly symmetric and positive
///   definite, LU with partial pivoting (`getrf`, then `getrs` or `getri`)
///   otherwise; an exactly singular block or a non-finite result is an error
///   naming the layer.
/// Scalar results (trace, norms, vTMv) are summed over blocks in Double.
public struct BlockDiagonalMatrix<Scalar: BLASScalar>: Equatable, Sendable {
    public let collection: LayerCollection
    /// `blocks[i]` is layer i's block, `numel * numel` values, row-major.
    public internal(set) var blocks: [[Scalar]]
    /// True when every block is exactly symmetric (Fisher and Hessian blocks
    /// are). Checked once for blocks from outside, then kept by the operations
    /// that preserve it; products then use `symv`, which reads half of each block.
    public internal(set) var isSymmetric: Bool

    /// Wraps blocks; each must hold numel^2 values of its layer.
    public init(collection: LayerCollection, blocks: [[Scalar]]) throws {
        guard blocks.count == collection.count else {
            throw CoreError(.invalidSize, "the collection has \(collection.count) layers but \(blocks.count) blocks were given")
        }
        for (index, entry) in collection.entries.enumerated() {
            let side = try BlockDiagonalMatrix.side(of: entry)
            guard blocks[index].count == side * side else {
                throw CoreError(.invalidSize,
                                "block '\(entry.name)' needs \(side) x \(side) = \(side * side) values, got \(blocks[index].count)")
            }
        }
        self.collection = collection
        self.blocks = blocks
        isSymmetric = zip(blocks, collection.entries).allSatisfy {
            BlockDiagonalMatrix.isExactlySymmetric($0, side: $1.layer.numel)
        }
    }

    init(unchecked collection: LayerCollection, blocks: [[Scalar]], symmetric: Bool) {
        self.collection = collection
        self.blocks = blocks
        isSymmetric = symmetric
    }

    /// True when `block[i][j]` and `block[j][i]` are the same value bit for bit
    /// for all i, j: a symmetric block is stored as one triangle and mirrored
    /// back, so 0 against -0 (equal under ==) must count as a difference.
    /// NaNs count as the same when their bits are.
    static func isExactlySymmetric(_ block: [Scalar], side: Int) -> Bool {
        block.withUnsafeBufferPointer { values in
            for row in 0 ..< side {
                for column in (row + 1) ..< max(row + 1, side)
                where !identical(values[row * side + column], values[column * side + row]) {
                    return false
                }
            }
            return true
        }
    }

    @inline(__always)
    static func identical(_ a: Scalar, _ b: Scalar) -> Bool {
        if a == b { return a.sign == b.sign }
        return a.isNaN && b.isNaN && a.sign == b.sign && a.significandBitPattern == b.significandBitPattern
    }

    /// A block's side, checked against BLAS's 32-bit sizes and 64-bit element
    /// counts, and against memory: call it before allocating a whole block.
    public static func side(of entry: LayerCollection.Entry) throws -> Int {
        let side = entry.layer.numel
        guard side <= Int(Int32.max), !side.multipliedReportingOverflow(by: side).overflow else {
            throw CoreError(.tooLarge, "layer '\(entry.name)' has \(side) parameters: its block is too large for BLAS")
        }
        let bytes = Double(side) * Double(side) * Double(MemoryLayout<Scalar>.size)
        try MemoryBudget.require(bytes, for: "block '\(entry.name)' (\(side) x \(side))",
                                 advice: "; store it in a database file, where it is processed tile by tile")
        return side
    }

    /// `scale` times the identity.
    public static func identity(over collection: LayerCollection, scale: Scalar = 1) throws -> BlockDiagonalMatrix {
        try materialize(.identity(scale: Double(scale)), over: collection)
    }

    /// Seeded random symmetric positive-definite blocks (see `BlockSource.randomSPD`).
    public static func randomSPD(over collection: LayerCollection, seed: UInt64) throws -> BlockDiagonalMatrix {
        try materialize(BlockSource.randomSPD(seed: seed), over: collection)
    }

    /// Builds every block from a source, row panel by row panel.
    public static func materialize(_ source: BlockSource, over collection: LayerCollection) throws -> BlockDiagonalMatrix {
        var blocks: [[Scalar]] = []
        for (index, entry) in collection.entries.enumerated() {
            let side = try side(of: entry)
            var block = [Scalar](repeating: 0, count: side * side)
            if side > 0 {
                block.withUnsafeMutableBufferPointer {
                    source.fill(block: index, side: side, rows: 0 ..< side, into: $0.baseAddress!)
                }
            }
            blocks.append(block)
        }
        return BlockDiagonalMatrix(unchecked: collection, blocks: blocks, symmetric: source.isSymmetric)
    }

    public var dtype: DType { Scalar.dtype }

    /// Bytes of block data.
    public var byteCount: Int { blocks.reduce(0) { $0 + $1.count } * MemoryLayout<Scalar>.size }

    /// One layer's block as an `n x n` tensor.
    public func block(of layerName: String) throws -> Tensor<Scalar> {
        let position = try collection.requirePosition(of: layerName)
        let side = collection.entries[position].layer.numel
        return Tensor(shape: [side, side], values: blocks[position])
    }

    /// The same values in another precision.
    public func converted<Other: BLASScalar>(to _: Other.Type = Other.self) -> BlockDiagonalMatrix<Other> {
        BlockDiagonalMatrix<Other>(unchecked: collection, blocks: blocks.map { $0.map { Other($0) } }, symmetric: isSymmetric)
    }

    /// The blocks of the layers of `subset`, which must be identical layers of this matrix.
    public func restricted(to subset: LayerCollection) throws -> BlockDiagonalMatrix {
        let picked = try subset.entries.map { entry -> [Scalar] in
            let position = try collection.requirePosition(of: entry.name)
            guard collection.entries[position].layer == entry.layer else {
                throw CoreError(.mismatchedCollections,
                                "layer '\(entry.name)' is \(collection.entries[position].layer) here, not \(entry.layer)")
            }
            return blocks[position]
        }
        return BlockDiagonalMatrix(unchecked: subset, blocks: picked, symmetric: isSymmetric)
    }

    /// The whole matrix as one dense row-major `numel x numel` array, zeros
    /// off the blocks. For small collections: more than `maxElements` is an error.
    public func dense(maxElements: Int = 1 << 26) throws -> [Scalar] {
        let n = collection.numel
        let (elements, overflow) = n.multipliedReportingOverflow(by: n)
        guard !overflow, elements <= maxElements else {
            throw CoreError(.tooLarge, "a dense export of \(n) x \(n) is over the limit of \(maxElements) elements")
        }
        var result = [Scalar](repeating: 0, count: elements)
        for index in blocks.indices {
            let offset = collection.offsets[index]
            let side = collection.entries[index].layer.numel
            for row in 0 ..< side {
                let target = (offset + row) * n + offset
                result.replaceSubrange(target ..< target + side, with: blocks[index][row * side ..< (row + 1) * side])
            }
        }
        return result
    }
}
