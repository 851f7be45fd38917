/// The form of one per-layer block of a matrix. `lowrank` and `rows` are the
/// odd ones: not block forms (no `BlockForm` states them) but a layer's share
/// of a matrix that spans layers (`WholeMatrix`): its columns of a low-rank
/// factor, or its rows of a full matrix.
public enum FormKind: String, CaseIterable, Sendable {
    case dense, diag, kfac, ekfac, identity, eigen, quasidiag, lowrank, rows

    /// True for the shares of matrices that span layers.
    public var isWholeMatrixShare: Bool { self == .lowrank || self == .rows }
}

/// One tensor of a block in some form: what is stored (one tiled part per
/// tensor) and what files hold (`<layer>` for `block`, `<layer>.<name>`
/// otherwise). A 1-D tensor of `n` values is stored as `n x 1`.
public struct FormPart: Equatable, Sendable {
    /// `block` (dense), `diag`, `A`, `G`, `U_A`, `U_G`, `D`, `scale`, `U` or `lambda`.
    public let name: String
    public let shape: [Int]
    public var values: [Double]

    public init(_ name: String, shape: [Int], values: [Double]) {
        self.name = name
        self.shape = shape
        self.values = values
    }

    /// Rows and columns as stored.
    public var rows: Int { shape.first ?? 1 }
    public var columns: Int { shape.count >= 2 ? shape[1] : 1 }

    /// The tensor's name in a file, for layer `layer`.
    public func tensorName(layer: String) -> String { name == "block" ? layer : "\(layer).\(name)" }
}

/// One block of a block-diagonal matrix in a structured form. Each form is
/// one conforming type, in its own file, stating every operation; adding a
/// form is that file plus its line in `BlockForms.all`. Values are float64
/// in memory whatever the matrix's stored dtype.
///
/// Every operation acts on lcdb's flattening of the layer (weight row-major,
/// then bias), `side` values.
public protocol BlockForm: Sendable {
    static var kind: FormKind { get }
    /// The part names that make this form (e.g. `A`, `G`), for import and load.
    static var partNames: [String] { get }
    /// Builds the block from its parts (by name), checking every shape against
    /// the layer; with `validate`, also the values (finite and symmetric
    /// factors, orthonormal eigenbases): on import, not on every load of a
    /// stored matrix, whose parts were checked when they were stored.
    init(parts: [String: FormPart], layer: Layer, name: String, validate: Bool) throws(CoreError)

    var side: Int { get }
    var parts: [FormPart] { get }

    /// M x.
    func product(_ x: [Double]) -> [Double]
    /// M x from the block's parts in buffers that are reused afterwards,
    /// written to `output` (`side` values): a stored matrix's `mv` runs
    /// block after block through this. `x` may be `output`'s own memory (a
    /// stored vector's share is read into the result's place): read all of
    /// x before writing. The default builds the form (parts copied,
    /// triangles mirrored); kfac and dense multiply from the buffers.
    static func product(parts: [String: PartBuffer], layer: Layer, name: String, _ x: UnsafeBufferPointer<Double>,
                        into output: UnsafeMutableBufferPointer<Double>, scratch: ProductScratch) throws(CoreError)
    /// The length of the block's independent segments, or nil (the
    /// default): when M maps each run of that many values of x to the same
    /// run of M x and nothing else (kfac with a diagonal left factor and no
    /// bias column: an Embedding's rows), a stored product takes a large
    /// block a few MB of x at a time instead of holding its whole share
    /// (GPT-2's wte: 309 MB of fresh memory, each page zeroed by the kernel).
    static func segmentLength(partShapes: [String: [Int]], layer: Layer) -> Int?
    /// The parts that hold one row per segment (a 1-D part one value):
    /// for a piece of segments only their rows are read, and given to
    /// `product(parts:values:...)` as a part of that many rows (ekfac's
    /// `D` and diagonal `U_A`: GPT-2's wte would re-read 309 MB per piece).
    static func segmentedParts(partShapes: [String: [Int]], layer: Layer) -> Set<String>
    /// The product of whole segments `values` (a range of the block's
    /// values) from the block's parts, the `segmentedParts` holding only
    /// those segments' rows: `x` and `output` hold those values only.
    static func product(parts: [String: PartBuffer], layer: Layer, name: String, values: Range<Int>,
                        _ x: UnsafeBufferPointer<Double>, into output: UnsafeMutableBufferPointer<Double>,
                        scratch: ProductScratch) throws(CoreError)
    func trace() -> Double
    func frobeniusNorm() -> Double
    func diagonal() -> [Double]
    /// alpha M, in the same form.
    func scaled(by alpha: Double) -> any BlockForm
    /// (M + regularization I)^-1 x, exactly; `layer` names the block in errors.
    func solve(_ x: [Double], regularization: Double, layer: String) throws(CoreError) -> [Double]
    /// (M + regularization I)^-1 in the form that holds it exactly (kfac gives ekfac).
    func inverse(regularization: Double, layer: String) throws(CoreError) -> any BlockForm
    /// The explicit `side x side` block, row-major.
    func dense() -> Matrix64
    /// M + alpha N in a form that holds it exactly, or nil when no form is
    /// closed under this sum (kfac + kfac): the caller keeps it lazy.
    func plus(_ other: any BlockForm, scaledBy alpha: Double) -> (any BlockForm)?
    /// M N in a form that holds it exactly (kfac x kfac is `(L L', R R')`), or nil.
    func times(_ other: any BlockForm) -> (any BlockForm)?

    /// The eigenvalues of this symmetric block, implicit where the form keeps
    /// them so (kfac: the factors' eigenvalues, whose products they are).
    /// A dense block that is not symmetric is an error naming `layer`.
    func spectrum(layer: String) throws(CoreError) -> BlockSpectrum
    /// log det(M + regularization I), exactly; a block that is not positive
    /// definite is an error naming `layer` (never NaN). The default works
    /// from `spectrum`; dense blocks use a Cholesky factor instead.
    func logDeterminant(regularization: Double, layer: String) throws(CoreError) -> Double
    /// (M + regularization I)^exponent in the form that holds it exactly
    /// (dense through its eigendecomposition, kfac as ekfac).
    func power(_ exponent: Double, regularization: Double, layer: String) throws(CoreError) -> any BlockForm

    /// The parts that alone hold the block's eigenvalues (ekfac's `D`,
    /// eigen's `lambda`), or nil when the whole block is needed: a stored
    /// spectrum then reads only those (not the eigenbases).
    static var spectrumParts: [String]? { get }
    /// True for a part that `solve`, `inv` and `eig` decompose (its square
    /// shape sets the block's scheduling cost and working memory). The
    /// default: every square 2-D part (kfac's factors, a dense block).
    static func isDecomposed(part name: String, shape: [Int]) -> Bool
    /// The spectrum from `spectrumParts` alone.
    static func spectrum(parts: [String: FormPart], layer: Layer, name: String) throws(CoreError) -> BlockSpectrum
}

extension BlockForm {
    public static var spectrumParts: [String]? { nil }

    public static func isDecomposed(part name: String, shape: [Int]) -> Bool { shape.count == 2 && shape[0] == shape[1] }

    public static func product(parts: [String: PartBuffer], layer: Layer, name: String, _ x: UnsafeBufferPointer<Double>,
                               into output: UnsafeMutableBufferPointer<Double>, scratch: ProductScratch) throws(CoreError) {
        let block = try Self(parts: parts.mapValues { $0.formPart() }, layer: layer, name: name, validate: false)
        _ = output.update(fromContentsOf: block.product(Array(x)))
    }

    public static func spectrum(parts: [String: FormPart], layer: Layer, name: String) throws(CoreError) -> BlockSpectrum {
        try Self(parts: parts, layer: layer, name: name, validate: false).spectrum(layer: name)
    }

    public static func segmentLength(partShapes: [String: [Int]], layer: Layer) -> Int? { nil }

    public static func segmentedParts(partShapes: [String: [Int]], layer: Layer) -> Set<String> { [] }

    /// Without segments, the only range is the whole block.
    public static func product(parts: [String: PartBuffer], layer: Layer, name: String, values: Range<Int>,
                               _ x: UnsafeBufferPointer<Double>, into output: UnsafeMutableBufferPointer<Double>,
                               scratch: ProductScratch) throws(CoreError) {
        guard values == 0 ..< layer.numel else {
            throw CoreError(.invalidArgument, "layer '\(name)': a \(kind.rawValue) block is multiplied whole, not values \(values)")
        }
        try product(parts: parts, layer: layer, name: name, x, into: output, scratch: scratch)
    }
}

extension BlockForm {
    public var kind: FormKind { Self.kind }

    /// M + alpha N as an explicit block (a dense operand makes any sum dense:
    /// its block is in memory already, so the other's is no larger).
    func densePlus(_ other: any BlockForm, scaledBy alpha: Double) -> DenseForm {
        var block = dense()
        let added = other.dense()
        for k in block.values.indices { block.values[k] += alpha * added.values[k] }
        return DenseForm(block: block)
    }

    /// Bytes the parts take in `dtype`.
    public func storedBytes(_ dtype: DType) -> Int { parts.reduce(0) { $0 + $1.values.count * dtype.size } }
}

/// Every form lcdb knows, by kind.
public enum BlockForms {
    public static let all: [any BlockForm.Type] = [DenseForm.self, DiagForm.self, KFACForm.self, EKFACForm.self, IdentityForm.self, EigenForm.self,
                                                   QuasiDiagForm.self]

    /// The form's type; nil for `lowrank` and `rows`, which are not block forms.
    public static func type(of kind: FormKind) -> (any BlockForm.Type)? {
        all.first { $0.kind == kind }
    }

    /// a + alpha b in a form that holds it exactly, or nil. Each form states
    /// its sums with the forms it knows; the sum is also tried the other way
    /// round (alpha b + a), so a form added later need not be known to the
    /// older ones (diag + quasidiag is quasidiag's to state).
    public static func sum(_ a: any BlockForm, _ b: any BlockForm, scaledBy alpha: Double) -> (any BlockForm)? {
        a.plus(b, scaledBy: alpha) ?? b.scaled(by: alpha).plus(a, scaledBy: 1)
    }

    /// The form a set of tensor part names makes (`A` and `G`: kfac), or nil.
    public static func kind(ofParts names: Set<String>) -> FormKind? {
        all.first { Set($0.partNames) == names }?.kind
    }

    /// Finds `name` among `parts`, checking its shape is one of `shapes`.
    static func part(_ name: String, in parts: [String: FormPart], layer: String, shapes: [[Int]]) throws(CoreError) -> FormPart {
        guard let part = parts[name] else {
            throw CoreError(.invalidArgument, "layer '\(layer)': the tensor '\(layer).\(name)' is missing")
        }
        guard shapes.contains(part.shape) else {
            let expected = shapes.map { "(" + $0.map(String.init).joined(separator: ", ") + ($0.count == 1 ? ",)" : ")") }.joined(separator: " or ")
            throw CoreError(.invalidArgument, "layer '\(layer)': tensor '\(part.tensorName(layer: layer))' has shape \(FormPart.describe(part.shape)), expected \(expected)")
        }
        return part
    }

    /// The error for a block that is singular even with the regularization.
    static func singular(_ layer: String, _ regularization: Double, detail: String) -> CoreError {
        let regularized = regularization == 0 ? "" : " even with regularization \(regularization)"
        return CoreError(.singularBlock, "block '\(layer)' is singular\(regularized) (\(detail)); add a positive regularization")
    }

    /// A block holding `value` (NaN or infinite) cannot be solved or inverted.
    static func notFinite(_ layer: String, _ value: Double) -> CoreError {
        CoreError(.invalidArgument, "block '\(layer)' holds \(value.isNaN ? "NaN" : "an infinite value"); solve and inv need finite values")
    }

    /// Refuses non-finite values in a part (NaN would otherwise pass for singular).
    static func requireFinite(_ part: FormPart, layer: String) throws(CoreError) {
        if let bad = part.values.first(where: { !$0.isFinite }) {
            throw CoreError(.invalidArgument, "layer '\(layer)': tensor '\(part.tensorName(layer: layer))' holds \(bad.isNaN ? "NaN" : "an infinite value")")
        }
    }
}

extension FormPart {
    static func describe(_ shape: [Int]) -> String {
        "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }
}

extension BlockForm {
    /// The explicit block, column by column (M e_j): for forms whose entries
    /// have no simpler formula. `side` products; used on small blocks only.
    func denseByColumns() -> Matrix64 {
        var m = Matrix64(zeros: side, side)
        var unit = [Double](repeating: 0, count: side)
        for j in 0 ..< side {
            unit[j] = 1
            let column = product(unit)
            for i in 0 ..< side { m.values[i * side + j] = column[i] }
            unit[j] = 0
        }
        return m
    }
}
