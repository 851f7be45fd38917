import Testing
@testable import LCDBCore

/// Every form against the explicit dense block built independently from its
/// parts, on random data; float64 within 1e-12 relative (solves checked by
/// their residual, 1e-10).
struct BlockFormTests {
    /// The admissible layer kinds, with and without bias.
    static let layers: [(String, Layer)] = [
        ("linear", try! .linear(3, 4)),
        ("linear-nobias", try! .linear(5, 2, bias: false)),
        ("conv1d", try! Layer(.conv1d, [.int(2), .int(3), .int(2)])),
        ("conv2d", try! .conv2d(2, 3, kernelSize: (2, 2))),
        ("conv2d-nobias", try! .conv2d(1, 2, kernelSize: (3, 1), bias: false)),
        ("embedding", try! Layer(.embedding, [.int(6), .int(3)])),
    ]

    static func random(_ count: Int, seed: UInt64) -> [Double] {
        var generator = SeededGenerator(seed: seed)
        return (0 ..< count).map { _ in Double.random(in: -1 ..< 1, using: &generator) }
    }

    /// A random SPD `n x n` matrix, B Bᵀ / n + I / 2.
    static func spd(_ n: Int, seed: UInt64) -> Matrix64 {
        let b = Matrix64(rows: n, columns: n, values: random(n * n, seed: seed))
        var m = NaiveReference.matmul(b.values, b.transposed().values, n).map { $0 / Double(n) }
        for i in 0 ..< n { m[i * n + i] += 0.5 }
        return Matrix64(rows: n, columns: n, values: m)
    }

    /// Position in lcdb's flattening of entry (i, j) of V (weight row-major, then the bias column).
    static func flatIndex(_ i: Int, _ j: Int, rows: Int, columns: Int, bias: Bool) -> Int {
        guard bias else { return i * columns + j }
        return j < columns - 1 ? i * (columns - 1) + j : rows * (columns - 1) + i
    }

    /// The explicit block L ⊗ R in lcdb's order: entry ((i,j), (k,l)) = L[i,k] R[j,l].
    static func kron(_ l: Matrix64, _ r: Matrix64, bias: Bool) -> [Double] {
        let (rows, columns) = (l.rows, r.rows)
        let side = rows * columns
        var m = [Double](repeating: 0, count: side * side)
        for i in 0 ..< rows { for j in 0 ..< columns { for k in 0 ..< rows { for l2 in 0 ..< columns {
            let p = flatIndex(i, j, rows: rows, columns: columns, bias: bias), q = flatIndex(k, l2, rows: rows, columns: columns, bias: bias)
            m[p * side + q] = l[i, k] * r[j, l2]
        } } } }
        return m
    }

    /// M x the way a stored matrix's `mv` computes it: the form's static
    /// product on its parts in buffers. With `upperOnly`, each square part
    /// that is exactly symmetric is given as its upper triangle, the rest of
    /// its buffer NaN, as a stored part kept as one triangle is read. With
    /// `inPlace`, x is given in the output's own memory, as a stored
    /// vector's share is read into the result's place.
    static func bufferProduct(_ form: any BlockForm, layer: Layer, _ x: [Double], upperOnly: Bool, inPlace: Bool = false) throws -> [Double] {
        try withPartBuffers(form, upperOnly: upperOnly) { parts in
            try bufferProduct(form, parts: parts, layer: layer, x, inPlace: inPlace)
        }
    }

    /// The form's parts in buffers, as a stored matrix's are read: with
    /// `upperOnly`, each square part that is exactly symmetric as its upper
    /// triangle, the rest of its buffer NaN.
    static func withPartBuffers<T>(_ form: any BlockForm, upperOnly: Bool, _ body: ([String: PartBuffer]) throws -> T) throws -> T {
        var buffers: [UnsafeMutablePointer<Double>] = []
        defer { buffers.forEach { $0.deallocate() } }
        var parts: [String: PartBuffer] = [:]
        for part in form.parts {
            let values = UnsafeMutablePointer<Double>.allocate(capacity: max(1, part.values.count))
            buffers.append(values)
            values.initialize(from: part.values, count: part.values.count)
            let square = Matrix64(rows: part.rows, columns: part.columns, values: part.values)
            let triangle = upperOnly && part.shape.count == 2 && part.rows == part.columns && square.asymmetry == 0
            if triangle { for i in 0 ..< part.rows { for j in 0 ..< i { values[i * part.columns + j] = .nan } } }
            parts[part.name] = PartBuffer(name: part.name, shape: part.shape, values: values, upperOnly: triangle)
        }
        return try body(parts)
    }

    private static func bufferProduct(_ form: any BlockForm, parts: [String: PartBuffer], layer: Layer, _ x: [Double], inPlace: Bool) throws -> [Double] {
        var y = inPlace ? x : [Double](repeating: .nan, count: form.side)
        if inPlace {
            try y.withUnsafeMutableBufferPointer { output in
                try type(of: form).product(parts: parts, layer: layer, name: "t", UnsafeBufferPointer(output), into: output, scratch: ProductScratch())
            }
            return y
        }
        try x.withUnsafeBufferPointer { input in
            try y.withUnsafeMutableBufferPointer { output in
                try type(of: form).product(parts: parts, layer: layer, name: "t", input, into: output, scratch: ProductScratch())
            }
        }
        return y
    }

    static func expectForm(_ form: any BlockForm, equals reference: [Double], _ label: String, layer: Layer? = nil,
                           regularization: Double = 0.3) throws {
        let side = form.side
        #expect(NaiveReference.relativeError(form.dense().values, reference) < 1e-12, "\(label): dense")
        let x = random(side, seed: 11)
        #expect(NaiveReference.relativeError(form.product(x), NaiveReference.matvec(reference, side, x)) < 1e-12, "\(label): mv")
        if let layer {
            for upperOnly in [false, true] { for inPlace in [false, true] {
                let y = try bufferProduct(form, layer: layer, x, upperOnly: upperOnly, inPlace: inPlace)
                #expect(NaiveReference.relativeError(y, NaiveReference.matvec(reference, side, x)) < 1e-12,
                        "\(label): mv from buffers (upper only: \(upperOnly), x in the output's memory: \(inPlace))")
            } }
        }
        let trace = (0 ..< side).reduce(0.0) { $0 + reference[$1 * side + $1] }
        #expect(NaiveReference.relativeError(form.trace(), trace) < 1e-12, "\(label): trace")
        let frobenius = reference.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
        #expect(NaiveReference.relativeError(form.frobeniusNorm(), frobenius) < 1e-12, "\(label): frobenius")
        #expect(NaiveReference.relativeError(form.diagonal(), (0 ..< side).map { reference[$0 * side + $0] }) < 1e-12, "\(label): diag")
        #expect(NaiveReference.relativeError(form.scaled(by: -2.5).product(x), NaiveReference.matvec(reference, side, x).map { -2.5 * $0 }) < 1e-12, "\(label): scaled")
        // solve undoes (M + λ I); inverse(λ) times (M + λ I) is the identity on x.
        let solved = try form.solve(x, regularization: regularization, layer: label)
        let back = zip(NaiveReference.matvec(reference, side, solved), solved).map { $0 + regularization * $1 }
        #expect(NaiveReference.relativeError(back, x) < 1e-10, "\(label): solve")
        let inverse = try form.inverse(regularization: regularization, layer: label)
        let damped = zip(NaiveReference.matvec(reference, side, x), x).map { $0 + regularization * $1 }
        #expect(NaiveReference.relativeError(inverse.product(damped), x) < 1e-10, "\(label): inverse")
    }

    @Test(arguments: layers.indices)
    func kfacMatchesItsExplicitKroneckerBlock(index: Int) throws {
        let (label, layer) = Self.layers[index]
        let geometry = try KroneckerGeometry(layer, name: label)
        let l = Self.spd(geometry.rows, seed: 1), r = Self.spd(geometry.columns, seed: 2)
        let form = KFACForm(geometry: geometry, left: .dense(l), right: .dense(r))
        let reference = Self.kron(l, r, bias: geometry.biasColumn)
        try Self.expectForm(form, equals: reference, label, layer: layer)
        #expect(try form.inverse(regularization: 0.3, layer: label) is EKFACForm, "kfac's inverse is ekfac")
        // ekfac from kfac equals kfac on every operation.
        try Self.expectForm(try form.eigenform(layer: label), equals: reference, label + " as ekfac", layer: layer)
        // A diagonal factor on the left (an Embedding's A, or any 1-D factor).
        let d = (0 ..< geometry.rows).map { 1 + Double($0) / 3 }
        let diagonalLeft = KFACForm(geometry: geometry, left: .diagonal(d), right: .dense(r))
        try Self.expectForm(diagonalLeft, equals: Self.kron(KroneckerFactor.diagonal(d).dense, r, bias: geometry.biasColumn), label + " diagonal factor", layer: layer)
    }

    /// A diagonal left factor without a bias column goes through scratch a
    /// few rows at a time (GPT-2's wte would need 309 MB at once): chunks
    /// of 2 rows and a last of 1, x in the output's memory.
    @Test func diagonalLeftFactorGoesRowsAtATime() throws {
        let geometry = try KroneckerGeometry(try Layer(.embedding, [.int(7), .int(3)]), name: "wte")
        let d = Self.random(geometry.rows, seed: 4).map { 1 + abs($0) }, r = Self.spd(geometry.columns, seed: 5)
        let reference = Self.kron(KroneckerFactor.diagonal(d).dense, r, bias: false)
        let x = Self.random(geometry.side, seed: 6)
        for right in [r.values, r.values.enumerated().map { $0.offset / 3 > $0.offset % 3 ? Double.nan : $0.element }] {
            var y = x
            d.withUnsafeBufferPointer { d in right.withUnsafeBufferPointer { r in y.withUnsafeMutableBufferPointer { y in
                let factor: KroneckerProduct.Factor = right.contains { $0.isNaN } ? .symmetric(r.baseAddress!) : .general(r.baseAddress!)
                KroneckerProduct.apply(geometry, left: .diagonal(d.baseAddress!), right: factor, UnsafePointer(y.baseAddress!), into: y.baseAddress!,
                                       scratch: ProductScratch(), rowChunkBytes: 2 * 3 * 8)
            } } }
            #expect(NaiveReference.relativeError(y, NaiveReference.matvec(reference, geometry.side, x)) < 1e-12)
        }
    }

    /// A block with independent segments (kfac with a diagonal left factor,
    /// ekfac with a diagonal left eigenbasis, and no bias column: an
    /// Embedding's rows) multiplied a piece of whole rows at a time, its
    /// segmented parts (the diagonal factor or basis, D) given for those
    /// rows only, as a stored product takes GPT-2's wte 20 MB of x at a
    /// time, gives the rows of the whole product: pieces of 1, 2 and 4
    /// rows, the right factor general or one triangle, x in the output's
    /// memory; 1e-12 relative. Every other block is multiplied whole only.
    @Test func segmentsOfABlockGiveTheirRowsOfTheProduct() throws {
        for (label, layer) in Self.layers {
            let geometry = try KroneckerGeometry(layer, name: label)
            let d = Self.random(geometry.rows, seed: 4).map { 1 + abs($0) }, r = Self.spd(geometry.columns, seed: 5)
            let diagonalLeft = KFACForm(geometry: geometry, left: .diagonal(d), right: .dense(r))
            let denseLeft = KFACForm(geometry: geometry, left: .dense(Self.spd(geometry.rows, seed: 6)), right: .dense(r))
            let shapes = { (form: any BlockForm) in Dictionary(uniqueKeysWithValues: form.parts.map { ($0.name, $0.shape) }) }
            #expect(KFACForm.segmentLength(partShapes: shapes(denseLeft), layer: layer) == nil, "\(label): dense left factor")
            #expect(EKFACForm.segmentLength(partShapes: shapes(try denseLeft.eigenform(layer: label)), layer: layer) == nil, "\(label): dense left basis")
            let forms: [any BlockForm] = [diagonalLeft, try diagonalLeft.eigenform(layer: label)]
            guard !geometry.biasColumn else {
                for form in forms {
                    #expect(type(of: form).segmentLength(partShapes: shapes(form), layer: layer) == nil, "\(label): a bias column mixes the rows")
                }
                continue
            }
            let x = Self.random(geometry.side, seed: 7)
            for form in forms {
                let kind = type(of: form)
                #expect(kind.segmentLength(partShapes: shapes(form), layer: layer) == geometry.columns, "\(label) \(kind.kind)")
                let segmented = kind.segmentedParts(partShapes: shapes(form), layer: layer)
                #expect(segmented == (form is KFACForm ? [geometry.leftName] : ["D", "U_" + geometry.leftName]))
                let reference = form.product(x)
                for upperOnly in [false, true] {
                    try Self.withPartBuffers(form, upperOnly: upperOnly) { parts in
                        /// The parts for rows `rows`: the segmented ones sliced to them.
                        func piece(_ rows: Range<Int>) -> [String: PartBuffer] {
                            parts.mapValues { part in
                                guard segmented.contains(part.name) else { return part }
                                let width = part.shape.dropFirst().reduce(1, *)
                                return PartBuffer(name: part.name, shape: [rows.count] + part.shape.dropFirst(),
                                                  values: part.values + rows.lowerBound * width, upperOnly: false)
                            }
                        }
                        for rowsPerPiece in [1, 2, 4] {
                            var y = x
                            for first in stride(from: 0, to: geometry.rows, by: rowsPerPiece) {
                                let rows = first ..< min(geometry.rows, first + rowsPerPiece)
                                let values = rows.lowerBound * geometry.columns ..< rows.upperBound * geometry.columns
                                try y.withUnsafeMutableBufferPointer { whole in
                                    let slice = UnsafeMutableBufferPointer(rebasing: whole[values])
                                    try kind.product(parts: piece(rows), layer: layer, name: label, values: values, UnsafeBufferPointer(slice),
                                                     into: slice, scratch: ProductScratch())
                                }
                            }
                            #expect(NaiveReference.relativeError(y, reference) < 1e-12,
                                    "\(label) \(kind.kind): pieces of \(rowsPerPiece) rows, upper only \(upperOnly)")
                        }
                        // Values that are not whole rows, or parts not sliced to them: an error, nothing written.
                        var y = x
                        for (values, given) in [(1 ..< 4, piece(0 ..< 1)), (0 ..< geometry.columns, parts)] {
                            let error = #expect(throws: CoreError.self) {
                                try y.withUnsafeMutableBufferPointer { whole in
                                    let slice = UnsafeMutableBufferPointer(rebasing: whole[values])
                                    try kind.product(parts: given, layer: layer, name: label, values: values, UnsafeBufferPointer(slice),
                                                     into: slice, scratch: ProductScratch())
                                }
                            }
                            #expect(error?.message.contains("not whole rows") == true && y == x, "\(label) \(kind.kind) \(values)")
                        }
                    }
                }
            }
        }
        // A dense block has no segments and is multiplied whole only.
        let dense = DenseForm(block: Self.spd(4, seed: 8))
        let layer = try Layer.linear(1, 2)
        #expect(DenseForm.segmentLength(partShapes: ["block": [4, 4]], layer: layer) == nil)
        try Self.withPartBuffers(dense, upperOnly: false) { parts in
            let x = Self.random(4, seed: 9)
            var y = [Double](repeating: 0, count: 4)
            try x.withUnsafeBufferPointer { input in try y.withUnsafeMutableBufferPointer { output in
                try DenseForm.product(parts: parts, layer: layer, name: "fc", values: 0 ..< 4, input, into: output, scratch: ProductScratch())
            } }
            #expect(NaiveReference.relativeError(y, dense.product(x)) < 1e-12)
            #expect(throws: CoreError(.invalidArgument, "layer 'fc': a dense block is multiplied whole, not values 0..<2")) {
                try x.withUnsafeBufferPointer { input in try y.withUnsafeMutableBufferPointer { output in
                    try DenseForm.product(parts: parts, layer: layer, name: "fc", values: 0 ..< 2, UnsafeBufferPointer(rebasing: input[0 ..< 2]),
                                          into: UnsafeMutableBufferPointer(rebasing: output[0 ..< 2]), scratch: ProductScratch())
                } }
            }
        }
    }

    /// A diagonal left factor's solve goes row by row (no D, no rotated
    /// copies of V): the same solution as through ekfac (1e-12 relative),
    /// with and without a bias column, and the same errors for a singular
    /// or non-finite block.
    @Test func diagonalLeftSolveGoesRowByRowAsEKFACWould() throws {
        for (label, layer) in Self.layers {
            let geometry = try KroneckerGeometry(layer, name: label)
            let d = Self.random(geometry.rows, seed: 12).map { 0.5 + abs($0) }
            let form = KFACForm(geometry: geometry, left: .diagonal(d), right: .dense(Self.spd(geometry.columns, seed: 13)))
            let x = Self.random(geometry.side, seed: 14)
            let byRows = try form.solve(x, regularization: 0.2, layer: label)
            let throughEKFAC = try form.eigenform(layer: label).solve(x, regularization: 0.2, layer: label)
            #expect(NaiveReference.relativeError(byRows, throughEKFAC) < 1e-12, "\(label)")
            var zeroed = d
            zeroed[geometry.rows - 1] = 0
            for (left, regularization) in [(zeroed, 0.0), (d.map { $0 * .infinity }, 1.0), (d.map { _ in Double.nan }, 1.0)] {
                let singular = KFACForm(geometry: geometry, left: .diagonal(left), right: .dense(Self.spd(geometry.columns, seed: 13)))
                let expected = #expect(throws: CoreError.self) { _ = try singular.eigenform(layer: label).solve(x, regularization: regularization, layer: label) }
                let found = #expect(throws: CoreError.self) { _ = try singular.solve(x, regularization: regularization, layer: label) }
                #expect(found != nil && found?.message == expected?.message, "\(label): \(String(describing: found)) vs \(String(describing: expected))")
            }
        }
    }

    @Test func factorNamesFollowTheLayerKind() throws {
        let linear = try KroneckerGeometry(.linear(3, 4), name: "fc")
        #expect(linear.leftName == "G" && linear.rightName == "A" && linear.rows == 4 && linear.columns == 4)
        let embedding = try KroneckerGeometry(Layer(.embedding, [.int(6), .int(3)]), name: "wte")
        #expect(embedding.leftName == "A" && embedding.rightName == "G" && embedding.rows == 6 && embedding.columns == 3)
        let conv = try KroneckerGeometry(.conv2d(2, 3, kernelSize: (2, 2)), name: "conv")
        #expect(conv.rows == 3 && conv.columns == 2 * 4 + 1)
        let trace = KFACForm(geometry: linear, left: .dense(Self.spd(4, seed: 3)), right: .dense(Self.spd(4, seed: 4)))
        // trace(kfac) = tr(A) tr(G).
        #expect(abs(trace.trace() - trace.left.trace * trace.right.trace) == 0)
    }

    @Test func otherKindsCannotBeKronecker() throws {
        #expect(throws: CoreError(.invalidArgument, "layer 'bn' is a BatchNorm2d, which cannot be kfac or ekfac (only Linear, Conv1d, Conv2d and Embedding can); its block can be dense, diag or identity")) {
            _ = try KroneckerGeometry(Layer(.batchNorm2d, [.int(4)]), name: "bn")
        }
    }

    @Test func diagIdentityAndDenseMatchTheirBlocks() throws {
        // Layers of 8 and 6 parameters (LayerNorm(4), Linear(2, 2)), for the product from buffers.
        let values = Self.random(8, seed: 5).map { $0 + 2 }
        try Self.expectForm(DiagForm(values: values), equals: KroneckerFactor.diagonal(values).dense.values, "diag", layer: .layerNorm([4]))
        try Self.expectForm(IdentityForm(side: 6, scale: 1.7), equals: KroneckerFactor.diagonal([Double](repeating: 1.7, count: 6)).dense.values, "identity",
                            layer: .linear(2, 2))
        let block = Self.spd(6, seed: 6)
        try Self.expectForm(DenseForm(block: block), equals: block.values, "dense", layer: .linear(2, 2))
    }

    @Test func piDampingIsNNGeometrysFormula() throws {
        let layer = try Layer.linear(3, 2)
        let geometry = try KroneckerGeometry(layer, name: "fc")
        let g = Self.spd(geometry.rows, seed: 7), a = Self.spd(geometry.columns, seed: 8)
        let form = KFACForm(geometry: geometry, left: .dense(g), right: .dense(a))
        let lambda = 0.2
        let pi = ((a.trace / Double(a.rows)) / (g.trace / Double(g.rows))).squareRoot()
        let damped = try form.piDampedInverse(regularization: lambda, layer: "fc")
        func inverse(_ m: Matrix64, _ shift: Double) throws -> Matrix64 {
            let inverse = try DenseForm(block: m).inverse(regularization: shift, layer: "t") as! DenseForm
            return inverse.block
        }
        let reference = Self.kron(try inverse(g, lambda.squareRoot() / pi), try inverse(a, pi * lambda.squareRoot()), bias: true)
        #expect(NaiveReference.relativeError(damped.dense().values, reference) < 1e-12)
    }

    @Test func badPartsAreNamed() throws {
        let layer = try Layer.linear(2, 3)
        func parts(_ list: [FormPart]) -> [String: FormPart] { Dictionary(uniqueKeysWithValues: list.map { ($0.name, $0) }) }
        let g = Self.spd(3, seed: 1), a = Self.spd(3, seed: 2)
        #expect(throws: CoreError(.invalidArgument, "layer 'fc': tensor 'fc.A' has shape (4, 4), expected (3,) or (3, 3)")) {
            _ = try KFACForm(parts: parts([FormPart("G", shape: [3, 3], values: g.values), FormPart("A", shape: [4, 4], values: Self.spd(4, seed: 1).values)]), layer: layer, name: "fc")
        }
        var asymmetric = a
        asymmetric[0, 1] += 0.1
        #expect(throws: CoreError.self) {
            _ = try KFACForm(parts: parts([FormPart("G", shape: [3, 3], values: g.values), FormPart("A", shape: [3, 3], values: asymmetric.values)]), layer: layer, name: "fc")
        }
        #expect(throws: CoreError(.invalidArgument, "layer 'fc': the tensor 'fc.G' is missing")) {
            _ = try KFACForm(parts: parts([FormPart("A", shape: [3, 3], values: a.values)]), layer: layer, name: "fc")
        }
        // An eigenbasis that is not orthonormal.
        #expect(throws: CoreError.self) {
            _ = try EKFACForm(parts: parts([FormPart("U_G", shape: [3, 3], values: g.values), FormPart("U_A", shape: [3], values: [1, 1, 1]),
                                            FormPart("D", shape: [3, 3], values: [Double](repeating: 1, count: 9))]), layer: layer, name: "fc")
        }
        // Singular without regularization: named, not NaN.
        let singular = DiagForm(values: [1, 0, 2])
        #expect(throws: CoreError(.singularBlock, "block 'd' is singular (diagonal entry 1 is zero); add a positive regularization")) {
            _ = try singular.solve([1, 1, 1], regularization: 0, layer: "d")
        }
    }

    @Test func randomKFACIsReproducibleAndMixedOverNorms() throws {
        let collection = try LayerCollection([("wte", try Layer(.embedding, [.int(10), .int(4)])), ("ln", try .layerNorm([4])), ("fc", try .linear(4, 3))])
        let m = try StructuredMatrix.randomKFAC(over: collection, seed: 3)
        #expect(m.representation == "mixed")
        #expect(m.blocks.map(\.kind) == [.kfac, .dense, .kfac])
        #expect((m.blocks[0] as! KFACForm).left.isDiagonal, "an Embedding's input factor is diagonal")
        let again = try StructuredMatrix.randomKFAC(over: collection, seed: 3)
        #expect(again.blocks.map { $0.dense() } == m.blocks.map { $0.dense() })
        // Positive definite: the solve of every block succeeds without regularization.
        let x = ParameterVector<Double>.random(over: collection, seed: 1)
        let solved = try m.solve(x, regularization: 0)
        #expect(NaiveReference.relativeError(try m.product(with: solved).values, x.values) < 1e-10)
        // Dense blocks of the whole matrix agree with the forms.
        let dense = try m.denseBlocks()
        #expect(NaiveReference.relativeError(try dense.product(with: x).values, try m.product(with: x).values) < 1e-12)
    }
}
