import LCDBCore

enum MatrixFunctions {
    static let all: [FunctionSpec] = [
        FunctionSpec(name: "mv", parameters: [.init("M", .anyMatrix), .init("v", .vector, mayStayStored: true), FunctionSpec.layers],
                     summary: "Matrix-vector product M v, block by block (also written M * v).", example: "let Fg = mv(F, g);") { args, evaluator in
            if let low = args.whole("M") { return try low.product(try args.vector("v").vector) }
            let m = try args.matrix("M")
            if let stored = args.storedVector("v"), let product = try MatrixOperations.storedProduct(m, vectorNamed: stored, session: evaluator.session) {
                return product
            }
            return try MatrixOperations.product(m, try args.vector("v").vector, matching: args.matching, session: evaluator.session)
        },
        FunctionSpec(name: "vtmv", parameters: [.init("M", .anyMatrix), .init("v", .vector, mayStayStored: true), FunctionSpec.layers],
                     summary: "The quadratic form vᵀ M v.", example: "vtmv(F, g);") { args, evaluator in
            if let low = args.whole("M") { return .number(try low.quadraticForm(try args.vector("v").vector)) }
            if let stored = args.storedVector("v"),
               let value = try MatrixOperations.storedProduct(try args.matrix("M"), vectorNamed: stored, reducedTo: .quadraticForm,
                                                              session: evaluator.session) {
                return .number(value)
            }
            return .number(try MatrixOperations.quadraticForm(try args.matrix("M"), try args.vector("v").vector, matching: args.matching,
                                                       session: evaluator.session))
        },
        FunctionSpec(name: "mm", parameters: [.init("A", .matrix), .init("B", .matrix)],
                     summary: "Block-by-block matrix product A B (also written A * B).", example: "let F2 = mm(F, F);") { args, _ in
            .matrix(try MatrixOperations.matrixProduct(try args.matrix("A"), try args.matrix("B")))
        },
        FunctionSpec(name: "trace", parameters: [.init("M", .anyMatrix)],
                     summary: "Sum of the diagonal.", example: "trace(F);") { args, evaluator in
            if let low = args.whole("M") { return .number(try low.matrix.trace()) }
            return .number(try MatrixOperations.trace(try args.matrix("M"), session: evaluator.session))
        },
        FunctionSpec(name: "frobenius", parameters: [.init("M", .anyMatrix)],
                     summary: "Frobenius norm: square root of the sum of squares of all entries.", example: "frobenius(F);") { args, evaluator in
            if let low = args.whole("M") { return .number(try low.matrix.frobeniusNorm()) }
            return .number(try MatrixOperations.frobeniusNorm(try args.matrix("M"), session: evaluator.session))
        },
        FunctionSpec(name: "diag", parameters: [.init("M", .anyMatrix)],
                     summary: "The diagonal as a vector.", example: "let d = diag(F);") { args, evaluator in
            if let low = args.whole("M") { return try low.diagonal() }
            return try MatrixOperations.diagonal(try args.matrix("M"), session: evaluator.session)
        },
        FunctionSpec(name: "inv", parameters: [.init("M", .anyMatrix), .init("regul", .number, default: .number(0))],
                     summary: "(M + regul I)^-1, block by block: Cholesky when positive definite, else LU. A low-rank M stays low-rank, exactly (Woodbury: c I + Jᵀ S J becomes c' I + Jᵀ S' J with the same J).",
                     example: "let Finv = inv(F, regul=1e-3);") { args, _ in
            if let low = args.whole("M") { return .whole(low.with(try low.matrix.inverse(regularization: try args.number("regul")))) }
            return .matrix(MatrixOperations.inverse(try args.matrix("M"), regularization: try args.number("regul")))
        },
        FunctionSpec(name: "solve", parameters: [.init("M", .anyMatrix), .init("v", .vector), .init("regul", .number, default: .number(0)), FunctionSpec.layers],
                     summary: "(M + regul I)^-1 v, block by block (a natural-gradient step); a low-rank M through the n x n system c I + K S (Woodbury, exact: the null space of J is kept).",
                     example: "let step = solve(F, g, regul=1e-3);") { args, evaluator in
            if let low = args.whole("M") { return try low.solve(try args.vector("v").vector, regularization: try args.number("regul")) }
            return try MatrixOperations.solve(try args.matrix("M"), try args.vector("v").vector, regularization: try args.number("regul"),
                                       matching: args.matching, session: evaluator.session)
        },
    ]
}
