/// An eigenvalue-corrected Kronecker block (NNGeometry's `PMatEKFAC`):
/// `V -> U_L [(U_Lᵀ V U_R) ⊙ D] U_Rᵀ`, with orthonormal eigenbases `U_L`,
/// `U_R` (`U_G`, `U_A` for Linear and Conv; `U_A`, `U_G` for Embedding) and a
/// scaling `D` of `V`'s shape. Parts `U_A`, `U_G` (dense, or 1-D: a diagonal
/// of ±1) and `D`.
public struct EKFACForm: BlockForm {
    public static let kind = FormKind.ekfac
    public static let partNames = ["D", "U_A", "U_G"]
    public let geometry: KroneckerGeometry
    public let leftBasis: KroneckerFactor
    public let rightBasis: KroneckerFactor
    public let scaling: Matrix64

    public init(geometry: KroneckerGeometry, leftBasis: KroneckerFactor, rightBasis: KroneckerFactor, scaling: Matrix64) {
        self.geometry = geometry
        self.leftBasis = leftBasis
        self.rightBasis = rightBasis
        self.scaling = scaling
    }

    public init(parts: [String: FormPart], layer: Layer, name: String, validate: Bool = true) throws(CoreError) {
        geometry = try KroneckerGeometry(layer, name: name)
        let (rows, columns) = (geometry.rows, geometry.columns)
        let leftPart = try BlockForms.part("U_" + geometry.leftName, in: parts, layer: name, shapes: [[rows], [rows, rows]])
        let rightPart = try BlockForms.part("U_" + geometry.rightName, in: parts, layer: name, shapes: [[columns], [columns, columns]])
        let scalingPart = try BlockForms.part("D", in: parts, layer: name, shapes: [[rows, columns]])
        try BlockForms.requireFinite(scalingPart, layer: name)
        leftBasis = KroneckerFactor(shape: leftPart.shape, values: leftPart.values)
        rightBasis = KroneckerFactor(shape: rightPart.shape, values: rightPart.values)
        scaling = Matrix64(rows: rows, columns: columns, values: scalingPart.values)
        if validate {
            try leftBasis.requireOrthonormal("layer '\(name)': eigenbasis U_\(geometry.leftName)")
            try rightBasis.requireOrthonormal("layer '\(name)': eigenbasis U_\(geometry.rightName)")
        }
    }

    public var side: Int { geometry.side }

    public var parts: [FormPart] {
        [FormPart("D", shape: [geometry.rows, geometry.columns], values: scaling.values)]
            + [("U_" + geometry.leftName, leftBasis), ("U_" + geometry.rightName, rightBasis)]
            .sorted { $0.0 < $1.0 }
            .map { FormPart($0.0, shape: $0.1.shape, values: $0.1.values) }
    }

    /// U_Lᵀ V U_R: `V` in the eigenbasis.
    private func rotatedIn(_ x: [Double]) -> Matrix64 {
        leftBasis.timesLeft(rightBasis.timesRight(geometry.matrix(x)), transposed: true)
    }

    /// U_L Z U_Rᵀ, flattened.
    private func rotatedOut(_ z: Matrix64) -> [Double] {
        geometry.flattened(leftBasis.timesLeft(rightBasis.timesRight(z, transposed: true)))
    }

    public func product(_ x: [Double]) -> [Double] {
        var z = rotatedIn(x)
        for k in z.values.indices { z.values[k] *= scaling.values[k] }
        return rotatedOut(z)
    }

    /// From stored parts in buffers, without building the form (copies of
    /// D and the bases) or V's rotated copies: `U_Lᵀ V U_R` into the output,
    /// scaled by D there, then `U_L Z U_Rᵀ` over it in place
    /// (`KroneckerProduct` reads all of its input before writing).
    public static func product(parts: [String: PartBuffer], layer: Layer, name: String, _ x: UnsafeBufferPointer<Double>,
                               into output: UnsafeMutableBufferPointer<Double>, scratch: ProductScratch) throws(CoreError) {
        let geometry = try KroneckerGeometry(layer, name: name)
        let (rows, columns, weightColumns) = (geometry.rows, geometry.columns, geometry.weightColumns)
        func basis(_ side: String, size: Int) throws(CoreError) -> (plain: KroneckerProduct.Factor, transposed: KroneckerProduct.Factor) {
            guard let part = parts["U_" + side], part.shape == [size] || part.shape == [size, size] else {
                throw CoreError(.invalidArgument, "layer '\(name)': eigenbasis U_\(side) is missing or not \(size) x \(size)")
            }
            return views(of: part)
        }
        let left = try basis(geometry.leftName, size: rows), right = try basis(geometry.rightName, size: columns)
        guard let d = parts["D"], d.shape == [rows, columns] else {
            throw CoreError(.invalidArgument, "layer '\(name)': its scaling D is missing or not \(rows) x \(columns)")
        }
        let out = output.baseAddress!
        KroneckerProduct.apply(geometry, left: left.transposed, right: right.plain, x.baseAddress!, into: out, scratch: scratch)
        // ⊙ D, D laid out as V (a bias column last) and the output as the layer's values.
        for i in 0 ..< rows {
            for j in 0 ..< weightColumns { out[i * weightColumns + j] *= d.values[i * columns + j] }
            if geometry.biasColumn { out[rows * weightColumns + i] *= d.values[i * columns + weightColumns] }
        }
        KroneckerProduct.apply(geometry, left: left.plain, right: right.transposed, UnsafePointer(out), into: out, scratch: scratch)
    }

    /// A stored eigenbasis as the products read it and its transpose: a
    /// 1-D basis is a diagonal of ±1, and one kept as a triangle is
    /// symmetric, each its own transpose.
    private static func views(of part: PartBuffer) -> (plain: KroneckerProduct.Factor, transposed: KroneckerProduct.Factor) {
        if part.shape.count == 1 { return (.diagonal(part.values), .diagonal(part.values)) }
        if part.upperOnly { return (.symmetric(part.values), .symmetric(part.values)) }
        return (.general(part.values), .transposed(part.values))
    }

    /// A row of V when the left eigenbasis is diagonal (1-D: an
    /// Embedding's, A being diagonal) and V has no bias column.
    public static func segmentLength(partShapes: [String: [Int]], layer: Layer) -> Int? {
        guard let geometry = try? KroneckerGeometry(layer, name: ""), !geometry.biasColumn,
              partShapes["U_" + geometry.leftName] == [geometry.rows] else { return nil }
        return geometry.columns
    }

    /// D's rows and the diagonal basis's values.
    public static func segmentedParts(partShapes: [String: [Int]], layer: Layer) -> Set<String> {
        guard segmentLength(partShapes: partShapes, layer: layer) != nil, let geometry = try? KroneckerGeometry(layer, name: "") else { return [] }
        return ["D", "U_" + geometry.leftName]
    }

    /// Rows `values / columns` of V: `u_i² ((v_i U_R) ⊙ d_i) U_Rᵀ` for each,
    /// with D's rows and the basis's values for those rows only.
    public static func product(parts: [String: PartBuffer], layer: Layer, name: String, values: Range<Int>,
                               _ x: UnsafeBufferPointer<Double>, into output: UnsafeMutableBufferPointer<Double>,
                               scratch: ProductScratch) throws(CoreError) {
        let geometry = try KroneckerGeometry(layer, name: name)
        let columns = geometry.columns, rows = values.count / max(1, geometry.columns)
        guard !geometry.biasColumn, values.lowerBound % columns == 0, values.count % columns == 0, values.upperBound <= geometry.side,
              let left = parts["U_" + geometry.leftName], left.shape == [rows], let d = parts["D"], d.shape == [rows, columns],
              let right = parts["U_" + geometry.rightName], right.shape == [columns] || right.shape == [columns, columns] else {
            throw CoreError(.invalidArgument, "layer '\(name)': values \(values) are not whole rows of an ekfac block with a diagonal U_\(geometry.leftName) and D given for them")
        }
        let (plain, transposed) = views(of: right)
        let out = output.baseAddress!
        KroneckerProduct.rowwise(left.values, rows: rows, columns: columns, right: plain, x.baseAddress!, into: out, scratch: scratch,
                                 chunkBytes: 4 << 20)
        for k in 0 ..< rows * columns { out[k] *= d.values[k] }
        KroneckerProduct.rowwise(left.values, rows: rows, columns: columns, right: transposed, UnsafePointer(out), into: out,
                                 scratch: scratch, chunkBytes: 4 << 20)
    }

    public func trace() -> Double { scaling.values.reduce(0, +) }
    public func frobeniusNorm() -> Double { scaling.frobeniusNorm }

    /// diag = (U_L ∘ U_L) D (U_R ∘ U_R)ᵀ.
    public func diagonal() -> [Double] {
        func squared(_ f: KroneckerFactor) -> KroneckerFactor {
            switch f {
            case .dense(let m): .dense(Matrix64(rows: m.rows, columns: m.columns, values: m.values.map { $0 * $0 }))
            case .diagonal(let d): .diagonal(d.map { $0 * $0 })
            }
        }
        return geometry.flattened(squared(leftBasis).timesLeft(squared(rightBasis).timesRight(scaling, transposed: true)))
    }

    public func scaled(by alpha: Double) -> any BlockForm {
        EKFACForm(geometry: geometry, leftBasis: leftBasis, rightBasis: rightBasis,
                  scaling: Matrix64(rows: scaling.rows, columns: scaling.columns, values: scaling.values.map { $0 * alpha }))
    }

    public func solve(_ x: [Double], regularization: Double, layer: String) throws(CoreError) -> [Double] {
        try requireDampable(regularization, layer)
        // Divided in place: no damped copy of D (GPT-2's wte: 309 MB).
        var z = rotatedIn(x)
        for k in z.values.indices { z.values[k] /= scaling.values[k] + regularization }
        return rotatedOut(z)
    }

    public func inverse(regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        let damped = try dampedScaling(regularization, layer)
        return EKFACForm(geometry: geometry, leftBasis: leftBasis, rightBasis: rightBasis,
                         scaling: Matrix64(rows: scaling.rows, columns: scaling.columns, values: damped.map { 1 / $0 }))
    }

    private func dampedScaling(_ regularization: Double, _ layer: String) throws(CoreError) -> [Double] {
        try requireDampable(regularization, layer)
        return scaling.values.map { $0 + regularization }
    }

    /// D finite and D + regularization nowhere zero, else the error naming `layer`.
    private func requireDampable(_ regularization: Double, _ layer: String) throws(CoreError) {
        if let bad = scaling.values.first(where: { !$0.isFinite }) { throw BlockForms.notFinite(layer, bad) }
        if let zero = scaling.values.firstIndex(where: { $0 + regularization == 0 }) {
            throw BlockForms.singular(layer, regularization, detail: "eigenvalue \(zero) of the block plus regul is zero")
        }
    }

    public func dense() -> Matrix64 { denseByColumns() }

    /// ekfac + s I shifts D; two ekfac blocks with the same eigenbases add their D.
    public func plus(_ other: any BlockForm, scaledBy alpha: Double) -> (any BlockForm)? {
        switch other {
        case let other as IdentityForm:
            return withScaling(scaling.values.map { $0 + alpha * other.scale })
        case let other as EKFACForm where other.leftBasis == leftBasis && other.rightBasis == rightBasis:
            return withScaling(zip(scaling.values, other.scaling.values).map { $0 + alpha * $1 })
        case is DenseForm:
            return densePlus(other, scaledBy: alpha)
        default:
            return nil
        }
    }

    public func times(_ other: any BlockForm) -> (any BlockForm)? {
        switch other {
        case let other as EKFACForm where other.leftBasis == leftBasis && other.rightBasis == rightBasis:
            return withScaling(zip(scaling.values, other.scaling.values).map { $0 * $1 })
        case let other as IdentityForm: return scaled(by: other.scale)
        case let other as DenseForm: return DenseForm(block: Matrix64.product(dense(), other.block))
        default: return nil
        }
    }

    /// The eigenvalues are D's entries (the bases are orthonormal).
    public func spectrum(layer: String) throws(CoreError) -> BlockSpectrum { .values(scaling.values) }

    public static var spectrumParts: [String]? { ["D"] }

    public static func spectrum(parts: [String: FormPart], layer: Layer, name: String) throws(CoreError) -> BlockSpectrum {
        let geometry = try KroneckerGeometry(layer, name: name)
        let part = try BlockForms.part("D", in: parts, layer: name, shapes: [[geometry.rows, geometry.columns]])
        try BlockForms.requireFinite(part, layer: name)
        return .values(part.values)
    }

    public func power(_ exponent: Double, regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        let f = try EigenvalueFunction(exponent: exponent, regularization: regularization, layer: layer, spectrum: .values(scaling.values))
        return withScaling(try f.map(scaling.values))
    }

    private func withScaling(_ values: [Double]) -> EKFACForm {
        EKFACForm(geometry: geometry, leftBasis: leftBasis, rightBasis: rightBasis,
                  scaling: Matrix64(rows: scaling.rows, columns: scaling.columns, values: values))
    }
}
