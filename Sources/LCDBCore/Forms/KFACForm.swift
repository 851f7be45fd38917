/// A Kronecker-factored block (NNGeometry's `PMatKFAC`, laplace-torch's
/// `Kron`): `V -> L V R` on the layer's matrix `V` (`KroneckerGeometry`),
/// with `L = G`, `R = A` for Linear and Conv, `L = A`, `R = G` for Embedding.
/// Parts `A` and `G`, each dense (2-D) or diagonal (1-D); both symmetric.
public struct KFACForm: BlockForm {
    public static let kind = FormKind.kfac
    public static let partNames = ["A", "G"]
    public let geometry: KroneckerGeometry
    public let left: KroneckerFactor
    public let right: KroneckerFactor

    public init(geometry: KroneckerGeometry, left: KroneckerFactor, right: KroneckerFactor) {
        self.geometry = geometry
        self.left = left
        self.right = right
    }

    public init(parts: [String: FormPart], layer: Layer, name: String, validate: Bool = true) throws(CoreError) {
        geometry = try KroneckerGeometry(layer, name: name)
        let (rows, columns) = (geometry.rows, geometry.columns)
        let leftPart = try BlockForms.part(geometry.leftName, in: parts, layer: name, shapes: [[rows], [rows, rows]])
        let rightPart = try BlockForms.part(geometry.rightName, in: parts, layer: name, shapes: [[columns], [columns, columns]])
        left = KroneckerFactor(shape: leftPart.shape, values: leftPart.values)
        right = KroneckerFactor(shape: rightPart.shape, values: rightPart.values)
        // Checked when the factors enter lcdb (import, save): a stored dense
        // factor keeps one triangle, so it is symmetric when read back.
        if validate {
            try left.requireSymmetricFinite("layer '\(name)': factor \(geometry.leftName)")
            try right.requireSymmetricFinite("layer '\(name)': factor \(geometry.rightName)")
        }
    }

    public var side: Int { geometry.side }

    public var parts: [FormPart] {
        [(geometry.leftName, left), (geometry.rightName, right)]
            .sorted { $0.0 < $1.0 }
            .map { FormPart($0.0, shape: $0.1.shape, values: $0.1.values) }
    }

    public func product(_ x: [Double]) -> [Double] {
        var y: [Double] = HugePages.array(count: side, zeroed: false)
        left.values.withUnsafeBufferPointer { l in
            right.values.withUnsafeBufferPointer { r in
                x.withUnsafeBufferPointer { input in
                    y.withUnsafeMutableBufferPointer { output in
                        // In memory a factor may be any square matrix (a kfac x kfac product's is G G').
                        func view(_ factor: KroneckerFactor, _ values: UnsafeBufferPointer<Double>) -> KroneckerProduct.Factor {
                            factor.isDiagonal ? .diagonal(values.baseAddress!) : .general(values.baseAddress!)
                        }
                        KroneckerProduct.apply(geometry, left: view(left, l), right: view(right, r),
                                               input.baseAddress!, into: output.baseAddress!, scratch: ProductScratch())
                    }
                }
            }
        }
        return y
    }

    /// From stored factors in buffers: a factor kept as one triangle is
    /// multiplied as symmetric (`dsymm`), without mirroring it.
    public static func product(parts: [String: PartBuffer], layer: Layer, name: String, _ x: UnsafeBufferPointer<Double>,
                               into output: UnsafeMutableBufferPointer<Double>, scratch: ProductScratch) throws(CoreError) {
        let geometry = try KroneckerGeometry(layer, name: name)
        let left = try factor(parts, geometry.leftName, size: geometry.rows, layer: name)
        let right = try factor(parts, geometry.rightName, size: geometry.columns, layer: name)
        KroneckerProduct.apply(geometry, left: left, right: right, x.baseAddress!, into: output.baseAddress!, scratch: scratch)
    }

    /// A stored factor as the product reads it.
    private static func factor(_ parts: [String: PartBuffer], _ partName: String, size: Int,
                               layer name: String) throws(CoreError) -> KroneckerProduct.Factor {
        guard let part = parts[partName], part.shape == [size] || part.shape == [size, size] else {
            throw CoreError(.invalidArgument, "layer '\(name)': factor \(partName) is missing or not \(size) x \(size)")
        }
        return part.shape.count == 1 ? .diagonal(part.values) : part.upperOnly ? .symmetric(part.values) : .general(part.values)
    }

    /// A row of V when the left factor is diagonal and V has no bias
    /// column (an Embedding: A is diagonal, its inputs one-hot): row i of
    /// M x is `d_i` times row i of V, times R.
    public static func segmentLength(partShapes: [String: [Int]], layer: Layer) -> Int? {
        guard let geometry = try? KroneckerGeometry(layer, name: ""), !geometry.biasColumn,
              partShapes[geometry.leftName] == [geometry.rows] else { return nil }
        return geometry.columns
    }

    /// The diagonal left factor: one value per row of V.
    public static func segmentedParts(partShapes: [String: [Int]], layer: Layer) -> Set<String> {
        guard segmentLength(partShapes: partShapes, layer: layer) != nil, let geometry = try? KroneckerGeometry(layer, name: "") else { return [] }
        return [geometry.leftName]
    }

    /// Rows `values / columns` of V, from stored factors in buffers (the
    /// left factor's values for those rows only).
    public static func product(parts: [String: PartBuffer], layer: Layer, name: String, values: Range<Int>,
                               _ x: UnsafeBufferPointer<Double>, into output: UnsafeMutableBufferPointer<Double>,
                               scratch: ProductScratch) throws(CoreError) {
        let geometry = try KroneckerGeometry(layer, name: name)
        let rows = values.count / geometry.columns
        guard !geometry.biasColumn, values.lowerBound % geometry.columns == 0, values.count % geometry.columns == 0,
              values.upperBound <= geometry.side, let left = parts[geometry.leftName], left.shape == [rows] else {
            throw CoreError(.invalidArgument, "layer '\(name)': values \(values) are not whole rows of a kfac block with a diagonal \(geometry.leftName) given for them")
        }
        let right = try factor(parts, geometry.rightName, size: geometry.columns, layer: name)
        KroneckerProduct.rowwise(left.values, rows: rows, columns: geometry.columns, right: right, x.baseAddress!,
                                 into: output.baseAddress!, scratch: scratch, chunkBytes: 4 << 20)
    }

    /// tr(G ⊗ A) = tr(A) tr(G).
    public func trace() -> Double { left.trace * right.trace }
    public func frobeniusNorm() -> Double { left.frobeniusNorm * right.frobeniusNorm }

    public func diagonal() -> [Double] {
        let l = left.diagonalValues, r = right.diagonalValues
        var d = Matrix64(zeros: geometry.rows, geometry.columns)
        for i in 0 ..< geometry.rows { for j in 0 ..< geometry.columns { d[i, j] = l[i] * r[j] } }
        return geometry.flattened(d)
    }

    public func scaled(by alpha: Double) -> any BlockForm {
        KFACForm(geometry: geometry, left: left.scaled(by: alpha), right: right)
    }

    /// Exact damping: (L ⊗ R + λ I)^-1 through both factors' eigendecompositions.
    public func solve(_ x: [Double], regularization: Double, layer: String) throws(CoreError) -> [Double] {
        guard case .diagonal(let d) = left else {
            return try eigenform(layer: layer).solve(x, regularization: regularization, layer: layer)
        }
        return try solveByRows(x, d, regularization: regularization, layer: layer)
    }

    /// A diagonal L (an Embedding's A) is its own eigenbasis, so each row of
    /// V is solved alone, `v_i U_R diag(1 / (l_i λ_R + λ)) U_Rᵀ`, a few MB of
    /// rows at a time: no D, nor rotated copies of V (GPT-2's wte: 309 MB
    /// each). The same products as through ekfac, and the same errors.
    private func solveByRows(_ x: [Double], _ d: [Double], regularization: Double, layer: String) throws(CoreError) -> [Double] {
        let (rightValues, rightBasis) = try right.eigen()
        let (rows, columns) = (geometry.rows, geometry.columns)
        // ekfac's checks in its order: D = l ⊗ λ_R finite, then D + λ nowhere zero.
        func scaling(_ i: Int, _ j: Int) -> Double { d[i] * rightValues[j] }
        for i in 0 ..< rows { for j in 0 ..< columns where !scaling(i, j).isFinite { throw BlockForms.notFinite(layer, scaling(i, j)) } }
        for i in 0 ..< rows { for j in 0 ..< columns where scaling(i, j) + regularization == 0 {
            throw BlockForms.singular(layer, regularization, detail: "eigenvalue \(i * columns + j) of the block plus regul is zero")
        } }
        var y = [Double](repeating: 0, count: side)
        let step = max(1, min(rows, (4 << 20) / (columns * MemoryLayout<Double>.stride)))
        x.withUnsafeBufferPointer { input in
            y.withUnsafeMutableBufferPointer { output in
                for first in stride(from: 0, to: rows, by: step) {
                    let range = first ..< min(rows, first + step)
                    var z = rightBasis.timesRight(geometry.matrix(input, rows: range))
                    for i in 0 ..< range.count { for j in 0 ..< columns { z.values[i * columns + j] /= scaling(first + i, j) + regularization } }
                    geometry.place(rightBasis.timesRight(z, transposed: true), rows: range, into: output)
                }
            }
        }
        return y
    }

    /// Exact: an ekfac block with D = 1 / (λ_L,i λ_R,j + regularization).
    public func inverse(regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        try eigenform(layer: layer).inverse(regularization: regularization, layer: layer)
    }

    /// The same block as ekfac: the factors' eigenbases, D = λ_L ⊗ λ_R.
    public func eigenform(layer: String) throws(CoreError) -> EKFACForm {
        let (leftValues, leftBasis) = try left.eigen()
        let (rightValues, rightBasis) = try right.eigen()
        var d = Matrix64(zeros: geometry.rows, geometry.columns)
        for i in 0 ..< geometry.rows { for j in 0 ..< geometry.columns { d[i, j] = leftValues[i] * rightValues[j] } }
        return EKFACForm(geometry: geometry, leftBasis: leftBasis, rightBasis: rightBasis, scaling: d)
    }

    /// The products λ_L,i λ_R,j, kept as the two lists (eigenvalues only).
    public func spectrum(layer: String) throws(CoreError) -> BlockSpectrum {
        .kronecker(try left.eigenvalues(), try right.eigenvalues())
    }

    /// As ekfac: D = (λ_L ⊗ λ_R + regul)^exponent.
    public func power(_ exponent: Double, regularization: Double, layer: String) throws(CoreError) -> any BlockForm {
        try eigenform(layer: layer).power(exponent, regularization: regularization, layer: layer)
    }

    /// NNGeometry's π-damped inverse, `(A + π√λ I)^-1 ⊗ (G + √λ/π I)^-1` with
    /// π = sqrt((tr(A) / dim A) / (tr(G) / dim G)): not the inverse of
    /// `M + λ I`, offered for users who need NNGeometry's numbers.
    public func piDampedInverse(regularization: Double, layer: String) throws(CoreError) -> KFACForm {
        let (a, g) = geometry.leftName == "A" ? (left, right) : (right, left)
        let pi = ((a.trace / Double(a.size)) / (g.trace / Double(g.size))).squareRoot()
        guard pi.isFinite, pi > 0 else {
            throw CoreError(.invalidArgument, "block '\(layer)': π-damping needs factors with positive traces; tr(A) = \(a.trace), tr(G) = \(g.trace)")
        }
        let root = regularization.squareRoot()
        func inverted(_ factor: KroneckerFactor, _ damping: Double, _ name: String) throws(CoreError) -> KroneckerFactor {
            switch factor {
            case .diagonal(let d):
                guard !d.contains(where: { $0 + damping == 0 }) else { throw BlockForms.singular(layer, regularization, detail: "factor \(name) plus its damping is singular") }
                return .diagonal(d.map { 1 / ($0 + damping) })
            case .dense(let m):
                let inverse = try DenseForm(block: m).inverse(regularization: damping, layer: "\(layer)' factor '\(name)")
                return .dense((inverse as! DenseForm).block)
            }
        }
        let aInverse = try inverted(a, pi * root, "A"), gInverse = try inverted(g, root / pi, "G")
        return geometry.leftName == "A"
            ? KFACForm(geometry: geometry, left: aInverse, right: gInverse)
            : KFACForm(geometry: geometry, left: gInverse, right: aInverse)
    }

    public func dense() -> Matrix64 { denseByColumns() }

    /// kfac + s I is exact as ekfac (D = λ_L ⊗ λ_R + s); kfac + kfac has no form.
    public func plus(_ other: any BlockForm, scaledBy alpha: Double) -> (any BlockForm)? {
        switch other {
        case let other as KFACForm where other.geometry == geometry:
            // A shared factor keeps the sum a Kronecker product (K + K, K - 0.1 * K,
            // factors updated on one side only): L ⊗ R + α L ⊗ R' = L ⊗ (R + α R').
            if left == other.left { return KFACForm(geometry: geometry, left: left, right: right.plus(other.right, scaledBy: alpha)) }
            if right == other.right { return KFACForm(geometry: geometry, left: left.plus(other.left, scaledBy: alpha), right: right) }
            return nil
        case is IdentityForm: return (try? eigenform(layer: ""))?.plus(other, scaledBy: alpha)
        case is DenseForm: return densePlus(other, scaledBy: alpha)
        default: return nil
        }
    }

    /// (L ⊗ R)(L' ⊗ R') = L L' ⊗ R R'.
    public func times(_ other: any BlockForm) -> (any BlockForm)? {
        switch other {
        case let other as KFACForm:
            func product(_ a: KroneckerFactor, _ b: KroneckerFactor) -> KroneckerFactor {
                if case .diagonal(let x) = a, case .diagonal(let y) = b { return .diagonal(zip(x, y).map { $0 * $1 }) }
                return .dense(Matrix64.product(a.dense, b.dense))
            }
            return KFACForm(geometry: geometry, left: product(left, other.left), right: product(right, other.right))
        case let other as IdentityForm: return scaled(by: other.scale)
        case let other as DenseForm: return DenseForm(block: Matrix64.product(dense(), other.block))
        default: return nil
        }
    }
}
