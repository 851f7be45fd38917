import Testing
@testable import LCDBCore

/// The quasi-diagonal form against its explicit block, built here entry by
/// entry from the parts (diagonal; output i's bias coupled with output i's
/// weights), on random data: every operation of `BlockFormTests.expectForm`
/// (1e-12 relative; solves by their residual, 1e-10), and the spectrum,
/// log-determinant and powers against the dense block's.
struct QuasiDiagFormTests {
    /// Admissible kinds: a weight row per bias entry (Linear, Conv1d,
    /// Conv2d), or weight and bias of one shape (norms, r = 1).
    static let layers: [(String, Layer)] = [
        ("linear", try! .linear(3, 4)),
        ("linear-square", try! .linear(3, 3)),
        ("conv1d", try! Layer(.conv1d, [.int(2), .int(3), .int(2)])),
        ("conv2d", try! .conv2d(2, 3, kernelSize: (2, 2))),
        ("batchnorm", try! Layer(.batchNorm2d, [.int(4)])),
        ("layernorm-2d", try! .layerNorm([2, 3])),
    ]

    /// A form with diag in [2, 3) and cross in [-0.5, 0.5): positive definite
    /// (each Schur complement is at least 2 - r/8 > 0 for r <= 8).
    static func form(_ layer: Layer, name: String, seed: UInt64) throws -> QuasiDiagForm {
        let (outputs, perOutput, crossShape) = try QuasiDiagForm.shape(of: layer, name: name)
        let diagonal = BlockFormTests.random(layer.numel, seed: seed).map { 2.5 + $0 / 2 }
        let cross = BlockFormTests.random(outputs * perOutput, seed: seed + 1).map { $0 / 2 }
        return QuasiDiagForm(outputs: outputs, perOutput: perOutput, diagonal: diagonal, cross: cross, crossShape: crossShape)
    }

    /// The explicit block: weight (i, j) is entry i r + j, bias i is entry B r + i.
    static func explicit(_ form: QuasiDiagForm) -> [Double] {
        let (b, r, n) = (form.outputs, form.perOutput, form.side)
        var m = [Double](repeating: 0, count: n * n)
        for p in 0 ..< n { m[p * n + p] = form.diagonalValues[p] }
        for i in 0 ..< b {
            for j in 0 ..< r {
                m[(i * r + j) * n + (b * r + i)] = form.cross[i * r + j]
                m[(b * r + i) * n + (i * r + j)] = form.cross[i * r + j]
            }
        }
        return m
    }

    @Test(arguments: layers.indices)
    func everyOperationMatchesTheExplicitBlock(index: Int) throws {
        let (label, layer) = Self.layers[index]
        let form = try Self.form(layer, name: label, seed: UInt64(10 + index))
        let reference = Self.explicit(form)
        try BlockFormTests.expectForm(form, equals: reference, label, layer: layer)
        let dense = DenseForm(block: Matrix64(rows: form.side, columns: form.side, values: reference))
        // Spectrum: the groups' eigenvalues are the block's.
        guard case .values(let mine) = try form.spectrum(layer: label), case .values(let theirs) = try dense.spectrum(layer: label) else {
            Issue.record("\(label): spectra are lists of values")
            return
        }
        #expect(NaiveReference.relativeError(mine.sorted(), theirs.sorted()) < 1e-12, "\(label): spectrum")
        for regul in [0.0, 0.7] {
            let logdet = try form.logDeterminant(regularization: regul, layer: label)
            #expect(NaiveReference.relativeError(logdet, try dense.logDeterminant(regularization: regul, layer: label)) < 1e-12, "\(label): logdet \(regul)")
        }
        let x = BlockFormTests.random(form.side, seed: 3)
        let power = try form.power(-0.5, regularization: 0.2, layer: label).product(x)
        let densePower = try dense.power(-0.5, regularization: 0.2, layer: label).product(x)
        #expect(NaiveReference.relativeError(power, densePower) < 1e-11, "\(label): pow")
        // Sums with diag, identity and quasidiag stay quasidiag, either way round.
        let diag = DiagForm(values: BlockFormTests.random(form.side, seed: 4))
        let other = try Self.form(layer, name: label, seed: 99)
        for (sum, expected) in [(BlockForms.sum(form, diag, scaledBy: -1.5), zip(reference, diag.dense().values).map { $0 - 1.5 * $1 }),
                                (BlockForms.sum(diag, form, scaledBy: 2), zip(diag.dense().values, reference).map { $0 + 2 * $1 }),
                                (BlockForms.sum(IdentityForm(side: form.side, scale: 3), form, scaledBy: 1), zip(reference, IdentityForm(side: form.side, scale: 3).dense().values).map { $0 + $1 }),
                                (BlockForms.sum(form, other, scaledBy: 0.5), zip(reference, Self.explicit(other)).map { $0 + 0.5 * $1 })] {
            #expect(sum is QuasiDiagForm, "\(label): the sum stays quasidiag")
            #expect(NaiveReference.relativeError(sum?.dense().values ?? [], expected) < 1e-12, "\(label): sum")
        }
        // Its parts rebuild it (what import and load do).
        let rebuilt = try QuasiDiagForm(parts: Dictionary(uniqueKeysWithValues: form.parts.map { ($0.name, $0) }), layer: layer, name: label)
        #expect(rebuilt.dense() == form.dense() && rebuilt.parts == form.parts)
    }

    @Test func layersWithoutAPairedBiasCannotBeQuasiDiagonal() throws {
        #expect(throws: CoreError(.invalidArgument, "layer 'fc' is a Linear without a bias, which cannot be quasidiag (it couples each output's bias with its weights); its block can be diag, dense or identity")) {
            _ = try QuasiDiagForm.shape(of: .linear(3, 2, bias: false), name: "fc")
        }
        #expect(throws: CoreError.self) { _ = try QuasiDiagForm.shape(of: Layer(.embedding, [.int(5), .int(2)]), name: "wte") }
        #expect(throws: CoreError(.invalidArgument, "layer 'up' is a ConvTranspose2d, which cannot be quasidiag (only layers whose weight has a row per bias entry, Linear, Conv1d and Conv2d, or the bias's shape, the norms, can); its block can be dense, diag or identity")) {
            _ = try QuasiDiagForm.shape(of: Layer(.convTranspose2d, [.int(3), .int(3), .shape([2, 2])]), name: "up")
        }
        // A wrong cross shape names the tensor and the shape expected.
        let layer = try Layer.linear(3, 2)
        #expect(throws: CoreError(.invalidArgument, "layer 'fc': tensor 'fc.cross' has shape (3, 2), expected (2, 3)")) {
            _ = try QuasiDiagForm(parts: ["diag": FormPart("diag", shape: [8], values: [Double](repeating: 1, count: 8)),
                                         "cross": FormPart("cross", shape: [3, 2], values: [Double](repeating: 0, count: 6))], layer: layer, name: "fc")
        }
    }

    @Test func singularGroupsAreNamedNotNaN() throws {
        // Output 0: weights (1, 1), bias 2, cross (1, 1): s = 2 - 1 - 1 = 0.
        let form = QuasiDiagForm(outputs: 1, perOutput: 2, diagonal: [1, 1, 2], cross: [1, 1], crossShape: [1, 2])
        #expect(throws: CoreError(.singularBlock, "block 'fc' is singular (output 0's bias is determined by its weights (Schur complement 0.0)); add a positive regularization")) {
            _ = try form.solve([1, 2, 3], regularization: 0, layer: "fc")
        }
        #expect(throws: CoreError.self) { _ = try form.logDeterminant(regularization: 0, layer: "fc") }
        // With regularization it solves: (M + λ I) x = b.
        let x = try form.solve([1, 2, 3], regularization: 0.5, layer: "fc")
        let back = zip(form.product(x), x).map { $0 + 0.5 * $1 }
        #expect(NaiveReference.relativeError(back, [1, 2, 3]) < 1e-12)
    }
}
