import LCDBCore
import LCDBStore

/// Spectra, log-determinants, real powers, effective dimension, sampling and
/// kept eigendecompositions, for every form: what a Laplace approximation,
/// EWC or a preconditioner needs from a stored Fisher. Each visits the
/// matrix one block at a time (`forEachBlockForm`).
enum SpectralFunctions {
    static let all: [FunctionSpec] = [
        FunctionSpec(name: "eig", parameters: [.init("M", .matrix)],
                     summary: "M's eigendecomposition, kept: dense blocks become eigen blocks (U, lambda: LAPACK dsyevd), kfac blocks ekfac (the factors' eigenbases); diag, identity, ekfac and eigen blocks are their own. Store it with let: logdet, pow, solve, inv, eigvals and sample on it then never refactor, at any regul.",
                     example: "let E = eig(F);") { args, evaluator in
            let m = try args.matrix("M")
            if let lazy = m.transformingStoredForms(BlockTransform(apply: decomposition)) { return .matrix(lazy) }
            let names = m.collection.names
            let blocks = try collectBlocks(m, evaluator.store, what: "the eigendecomposition") { position, form in
                try decomposition(form, names[position])
            }
            return .matrix(FormFunctions.value(try StructuredMatrix(collection: m.collection, blocks: blocks), m.collectionName, m.dtype))
        },
        FunctionSpec(name: "eigvals", parameters: [.init("M", .anyMatrix), .init("k", .number, default: .number(0)),
                                                   .init("which", .choice(["largest", "smallest"]), default: .word("largest")),
                                                   .init("method", .choice(["auto", "exact", "lanczos"]), default: .word("auto"))],
                     summary: "The eigenvalues of symmetric M over all layers, sorted, each with its layer: all of them (k=0), or the k largest or smallest. kfac blocks give the products of their factors' eigenvalues without forming them all; dense blocks use LAPACK dsyevd a block at a time, or Lanczos (tolerance 1e-10 relative, at most max(300, 10k) products) on a stored block too large for memory (method=lanczos forces it).",
                     example: "eigvals(K, k=10);") { args, evaluator in
            let k = try count(args, "k")
            let largest = args.word("which") != "smallest"
            let method = args.word("method") ?? "auto"
            if let low = args.whole("M") {
                guard k <= low.matrix.numel else { throw args.error("k (\(k)) is larger than the matrix, which has \(low.matrix.numel) eigenvalues") }
                guard method != "lanczos" else { throw args.error("a \(low.matrix.kindName) matrix's eigenvalues are computed exactly (a low-rank one's from its n x n Gram matrix): method=lanczos does not apply") }
                return .table(try low.eigenvalueTable(k: k, largest: largest))
            }
            return .table(try eigenvalueTable(try args.matrix("M"), k: k, largest: largest, method: method, args, evaluator.store))
        },
        FunctionSpec(name: "logdet", parameters: [.init("M", .anyMatrix), .init("regul", .number, default: .number(0))],
                     summary: "log det(M + regul I), exactly for every form (dense: Cholesky a block at a time; kfac: through its factors' eigenvalues; ekfac and eigen: from D or lambda); a block that is not positive definite is an error naming it.",
                     example: "logdet(K, regul=1e-3);") { args, evaluator in
            if let low = args.whole("M") { return .number(try low.matrix.logDeterminant(regularization: try args.number("regul"))) }
            let m = try args.matrix("M")
            let regularization = try args.number("regul")
            let names = m.collection.names
            var total = 0.0
            if case .stored(let name) = m.origin {
                // Each block read whole and factored in place: one block in memory at a time.
                let symmetric = try evaluator.store.matrix(named: name).layout == .upper
                for (position, entry) in m.collection.entries.enumerated() {
                    try Interruption.check()
                    let side = entry.layer.numel
                    var values = try MatrixValue.symmetricStoredBlock(name, at: position, side: side, layer: names[position], mirrored: symmetric,
                                                                      store: evaluator.store, for: "logdet")
                    total += try DenseForm.logDeterminant(overwriting: &values, side: side, regularization: regularization, layer: names[position])
                }
                return .number(total)
            }
            try m.forEachBlockForm(store: evaluator.store) { position, form in
                total += try form.logDeterminant(regularization: regularization, layer: names[position])
            }
            return .number(total)
        },
        FunctionSpec(name: "pow", parameters: [.init("M", .anyMatrix), .init("p", .number), .init("regul", .number, default: .number(0))],
                     summary: "(M + regul I)^p for any real p (0.5: square root, -0.5: inverse square root, -1: inverse), in the form that holds it exactly: dense blocks through their eigendecomposition, diag as diag, kfac and ekfac as ekfac, eigen as eigen, quasidiag as dense blocks (refused with their size when they do not fit); a low-rank matrix stays low-rank (c' I + Jᵀ S' J), a full one full.",
                     example: "let P = pow(F, -0.5, regul=1e-3);") { args, evaluator in
            if let whole = args.whole("M") {
                return .whole(whole.with(try whole.matrix.power(try args.number("p"), regularization: try args.number("regul"))))
            }
            let m = try args.matrix("M")
            let exponent = try args.number("p"), regularization = try args.number("regul")
            let names = m.collection.names
            let blocks = try collectBlocks(m, evaluator.store, what: "the power") { position, form in
                try form.power(exponent, regularization: regularization, layer: names[position])
            }
            return .matrix(FormFunctions.value(try StructuredMatrix(collection: m.collection, blocks: blocks), m.collectionName, m.dtype))
        },
        FunctionSpec(name: "effective_dim", parameters: [.init("M", .anyMatrix), .init("regul", .number)],
                     summary: "The effective dimension Σ λ / (λ + regul) over M's eigenvalues (regul > 0).",
                     example: "effective_dim(K, 1e-3);") { args, evaluator in
            let regularization = try args.number("regul")
            guard regularization > 0, regularization.isFinite else { throw args.error("regul must be positive, got \(ResultTable.format(regularization))") }
            if let low = args.whole("M") {
                let spectrum = try low.matrix.spectrum()
                if let smallest = spectrum.compactMap(\.minimum).min(), !(smallest + regularization > 0) {
                    throw args.error("the \(low.matrix.kindName) matrix has eigenvalue \(smallest), so λ + regul is not positive; effective_dim needs M + regul I > 0")
                }
                return .number(spectrum.reduce(0) { $0 + $1.sum { $0 / ($0 + regularization) } })
            }
            let m = try args.matrix("M")
            let names = m.collection.names
            var total = 0.0
            try m.forEachBlockForm(store: evaluator.store) { position, form in
                let spectrum = try form.spectrum(layer: names[position])
                if let smallest = spectrum.minimum, !(smallest + regularization > 0) {
                    throw args.error("block '\(names[position])' has eigenvalue \(smallest), so λ + regul is not positive; effective_dim needs M + regul I > 0")
                }
                total += spectrum.sum { $0 / ($0 + regularization) }
            }
            return .number(total)
        },
        FunctionSpec(name: "sample", parameters: [.init("M", .anyMatrix), .init("seed", .number, default: .number(0)),
                                                  .init("regul", .number, default: .number(0)),
                                                  .init("cov", .choice(["inverse", "matrix"]), default: .word("inverse"))],
                     summary: "A seeded Gaussian sample over M's collection: x ~ N(0, (M + regul I)^-1) (cov=inverse: a Laplace posterior around 0; add the mode), or x ~ N(0, M + regul I) (cov=matrix). It is (M + regul I)^(∓1/2) randn(C, seed), so the same seed gives the same sample.",
                     example: "let theta = sample(F, seed=1, regul=1e-2);") { args, evaluator in
            let seed = try args.seed("seed"), regularization = try args.number("regul")
            let exponent = args.word("cov") == "matrix" ? 0.5 : -0.5
            if let whole = args.whole("M") {
                // The same noise as for block matrices: (M + regul I)^(∓1/2) randn(C, seed).
                let collection = whole.matrix.collection
                try ParameterVector<Double>.requireMemory(over: collection, copies: 3)
                let noise = ParameterVector<Double>.random(over: collection, seed: seed)
                let root = try whole.matrix.power(exponent, regularization: regularization)
                let vector = try ParameterVector(collection: collection, values: try root.product(noise.values))
                return .vector(AnyParameterVector(vector).converted(to: whole.dtype), collectionName: whole.collectionName)
            }
            let m = try args.matrix("M")
            let collection = m.collection
            try ParameterVector<Double>.requireMemory(over: collection, copies: 3)
            let noise = ParameterVector<Double>.random(over: collection, seed: seed)
            var values = [Double](repeating: 0, count: collection.numel)
            try m.forEachBlockForm(store: evaluator.store) { position, form in
                let range = collection.range(at: position)
                let root = try form.power(exponent, regularization: regularization, layer: collection.names[position])
                // The block's noise and its product, beside the root just formed.
                try MemoryBudget.require(Double(range.count) * 16, for: "the sample of block '\(collection.names[position])'")
                values.replaceSubrange(range, with: root.product(Array(noise.values[range])))
            }
            let vector = try ParameterVector(collection: collection, values: values)
            return .vector(AnyParameterVector(vector).converted(to: m.dtype), collectionName: m.collectionName)
        },
    ]

    /// `transform` on each block, the results kept in memory (checked as they grow).
    /// `eig` of one block: dense blocks as eigen, kfac as ekfac, the others as they are.
    @Sendable private static func decomposition(_ form: any BlockForm, _ layer: String) throws -> any BlockForm {
        switch form {
        case let dense as DenseForm: try EigenForm(decomposing: dense, layer: layer)
        case let kfac as KFACForm: try kfac.eigenform(layer: layer)
        default: form
        }
    }

    private static func collectBlocks(_ m: MatrixValue, _ store: Store, what: String,
                                      _ transform: (Int, any BlockForm) throws -> any BlockForm) throws -> [any BlockForm] {
        var blocks: [any BlockForm] = []
        var bytes = 0.0
        try m.forEachBlockForm(store: store) { position, form in
            let result = try transform(position, form)
            bytes += Double(result.storedBytes(.float64))
            try MemoryBudget.require(bytes, for: "\(what) of the blocks up to layer '\(m.collection.names[position])'")
            blocks.append(result)
        }
        return blocks
    }

    /// A non-negative integer argument.
    private static func count(_ args: CallArguments, _ name: String) throws -> Int {
        let value = try args.number(name)
        guard value >= 0, value == value.rounded(), let count = Int(exactly: value) else {
            throw args.error("\(name) must be a non-negative integer, got \(ResultTable.format(value))")
        }
        return count
    }

    private struct RankedEigenvalue {
        let value: Double
        let layer: Int
    }

    /// The eigenvalues as rows: rank, eigenvalue, layer.
    private static func eigenvalueTable(_ m: MatrixValue, k: Int, largest: Bool, method: String,
                                        _ args: CallArguments, _ store: Store) throws -> ResultTable {
        let names = m.collection.names
        guard k <= m.collection.numel else {
            throw args.error("k (\(k)) is larger than the matrix, which has \(m.collection.numel) eigenvalues")
        }
        if k == 0 {
            guard method != "lanczos" else { throw args.error("method=lanczos finds the k extreme eigenvalues: give k") }
            try MemoryBudget.require(Double(m.collection.numel) * 16, for: "all \(m.collection.numel) eigenvalues",
                                     advice: "; ask for the k largest or smallest instead (k=100)")
        }
        var kept: [RankedEigenvalue] = []
        func order(_ a: RankedEigenvalue, _ b: RankedEigenvalue) -> Bool {
            if a.value != b.value { return largest ? a.value > b.value : a.value < b.value }
            return a.layer < b.layer
        }
        func keep(_ values: [Double], _ position: Int) {
            kept += values.map { RankedEigenvalue(value: $0, layer: position) }
            if k > 0, kept.count > 4 * k {
                kept.sort(by: order)
                kept.removeLast(kept.count - k)
            }
        }
        func lanczos(_ position: Int, _ multiply: ([Double]) throws -> [Double]) throws -> [Double] {
            try Lanczos.extremes(side: m.collection.entries[position].layer.numel, k: k, largest: largest,
                                 layer: names[position], multiply: multiply)
        }
        if case .stored(let name) = m.origin {
            // Stored dense blocks, one at a time: read whole and decomposed in
            // place, or by Lanczos on the tile-by-tile product when a block
            // cannot be decomposed in memory (or when asked to).
            let symmetric = try store.matrix(named: name).layout == .upper
            for position in m.collection.entries.indices {
                try Interruption.check()
                let side = m.collection.entries[position].layer.numel
                let tooLarge = Double(side) * Double(side) * 8 * 2 > MemoryBudget.budget
                if k > 0, method == "lanczos" || (tooLarge && method == "auto") {
                    keep(try lanczos(position) { try store.denseBlockProduct(name, position: position, $0) }, position)
                    continue
                }
                var values = try MatrixValue.symmetricStoredBlock(name, at: position, side: side, layer: names[position], mirrored: symmetric,
                                                                  store: store, for: "the spectrum")
                let spectrum = BlockSpectrum.values(try Matrix64.symmetricEigenvalues(overwriting: &values, side: side))
                keep(k == 0 ? spectrum.all : spectrum.extremes(k, largest: largest), position)
            }
        } else if case .storedForms(let name) = m.origin, method != "lanczos" {
            // Only the parts holding the eigenvalues are read (a kept EKFAC's D, not its bases).
            try store.forEachSpectrum(of: name) { position, spectrum in
                keep(k == 0 ? spectrum.all : spectrum.extremes(k, largest: largest), position)
            }
        } else {
            try m.forEachBlockForm(store: store) { position, form in
                if method == "lanczos" {
                    keep(try lanczos(position) { form.product($0) }, position)
                    return
                }
                let spectrum = try form.spectrum(layer: names[position])
                keep(k == 0 ? spectrum.all : spectrum.extremes(k, largest: largest), position)
            }
        }
        kept.sort(by: order)
        if k > 0, kept.count > k { kept.removeLast(kept.count - k) }
        let rows: [[ResultTable.Cell]] = kept.enumerated().map { index, entry in
            [.integer(index + 1), .real(entry.value), .text(names[entry.layer])]
        }
        return ResultTable(columns: ["rank", "eigenvalue", "layer"], rows: rows)
    }
}
