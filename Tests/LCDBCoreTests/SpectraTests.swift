import Foundation
import Testing
@testable import LCDBCore

/// Spectra, log-determinants, powers and sampling of every form against
/// textbook references on the explicit block (Jacobi rotations, LU), on
/// random data: float64 within 1e-10 relative to the largest eigenvalue.
struct SpectraTests {
    /// Every form on every admissible kind, with its explicit block built
    /// independently of the form (Kronecker products entry by entry).
    static func cases() throws -> [(label: String, form: any BlockForm, reference: [Double])] {
        var cases: [(String, any BlockForm, [Double])] = []
        for (label, layer) in BlockFormTests.layers {
            let geometry = try KroneckerGeometry(layer, name: label)
            let l = BlockFormTests.spd(geometry.rows, seed: 1), r = BlockFormTests.spd(geometry.columns, seed: 2)
            let reference = BlockFormTests.kron(l, r, bias: geometry.biasColumn)
            let kfac = KFACForm(geometry: geometry, left: .dense(l), right: .dense(r))
            cases.append(("\(label) kfac", kfac, reference))
            cases.append(("\(label) ekfac", try kfac.eigenform(layer: label), reference))
            let d = (0 ..< geometry.rows).map { 0.5 + Double($0) / 3 }
            cases.append(("\(label) kfac, diagonal factor", KFACForm(geometry: geometry, left: .diagonal(d), right: .dense(r)),
                          BlockFormTests.kron(KroneckerFactor.diagonal(d).dense, r, bias: geometry.biasColumn)))
        }
        let block = BlockFormTests.spd(7, seed: 6)
        cases.append(("dense", DenseForm(block: block), block.values))
        cases.append(("eigen", try EigenForm(decomposing: DenseForm(block: block), layer: "eigen"), block.values))
        let values = BlockFormTests.random(6, seed: 7).map { $0 + 1.5 }
        cases.append(("diag", DiagForm(values: values), KroneckerFactor.diagonal(values).dense.values))
        cases.append(("identity", IdentityForm(side: 4, scale: 0.7), KroneckerFactor.diagonal([0.7, 0.7, 0.7, 0.7]).dense.values))
        return cases
    }

    static func sortedReference(_ reference: [Double], _ side: Int) -> [Double] {
        SpectralReference.jacobi(reference, side).values.sorted(by: >)
    }

    @Test func spectrumOfEveryFormMatchesJacobi() throws {
        for (label, form, reference) in try Self.cases() {
            let want = Self.sortedReference(reference, form.side)
            let spectrum = try form.spectrum(layer: label)
            #expect(spectrum.count == form.side, "\(label)")
            #expect(NaiveReference.relativeError(spectrum.all.sorted(by: >), want) < 1e-10, "\(label): all")
            for k in [1, 3, form.side] {
                #expect(NaiveReference.relativeError(spectrum.extremes(k, largest: true), Array(want.prefix(k))) < 1e-10, "\(label): top \(k)")
                #expect(NaiveReference.relativeError(spectrum.extremes(k, largest: false), Array(want.reversed().prefix(k))) < 1e-10, "\(label): bottom \(k)")
            }
        }
    }

    @Test func logDeterminantOfEveryFormMatchesLU() throws {
        for (label, form, reference) in try Self.cases() {
            for regularization in [0.0, 0.3] {
                let (want, sign) = SpectralReference.logDeterminant(SpectralReference.shifted(reference, form.side, regularization), form.side)
                #expect(sign == 1)
                let got = try form.logDeterminant(regularization: regularization, layer: label)
                #expect(abs(got - want) <= 1e-10 * max(1, abs(want)), "\(label) regul \(regularization): \(got) vs \(want)")
            }
        }
    }

    @Test func powersOfEveryFormMatchJacobi() throws {
        for (label, form, reference) in try Self.cases() {
            let side = form.side
            for (exponent, regularization) in [(0.5, 0.0), (-0.5, 0.3), (-1.0, 0.3), (2.0, 0.0), (1.7, 0.1)] {
                let want = SpectralReference.function(reference, side) { pow($0 + regularization, exponent) }
                let powered = try form.power(exponent, regularization: regularization, layer: label)
                #expect(NaiveReference.relativeError(powered.dense().values, want) < 1e-10, "\(label) ^ \(exponent) (regul \(regularization))")
            }
            // pow(M, 0.5) squared is M; pow(M, -1, regul) is inv(M, regul).
            let root = try form.power(0.5, regularization: 0, layer: label)
            let x = BlockFormTests.random(side, seed: 21)
            #expect(NaiveReference.relativeError(root.product(root.product(x)), form.product(x)) < 1e-10, "\(label): root squared")
            let inverse = try form.inverse(regularization: 0.3, layer: label)
            let powered = try form.power(-1, regularization: 0.3, layer: label)
            #expect(NaiveReference.relativeError(powered.product(x), inverse.product(x)) < 1e-10, "\(label): pow -1 is inv")
        }
    }

    /// kfac powers are ekfac, dense ones dense, the others keep their form.
    @Test func powersKeepAnExactForm() throws {
        let kinds = try Self.cases().map { ($0.label, $0.form.kind, try $0.form.power(-0.5, regularization: 0.1, layer: $0.label).kind) }
        for (label, from, to) in kinds {
            let expected: FormKind = from == .kfac ? .ekfac : from
            #expect(to == expected, "\(label): \(from) -> \(to)")
        }
    }

    /// Products of lists with negative, zero and positive values, against
    /// forming and sorting all of them.
    @Test(arguments: 0 ..< 6)
    func kroneckerExtremesMatchBruteForce(seed: Int) {
        var a = BlockFormTests.random(7 + seed, seed: UInt64(100 + seed)), b = BlockFormTests.random(5 + seed % 3, seed: UInt64(200 + seed))
        if seed % 2 == 0 { a[0] = 0; b[1] = 0 }
        if seed == 3 { a = a.map(abs); b = b.map { -abs($0) } }
        if seed == 5 { a = a.map { -abs($0) } }
        let all = a.flatMap { x in b.map { x * $0 } }
        for k in [1, 4, all.count / 2, all.count] {
            #expect(BlockSpectrum.kronecker(a, b).extremes(k, largest: true) == Array(all.sorted(by: >).prefix(k)), "seed \(seed) top \(k)")
            #expect(BlockSpectrum.kronecker(a, b).extremes(k, largest: false) == Array(all.sorted().prefix(k)), "seed \(seed) bottom \(k)")
        }
    }

    @Test func boundedSelectionMatchesSorting() {
        let values = BlockFormTests.random(5000, seed: 9)
        #expect(SpectrumSelection.extremes(of: values, 10, largest: true) == Array(values.sorted(by: >).prefix(10)))
        #expect(SpectrumSelection.extremes(of: values, 10, largest: false) == Array(values.sorted().prefix(10)))
    }

    /// logdet, fractional powers and the effective dimension's domain: never NaN.
    @Test func indefiniteAndSingularBlocksAreErrorsNamingTheLayer() throws {
        var indefinite = BlockFormTests.spd(5, seed: 3)
        for i in 0 ..< 5 { indefinite[i, i] -= 2 }
        let dense = DenseForm(block: indefinite)
        #expect(throws: CoreError.self) { _ = try dense.logDeterminant(regularization: 0, layer: "fc1") }
        do {
            _ = try dense.logDeterminant(regularization: 0, layer: "fc1")
        } catch {
            #expect(error.message.contains("block 'fc1' is not positive definite"), "\(error.message)")
        }
        do {
            _ = try dense.power(0.5, regularization: 0, layer: "fc1")
            Issue.record("a square root of an indefinite block")
        } catch {
            #expect(error.message.contains("block 'fc1' is not positive semi-definite"), "\(error.message)")
        }
        // Integer powers of indefinite blocks exist.
        #expect(try NaiveReference.relativeError(dense.power(2, regularization: 0, layer: "fc1").dense().values,
                                                 Matrix64.product(indefinite, indefinite).values) < 1e-10)
        let geometry = try KroneckerGeometry(.linear(2, 2), name: "fc")
        let kfac = KFACForm(geometry: geometry, left: .dense(BlockFormTests.spd(2, seed: 1)), right: .diagonal([1, -1, 2]))
        do {
            _ = try kfac.logDeterminant(regularization: 0.1, layer: "fc")
            Issue.record("logdet of an indefinite kfac block")
        } catch {
            #expect(error.message.hasPrefix("block 'fc' is not positive definite (smallest eigenvalue -"), "\(error.message)")
        }
        let singular = DiagForm(values: [1, 0, 2])
        #expect(throws: CoreError(.singularBlock, "block 'd' is singular (an eigenvalue plus regul is zero, so the power -0.5 is undefined); add a positive regularization")) {
            _ = try singular.power(-0.5, regularization: 0, layer: "d")
        }
        // Round-off below zero in a PSD block counts as zero for a square root.
        let psd = DiagForm(values: [1, -1e-17, 2])
        #expect(try psd.power(0.5, regularization: 0, layer: "d").diagonal() == [1, 0, 2.0.squareRoot()])
    }

    /// Lanczos with full reorthogonalisation against LAPACK on the same block:
    /// the top of a random SPD spectrum, and both ends of one whose extremes
    /// are separated (eigenvalues sqrt(i) in a random basis).
    @Test func lanczosAgreesWithSyevd() throws {
        let n = 400
        let random = BlockFormTests.spd(n, seed: 2)
        let (_, basis) = try random.symmetricEigen()
        let spread = EigenForm.composed(basis, (1 ... n).map { Double($0).squareRoot() })
        for (label, block, ends) in [("random", random, [true]), ("spread", spread, [true, false])] {
            let form = DenseForm(block: block)
            let exact = try block.symmetricEigenvalues()
            for largest in ends {
                let got = try Lanczos.extremes(side: n, k: 5, largest: largest, layer: "b") { form.product($0) }
                let want = largest ? Array(exact.reversed().prefix(5)) : Array(exact.prefix(5))
                #expect(NaiveReference.relativeError(got, want) < 1e-9, "\(label) largest \(largest): \(got) vs \(want)")
            }
        }
        // A block smaller than the iteration cap is exact once the Krylov space is everything.
        let small = BlockFormTests.spd(12, seed: 5)
        let got = try Lanczos.extremes(side: 12, k: 12, largest: true, layer: "s") { DenseForm(block: small).product($0) }
        #expect(NaiveReference.relativeError(got, try small.symmetricEigenvalues().reversed()) < 1e-10)
    }

    /// The bottom of a random SPD spectrum of 400 is clustered (Marchenko-
    /// Pastur edge): 300 products do not resolve it, and that is an error.
    @Test func lanczosNonConvergenceIsAnError() throws {
        let form = DenseForm(block: BlockFormTests.spd(400, seed: 2))
        do {
            _ = try Lanczos.extremes(side: 400, k: 5, largest: false, layer: "b") { form.product($0) }
            Issue.record("converged on a clustered spectrum")
        } catch let error as CoreError {
            #expect(error.message.hasPrefix("the Lanczos iteration for the smallest 5 eigenvalues of block 'b' did not converge in 300 products"), "\(error.message)")
        }
    }

    /// x = (M + regul I)^(-1/2) z with z standard normal has covariance
    /// (M + regul I)^-1: 20,000 seeded samples within 5% (relative Frobenius).
    @Test func sampleCovarianceIsTheDampedInverse() throws {
        let geometry = try KroneckerGeometry(.linear(2, 2), name: "fc")
        let kfac = KFACForm(geometry: geometry, left: .dense(BlockFormTests.spd(2, seed: 1)), right: .dense(BlockFormTests.spd(3, seed: 2)))
        let regularization = 0.2
        let root = try kfac.power(-0.5, regularization: regularization, layer: "fc")
        let side = kfac.side
        var generator = SeededGenerator(seed: 42)
        var covariance = [Double](repeating: 0, count: side * side)
        let count = 20_000
        for _ in 0 ..< count {
            let x = root.product((0 ..< side).map { _ in generator.nextNormal() })
            for i in 0 ..< side { for j in 0 ..< side { covariance[i * side + j] += x[i] * x[j] / Double(count) } }
        }
        let want = try kfac.inverse(regularization: regularization, layer: "fc").dense().values
        let error = zip(covariance, want).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        let scale = want.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
        #expect(error / scale < 0.05, "relative error \(error / scale)")
    }
}
