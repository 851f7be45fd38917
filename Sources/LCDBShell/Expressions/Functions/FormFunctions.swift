import LCDBCore
import LCDBStore

/// Builders and conversions of matrices whose blocks have forms (diag,
/// kfac, ekfac, identity, dense, mixed). Their operations are the ordinary
/// ones (mv, vtmv, trace, frobenius, diag, inv, solve, mm, + and *), which
/// dispatch on the form.
enum FormFunctions {
    static let all: [FunctionSpec] = [
        FunctionSpec(name: "random_kfac", parameters: [.init("collection", .collection), .init("seed", .number, default: .number(0)), FunctionSpec.dtype],
                     summary: "Seeded random SPD Kronecker factors for every Linear, Conv1d, Conv2d and Embedding layer (an Embedding's input factor diagonal); other layers (norms) get a random SPD dense block, making the matrix mixed.",
                     example: "let K = random_kfac(mlp, seed=1);") { args, evaluator in
            let name = try args.collection("collection")
            let collection = try evaluator.store.collection(named: name)
            return .matrix(value(try StructuredMatrix.randomKFAC(over: collection, seed: try args.seed("seed")), name, args.dtype))
        },
        FunctionSpec(name: "eye", parameters: [.init("collection", .collection), .init("scale", .number, default: .number(1)), FunctionSpec.dtype],
                     summary: "scale times the identity in the identity form: one number per layer, never built (NNGeometry's PMatEye). identity(C) builds dense blocks instead.",
                     example: "let E = eye(mlp, scale=0.1);") { args, evaluator in
            let name = try args.collection("collection")
            let collection = try evaluator.store.collection(named: name)
            let scale = try args.number("scale")
            let forms = try StructuredMatrix(collection: collection, blocks: collection.entries.map { IdentityForm(side: $0.layer.numel, scale: scale) })
            return .matrix(value(forms, name, args.dtype))
        },
        FunctionSpec(name: "diag_matrix", parameters: [.init("v", .vector)],
                     summary: "The diagonal matrix with v on its diagonal (diag form: NNGeometry's PMatDiag).",
                     example: "let D = diag_matrix(diag(F));") { args, _ in
            let (vector, collectionName) = try args.vector("v")
            return .matrix(value(try StructuredMatrix.diagonal(vector.typed(Double.self)), collectionName, vector.dtype))
        },
        FunctionSpec(name: "to_ekfac", parameters: [.init("M", .matrix)],
                     summary: "Every kfac block as ekfac, exactly: the factors' eigenbases and D = λ_G ⊗ λ_A (other blocks unchanged).",
                     example: "let E = to_ekfac(K);") { args, evaluator in
            let m = try args.matrix("M")
            // Of a stored matrix, lazy: `let` then stores it a block at a time.
            if let lazy = m.transformingStoredForms(BlockTransform { block, layer in try (block as? KFACForm)?.eigenform(layer: layer) ?? block }) {
                return .matrix(lazy)
            }
            guard let forms = try m.structuredForm(store: evaluator.store) else { throw args.error("M has dense blocks only; there is no kfac block to convert") }
            return .matrix(value(try forms.eigenforms(), m.collectionName, m.dtype))
        },
        FunctionSpec(name: "to_dense", parameters: [.init("M", .matrix)],
                     summary: "The explicit dense blocks of any matrix (refused with the size when they would not fit memory).",
                     example: "let Kd = to_dense(K);") { args, evaluator in
            let m = try args.matrix("M")
            guard let forms = try m.structuredForm(store: evaluator.store) else { return .matrix(m) }
            let dense = try forms.denseBlocks()
            return .matrix(MatrixValue(origin: .memory(.float64(dense)), collection: m.collection, collectionName: m.collectionName,
                                       dtype: m.dtype, isSymmetric: dense.isSymmetric))
        },
        FunctionSpec(name: "to_diag", parameters: [.init("M", .matrix)],
                     summary: "The diagonal of any matrix, as a diag matrix.", example: "let Fd = to_diag(F);") { args, evaluator in
            let m = try args.matrix("M")
            guard case .vector(let diagonal, _) = try MatrixOperations.diagonal(m, session: evaluator.session) else {
                preconditionFailure("a diagonal is a vector")
            }
            return .matrix(value(try StructuredMatrix.diagonal(diagonal.typed(Double.self)), m.collectionName, m.dtype))
        },
        FunctionSpec(name: "mixed", parameters: [.init("K", .matrix), .init("D", .matrix)],
                     summary: "One matrix from two over the same collection: the blocks of K for Linear, Conv1d, Conv2d and Embedding layers, those of D for the others (norms): NNGeometry's PMatEKFACBlockDiag.",
                     example: "let M = mixed(random_kfac(gpt2, seed=1), to_diag(F));") { args, evaluator in
            let k = try args.matrix("K"), d = try args.matrix("D")
            guard k.collection == d.collection else {
                throw args.error("K and D are over different collections; a mixed matrix takes its blocks from matrices over the same collection")
            }
            let store = evaluator.store
            let kForms = try k.structuredForm(store: store), dForms = try d.structuredForm(store: store)
            var blocks: [any BlockForm] = []
            for (position, entry) in k.collection.entries.enumerated() {
                let source = KroneckerGeometry.kinds.contains(entry.layer.kind) ? (k, kForms) : (d, dForms)
                if let forms = source.1 {
                    blocks.append(forms.blocks[position])
                } else {
                    try MemoryBudget.require(Double(entry.layer.numel) * Double(entry.layer.numel) * 8, for: "the dense block of layer '\(entry.name)'")
                    let block: [Double] = try source.0.block(at: position, store: store, as: Double.self)
                    blocks.append(DenseForm(block: Matrix64(rows: entry.layer.numel, columns: entry.layer.numel, values: block)))
                }
            }
            return .matrix(value(try StructuredMatrix(collection: k.collection, blocks: blocks), k.collectionName ?? d.collectionName,
                                 Arithmetic.promote(k.dtype, d.dtype)))
        },
        FunctionSpec(name: "inv_pi", parameters: [.init("M", .matrix), .init("regul", .number)],
                     summary: "NNGeometry's π-damped inverse of kfac blocks, (A + π√λ I)^-1 ⊗ (G + √λ/π I)^-1 with π = sqrt((tr A / dim A) / (tr G / dim G)): NOT the inverse of M + λ I (inv is, exactly); other blocks are inverted exactly.",
                     example: "let P = inv_pi(K, 1e-3);") { args, evaluator in
            let m = try args.matrix("M")
            let regularization = try args.number("regul")
            guard regularization >= 0, regularization.isFinite else {
                throw args.error("regul must be a non-negative number (π-damping takes its square root), got \(ResultTable.format(regularization))")
            }
            guard let forms = try m.structuredForm(store: evaluator.store) else { throw args.error("M has dense blocks only; use inv") }
            var blocks: [any BlockForm] = []
            for (index, block) in forms.blocks.enumerated() {
                let layer = forms.collection.names[index]
                if let kfac = block as? KFACForm {
                    blocks.append(try kfac.piDampedInverse(regularization: regularization, layer: layer))
                } else {
                    blocks.append(try block.inverse(regularization: regularization, layer: layer))
                }
            }
            return .matrix(value(try StructuredMatrix(collection: forms.collection, blocks: blocks), m.collectionName, m.dtype))
        },
    ]

    /// A matrix value holding `forms`.
    static func value(_ forms: StructuredMatrix, _ collectionName: String?, _ dtype: DType) -> MatrixValue {
        let symmetric = forms.blocks.allSatisfy { ($0 as? DenseForm)?.isExactlySymmetric ?? true }
        return MatrixValue(origin: .structured(forms), collection: forms.collection, collectionName: collectionName,
                           dtype: dtype, isSymmetric: symmetric)
    }
}
