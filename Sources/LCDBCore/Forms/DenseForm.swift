/// An explicit `side x side` block held in memory (part `block`): the form of
/// the small blocks of a mixed matrix (norm layers beside KFAC layers), and
/// what any form converts to. Large dense blocks stay in the store, tile by
/// tile, and are never made into this.
public struct DenseForm: BlockForm {
    public static let kind = FormKind.dense
    public static let partNames = ["block"]
    public let block: Matrix64

    public init(block: Matrix64) { self.block = block }

    public init(parts: [String: FormPart], layer: Layer, name: String, validate: Bool = true) throws(CoreError) {
        let part = try BlockForms.part("block", in: parts, layer: name, shapes: [[layer.numel, layer.numel]])
        block = Matrix64(rows: layer.numel, columns: layer.numel, values: part.values)
    }

    public var side: Int { block.rows }
    public var parts: [FormPart] { [FormPart("block", shape: [side, side], values: block.values)] }

    public func product(_ x: [Double]) -> [Double] {
        Matrix64.product(block, Matrix64(rows: side, columns: 1, values: x)).values
    }

    public func trace() -> Double { block.trace }
    public func frobeniusNorm() -> Double { block.frobeniusNorm }
    public func diagonal() -> [Double] { block.diagonal }
    public func scaled(by alpha: Double) -> any BlockForm {
        DenseForm(block: Matrix64(rows: side, columns: side, values: block.values.map { $0 * alpha }))
    }

    public func solve(_ x: [Double], regularization: Double, layer: String) throws(CoreError) -> [Double] {
        var factor = BlockFactorization(block: block.values, side: side, regularization: regularization)
        var result = x
        try result.withUnsafeMutableBufferPointer { (buffer: inout UnsafeMutableBufferPointer<Double>) throws(CoreError) in
            try factor.solve(buffer.baseAddress!, layer: layer)
        }
        return result
    }

    public func inverse(regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        var factor = BlockFactorization(block: block.values, side: side, regularization: regularization)
        let symmetric = BlockDiagonalMatrix<Double>.isExactlySymmetric(block.values, side: side)
        return DenseForm(block: Matrix64(rows: side, columns: side, values: try factor.inverse(layer: layer, symmetrize: symmetric)))
    }

    public func dense() -> Matrix64 { block }

    public func plus(_ other: any BlockForm, scaledBy alpha: Double) -> (any BlockForm)? { densePlus(other, scaledBy: alpha) }

    public func times(_ other: any BlockForm) -> (any BlockForm)? {
        DenseForm(block: Matrix64.product(block, other.dense()))
    }
}
