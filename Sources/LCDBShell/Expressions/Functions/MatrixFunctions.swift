import LCDBCore

enum MatrixFunctions {
    static let all: [FunctionSpec] = [
        FunctionSpec(name: "mv", parameters: [.init("M", .matrix), .init("v", .vector), FunctionSpec.layers],
                     summary: "Matrix-vector product M v, block by block (also written M * v).", example: "let Fg = mv(F, g);") { args, evaluator in
            try MatrixOperations.product(try args.matrix("M"), try args.vector("v").vector, matching: args.matching, session: evaluator.session)
        },
        FunctionSpec(name: "vtmv", parameters: [.init("M", .matrix), .init("v", .vector), FunctionSpec.layers],
                     summary: "The quadratic form vᵀ M v.", example: "vtmv(F, g);") { args, evaluator in
            .number(try MatrixOperations.quadraticForm(try args.matrix("M"), try args.vector("v").vector, matching: args.matching,
                                                       session: evaluator.session))
        },
        FunctionSpec(name: "mm", parameters: [.init("A", .matrix), .init("B", .matrix)],
                     summary: "Block-by-block matrix product A B (also written A * B).", example: "let F2 = mm(F, F);") { args, _ in
            .matrix(try MatrixOperations.matrixProduct(try args.matrix("A"), try args.matrix("B")))
        },
        FunctionSpec(name: "trace", parameters: [.init("M", .matrix)],
                     summary: "Sum of the diagonal.", example: "trace(F);") { args, evaluator in
            .number(try MatrixOperations.trace(try args.matrix("M"), session: evaluator.session))
        },
        FunctionSpec(name: "frobenius", parameters: [.init("M", .matrix)],
                     summary: "Frobenius norm: square root of the sum of squares of all entries.", example: "frobenius(F);") { args, evaluator in
            .number(try MatrixOperations.frobeniusNorm(try args.matrix("M"), session: evaluator.session))
        },
        FunctionSpec(name: "diag", parameters: [.init("M", .matrix)],
                     summary: "The diagonal as a vector.", example: "let d = diag(F);") { args, evaluator in
            try MatrixOperations.diagonal(try args.matrix("M"), session: evaluator.session)
        },
        FunctionSpec(name: "inv", parameters: [.init("M", .matrix), .init("regul", .number, default: .number(0))],
                     summary: "(M + regul I)^-1, block by block: Cholesky when positive definite, else LU.",
                     example: "let Finv = inv(F, regul=1e-3);") { args, _ in
            .matrix(MatrixOperations.inverse(try args.matrix("M"), regularization: try args.number("regul")))
        },
        FunctionSpec(name: "solve", parameters: [.init("M", .matrix), .init("v", .vector), .init("regul", .number, default: .number(0)), FunctionSpec.layers],
                     summary: "(M + regul I)^-1 v, block by block (a natural-gradient step).",
                     example: "let step = solve(F, g, regul=1e-3);") { args, evaluator in
            try MatrixOperations.solve(try args.matrix("M"), try args.vector("v").vector, regularization: try args.number("regul"),
                                       matching: args.matching, session: evaluator.session)
        },
    ]
}
