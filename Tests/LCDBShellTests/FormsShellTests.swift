import Foundation
import Testing

/// Structured forms from the shell, on the binaries users run: every
/// operation on kfac, ekfac, diag, identity and mixed matrices agrees with
/// the same operation on their explicit dense blocks (`to_dense`), stored or
/// in memory, float64 within 1e-12 relative (solves within 1e-10).
@Suite(.serialized)
struct FormsShellTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws { scratch = try ScratchFolder("lcdb-forms") }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// The values a csv run printed, one per `value` table.
    static func values(_ stdout: String) -> [Double] {
        let lines = stdout.split(separator: "\n").map(String.init)
        return zip(lines, lines.dropFirst()).compactMap { $0.0 == "value" ? Double($0.1) : nil }
    }

    static let setup = """
        create collection net (wte Embedding(10, 4), ln LayerNorm(4), fc Linear(4, 3), fc2 Linear(3, 2, bias=false), conv Conv2d(2, 3, 2), conv1 Conv1d(2, 2, 3));
        let K = random_kfac(net, seed=1);
        let Kd = to_dense(K);
        let g = randn(net, seed=2);
        let h = randn(net, seed=3);
        """

    /// Each operation on `m` against `d`, its dense blocks: pairs of values,
    /// the difference's size and the reference's size for vectors, the two
    /// numbers for vtmv, trace and frobenius (the shell has no `/` or `abs` yet).
    static func comparisons(_ m: String, _ d: String) -> String {
        """
        norm(mv(\(m), g) - mv(\(d), g)); norm(mv(\(d), g));
        vtmv(\(m), h); vtmv(\(d), h);
        trace(\(m)); trace(\(d));
        frobenius(\(m)); frobenius(\(d));
        norm(diag(\(m)) - diag(\(d))); norm(diag(\(d)));
        norm(mv(-2.5 * (\(m)), g) - -2.5 * mv(\(d), g)); norm(mv(\(d), g));
        norm(solve(\(m), g, regul=0.3) - solve(\(d), g, regul=0.3)); norm(solve(\(d), g, regul=0.3));
        norm(mv(inv(\(m), regul=0.3), g) - solve(\(d), g, regul=0.3)); norm(solve(\(d), g, regul=0.3));

        """
    }

    @Test func everyOperationOnEveryFormAgreesWithDenseBlocks() throws {
        for binary in LCDBProcess.binaries() {
            let executable = try #require(binary.path, "the \(binary.name) binary is missing: run the tests with `make test`")
            let db = path("forms-\(binary.name).lcdb")
            let made = try LCDBProcess.run(["--no-init", db, "-c", Self.setup + """
                let E = to_ekfac(K);
                let Ki = inv(K, regul=0.3);
                let D = to_diag(K);
                let S = K + 0.5 * eye(net);
                let M = mixed(K, D);
                """], executableOverride: executable)
            #expect(made.status == 0, "\(binary.name): \(made.stderr)")
            // In a new process: stored forms, read back, against stored dense blocks.
            let script = Self.comparisons("K", "Kd") + Self.comparisons("E", "Kd") + Self.comparisons("random_kfac(net, seed=1)", "Kd")
                + Self.comparisons("D", "to_diag(Kd)") + Self.comparisons("S", "Kd + 0.5 * identity(net)")
                + Self.comparisons("K + 0.5 * eye(net)", "Kd + 0.5 * identity(net)")
                + Self.comparisons("mixed(K, D)", "to_dense(M)") + Self.comparisons("mm(K, K)", "mm(Kd, Kd)")
                + Self.comparisons("Ki", "to_dense(inv(Kd, regul=0.3))")
                + "norm(mv(K + K, g) - 2 * mv(Kd, g)); norm(mv(Kd, g));\n"
                + "trace(K + E); 2 * trace(Kd);\n"
                // solve undoes (M + λI); inverse times M + λ I is the identity.
                + "norm(solve(K, mv(K, g) + 0.3 * g, regul=0.3) - g); norm(g);\n"
                + "norm(mv(Ki, mv(K, h) + 0.3 * h) - h); norm(h);\n"
            let run = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", script], executableOverride: executable)
            #expect(run.status == 0, "\(binary.name): \(run.stderr)")
            let values = Self.values(run.stdout)
            #expect(values.count == 2 * (9 * 8 + 4), "\(binary.name): \(run.stdout)")
            for index in stride(from: 0, to: values.count - 1, by: 2) {
                let comparison = index / 2
                let scalar = comparison < 72 ? [1, 2, 3].contains(comparison % 8) : comparison == 73
                let relative = scalar ? abs(values[index] - values[index + 1]) / abs(values[index + 1]) : values[index] / values[index + 1]
                let tolerance = comparison % 8 >= 6 || comparison >= 72 ? 1e-10 : 1e-12
                #expect(values[index + 1] != 0 && relative <= tolerance, "\(binary.name): comparison \(comparison) is \(values[index]) / \(values[index + 1])")
            }
        }
    }

    /// float32 matrices in forms agree with their float32 dense blocks within
    /// 1e-5 relative (the float32 tolerance): forms compute in float64
    /// from the stored float32 parts, dense blocks stream in float32.
    /// `mv` of a stored matrix in forms and a stored vector reads the vector
    /// a layer at a time beside the blocks: the same values, bit for bit, as
    /// with the vector read whole first (`1 * g` is computed, so it is), for
    /// float64 and float32 vectors and matrices; the vector stays an input of
    /// the result's provenance; a vector over another collection still aligns
    /// with `layers=common`; a wrong argument is named as before.
    @Test func mvReadsAStoredVectorBesideTheBlocks() throws {
        for binary in LCDBProcess.binaries() {
            let executable = try #require(binary.path, "the \(binary.name) binary is missing: run the tests with `make test`")
            let db = path("stored-vector-\(binary.name).lcdb")
            let run = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", Self.setup + """
                let K32 = random_kfac(net, seed=1, dtype=float32);
                let g32 = randn(net, seed=2, dtype=float32);
                norm(mv(K, g) - mv(K, 1 * g)); norm(mv(K, g32) - mv(K, 1 * g32));
                norm(mv(K32, g) - mv(K32, 1 * g)); norm(mv(K32, g32) - mv(K32, 1 * g32));
                norm(K * g - mv(K, 1 * g)); norm(2 * K32 * g32 - 2 * mv(K32, 1 * g32));
                create collection small (fc Linear(4, 3));
                let s = randn(small, seed=4);
                norm(mv(K, s, layers=common) - mv(K, 1 * s, layers=common));
                let y = mv(K32, g32);
                select dtype from vectors where name = 'y';
                select input from provenance_inputs where name = 'y' order by input;
                let z = K * g;
                select input from provenance_inputs where name = 'z' order by input;
                """], executableOverride: executable)
            #expect(run.status == 0, "\(binary.name): \(run.stderr)")
            #expect(Self.values(run.stdout) == [0, 0, 0, 0, 0, 0, 0], "\(binary.name): \(run.stdout)")
            #expect(run.stdout.hasSuffix("dtype\nfloat32\ninput\nK32\ng32\ninput\nK\ng\n"), "\(binary.name): \(run.stdout)")
            for (statement, message) in [("mv(K, nosuch);", "no vector, matrix or collection 'nosuch'"), ("mv(K, K);", "mv: v must be a vector, not a matrix"),
                                         ("K * nosuch;", "no vector, matrix or collection 'nosuch'"), ("K * s;", "over different collections")] {
                let wrong = try LCDBProcess.run(["--no-init", db, "-c", statement], executableOverride: executable)
                #expect(wrong.status != 0 && wrong.stderr.contains(message), "\(binary.name): \(wrong.stderr)")
            }
        }
    }

    /// `norm(mv(K, g))`, `norm(K * g)` and `vtmv(K, g)` of a stored matrix
    /// in forms and a stored vector reduce each block's share of K g as it
    /// is computed (K g never held whole): each equals the same reduction of
    /// the stored product within 1e-12 relative (only the order of the sums
    /// differs), float64 and float32 (where the product is float32 first);
    /// errors are those of `mv`. Arguments by name too (`M=K`: a parameter's
    /// name matches in any case, as function names do).
    @Test func reductionsOfAStoredProductEqualThoseOfTheWholeProduct() throws {
        for binary in LCDBProcess.binaries() {
            let executable = try #require(binary.path, "the \(binary.name) binary is missing: run the tests with `make test`")
            let db = path("reduced-\(binary.name).lcdb")
            let run = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", Self.setup + """
                let K32 = random_kfac(net, seed=1, dtype=float32);
                let g32 = randn(net, seed=2, dtype=float32);
                let z = mv(K, 1 * g);
                let z32 = mv(K32, 1 * g32);
                norm(mv(K, g)); norm(z); norm(K * g, 1); norm(z, 1); norm(mv(K, g), inf); norm(z, inf);
                vtmv(K, g); dot(g, z); vtmv(K, 1 * g); dot(g, z);
                norm(mv(K32, g32)); norm(z32); vtmv(K32, g32); dot(g32, z32); norm(K32 * g32, inf); norm(z32, inf);
                norm(mv(M=K, v=g)); norm(z); vtmv(v=g, M=K); dot(g, z);
                """], executableOverride: executable)
            #expect(run.status == 0, "\(binary.name): \(run.stderr)")
            let values = Self.values(run.stdout)
            #expect(values.count == 20, "\(binary.name): \(run.stdout)")
            for pair in stride(from: 0, to: values.count - 1, by: 2) {
                let relative = abs(values[pair] - values[pair + 1]) / abs(values[pair + 1])
                #expect(values[pair + 1] != 0 && relative <= 1e-12, "\(binary.name): pair \(pair / 2): \(values[pair]) vs \(values[pair + 1])")
            }
            #expect(try LCDBProcess.run(["--no-init", db, "-c", "create collection small (fc Linear(4, 3)); let s = randn(small, seed=4);"]).status == 0)
            for (statement, message) in [("norm(mv(K, nosuch));", "no vector, matrix or collection 'nosuch'"),
                                         ("norm(K * s);", "over different collections"), ("vtmv(K, s);", "over different collections"),
                                         ("norm(mv(K, K));", "mv: v must be a vector, not a matrix")] {
                let wrong = try LCDBProcess.run(["--no-init", db, "-c", statement], executableOverride: executable)
                #expect(wrong.status != 0 && wrong.stderr.contains(message), "\(binary.name): \(statement) \(wrong.stderr)")
            }
        }
    }

    @Test func float32FormsAgreeWithFloat32DenseBlocks() throws {
        let db = path("float32.lcdb")
        let script = Self.setup + """
            let K32 = random_kfac(net, seed=1, dtype=float32);
            let Kd32 = to_dense(K32);
            let g32 = cast(g, float32);
            """ + Self.comparisons("K32", "Kd32").replacingOccurrences(of: "g)", with: "g32)").replacingOccurrences(of: " h)", with: " cast(h, float32))")
        let run = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", script])
        #expect(run.status == 0, "\(run.stderr)")
        let values = Self.values(run.stdout)
        #expect(values.count == 16, "\(run.stdout)")
        for index in stride(from: 0, to: values.count - 1, by: 2) {
            let comparison = index / 2
            let relative = [1, 2, 3].contains(comparison) ? abs(values[index] - values[index + 1]) / abs(values[index + 1])
                : values[index] / values[index + 1]
            #expect(relative <= 1e-5, "comparison \(comparison): \(values[index]) against \(values[index + 1])")
        }
    }

    @Test func showListsFormsAndTheViewsDescribeThem() throws {
        let db = path("show.lcdb")
        let run = try LCDBProcess.run(["--no-init", db, "-c", Self.setup + "show K; list matrices;"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("wte    kfac") && run.stdout.contains("A (10,), G (4, 4)"), "\(run.stdout)")
        #expect(run.stdout.contains("ln     dense") && run.stdout.contains("block (8, 8)"), "\(run.stdout)")
        #expect(run.stdout.contains("matrix K over net: mixed, float64, 6 blocks"), "\(run.stdout)")
        let sql = try LCDBProcess.run([db, "SELECT layer || ':' || form FROM matrix_blocks WHERE matrix = 'K' ORDER BY position;"],
                                      executableOverride: "/usr/bin/sqlite3")
        #expect(sql.stdout == "wte:kfac\nln:dense\nfc:kfac\nfc2:kfac\nconv:kfac\nconv1:kfac\n", "\(sql.stdout)\(sql.stderr)")
        let parts = try LCDBProcess.run([db, "SELECT part || ' ' || shape || ' ' || layout FROM matrix_parts WHERE matrix = 'K' AND layer = 'wte' ORDER BY part;"],
                                        executableOverride: "/usr/bin/sqlite3")
        #expect(parts.stdout == "A [10] full\nG [4, 4] upper\n", "\(parts.stdout)\(parts.stderr)")
    }

    /// `pairs` pairs of printed values within 1e-12 relative: the first
    /// `differences` are a difference's norm and the reference's norm, the
    /// rest two numbers that should be equal.
    /// Runs the setup and then `statements` in `db`, expecting success.
    static func store(_ db: String, _ statements: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let made = try LCDBProcess.run(["--no-init", db, "-c", setup + statements])
        #expect(made.status == 0, "\(made.stderr)", sourceLocation: sourceLocation)
    }

    /// Runs `checks` in `db` (csv) and expects their printed pairs to agree
    /// (`expectPairsAgree`); returns the output.
    @discardableResult
    static func expectChecksAgree(_ db: String, _ checks: String, pairs: Int, differences: Int,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let run = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", checks])
        #expect(run.status == 0, "\(run.stderr)", sourceLocation: sourceLocation)
        expectPairsAgree(run.stdout, pairs: pairs, differences: differences, sourceLocation: sourceLocation)
        return run.stdout
    }

    static func expectPairsAgree(_ stdout: String, pairs: Int, differences: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let values = Self.values(stdout)
        #expect(values.count == 2 * pairs, "\(stdout)", sourceLocation: sourceLocation)
        for index in stride(from: 0, to: values.count - 1, by: 2) {
            let (value, reference) = (values[index], values[index + 1])
            let relative = index < 2 * differences ? value / reference : abs(value - reference) / abs(reference)
            #expect(reference != 0 && relative <= 1e-12, "comparison \(index / 2): \(value) vs \(reference)", sourceLocation: sourceLocation)
        }
    }

    /// kfac matrices that share a factor in every block sum to kfac exactly
    /// (`K + K`; `K - 0.25 * K`, the scalar on one factor): stored as kfac,
    /// equal to the sum of the dense blocks within 1e-12 relative.
    @Test func kfacSumsSharingAFactorStayKFAC() throws {
        let db = path("shared-factor.lcdb")
        try Self.store(db, "let S = K + K; let T = K - 0.25 * K;")
        let stdout = try Self.expectChecksAgree(db, """
            norm(mv(S, g) - 2 * mv(Kd, g)); norm(mv(Kd, g));
            norm(mv(T, g) - 0.75 * mv(Kd, g)); norm(mv(Kd, g));
            trace(S); 2 * trace(Kd);
            frobenius(T); 0.75 * frobenius(Kd);
            select matrix || ':' || form || ':' || count(*) as forms from matrix_blocks where matrix in ('S', 'T') group by matrix, form order by matrix, form;
            """, pairs: 4, differences: 2)
        #expect(stdout.hasSuffix("forms\nS:dense:1\nS:kfac:5\nT:dense:1\nT:kfac:5\n"), "\(stdout)")
    }

    /// Dense + anything and dense x anything are dense: with a dense operand
    /// (stored, in memory or generated) a result in forms is stored as dense
    /// blocks, equal to the same expression on the dense blocks (1e-12 relative).
    @Test func formsCombinedWithADenseMatrixStoreDenseBlocks() throws {
        let db = path("with-dense.lcdb")
        try Self.store(db, """
            let D = to_diag(K); let S = random_spd(net, seed=4);
            let A = K + Kd; let B = mm(Kd, K); let C = mm(D, Kd) - 0.5 * K; let P = K + S; let Q = inv(K + 2 * S, regul=0.1);
            """)
        let stdout = try Self.expectChecksAgree(db, """
            norm(mv(A, g) - 2 * mv(Kd, g)); norm(mv(Kd, g));
            norm(mv(B, g) - mv(Kd, mv(Kd, g))); norm(mv(Kd, mv(Kd, g)));
            norm(mv(C, g) - (mv(D, mv(Kd, g)) - 0.5 * mv(Kd, g))); norm(mv(D, mv(Kd, g)) - 0.5 * mv(Kd, g));
            norm(mv(P, g) - (mv(Kd, g) + mv(S, g))); norm(mv(Kd, g) + mv(S, g));
            norm(mv(Q, g) - solve(Kd + 2 * S, g, regul=0.1)); norm(solve(Kd + 2 * S, g, regul=0.1));
            select group_concat(name || ':' || representation, ' ') as kinds from (select name, representation from matrices where name in ('A', 'B', 'C', 'P', 'Q') order by name);
            """, pairs: 5, differences: 5)
        #expect(stdout.hasSuffix("kinds\nA:blockdiag B:blockdiag C:blockdiag P:blockdiag Q:blockdiag\n"), "\(stdout)")
    }

    /// `let E = to_ekfac(K)`, `eig(K)` and `inv(K, regul)` of a stored K are
    /// read, transformed and written a block at a time; they store what the
    /// same functions of K in memory (`1 * K`) store: the same forms, parts,
    /// shapes and layouts, and equal values (1e-12 relative through mv); used
    /// without let they compute in memory as before.
    @Test func transformsOfAStoredMatrixStoreWhatTheyStoreInMemory() throws {
        let db = path("transforms.lcdb")
        try Self.store(db, """
            let E = to_ekfac(K); let E1 = to_ekfac(1 * K);
            let P = eig(K); let P1 = eig(1 * K);
            let Ki = inv(K, regul=0.3); let Ki1 = inv(1 * K, regul=0.3);
            """)
        for (streamed, inMemory) in [("E", "E1"), ("P", "P1"), ("Ki", "Ki1")] {
            let parts = try LCDBProcess.run([db, """
                SELECT layer || ' ' || form || ' ' || part || ' ' || shape || ' ' || layout FROM matrix_parts WHERE matrix = '\(streamed)' ORDER BY position, part;
                SELECT representation || ' ' || dtype || ' ' || symmetric FROM matrices WHERE name = '\(streamed)';
                """], executableOverride: "/usr/bin/sqlite3")
            let expected = try LCDBProcess.run([db, """
                SELECT layer || ' ' || form || ' ' || part || ' ' || shape || ' ' || layout FROM matrix_parts WHERE matrix = '\(inMemory)' ORDER BY position, part;
                SELECT representation || ' ' || dtype || ' ' || symmetric FROM matrices WHERE name = '\(inMemory)';
                """], executableOverride: "/usr/bin/sqlite3")
            #expect(parts.stdout == expected.stdout && parts.stdout.count > 100, "\(streamed): \(parts.stdout) vs \(expected.stdout)")
        }
        try Self.expectChecksAgree(db, """
            norm(mv(E, g) - mv(E1, g)); norm(mv(E1, g));
            norm(mv(P, g) - mv(Kd, g)); norm(mv(Kd, g));
            norm(mv(Ki, g) - mv(Ki1, g)); norm(mv(Ki1, g));
            trace(to_ekfac(K)); trace(Kd);
            trace(eig(K)); trace(Kd);
            """, pairs: 5, differences: 3)
    }

    @Test func formsThatCannotHoldAResultSayWhy() throws {
        let db = path("errors.lcdb")
        #expect(try LCDBProcess.run(["--no-init", db, "-c", Self.setup + "create collection other (a Linear(2, 2)); create collection big (h Linear(3000, 3000)); create collection huge (h Linear(50000, 50000));"]).status == 0)
        let cases: [(String, String)] = [
            ("let KK = K + random_kfac(net, seed=2);", "cannot be stored in forms: block 'wte': kfac + kfac has no exact form (kfac + kfac is kfac only when the two share a factor"),
            ("let KD = mm(K, to_diag(K));", "cannot be stored in forms: block 'wte': kfac x diag has no exact form"),
            ("let KE = 2 * inv(K + to_ekfac(random_kfac(net, seed=2)), regul=0.1);", "block 'wte': kfac + ekfac has no exact form;"),
            ("let EE = to_ekfac(K) + to_ekfac(random_kfac(net, seed=2));", "block 'wte': ekfac + ekfac has no exact form (ekfac + ekfac is ekfac only over the same eigenbases)"),
            ("let M = mixed(K, random_kfac(other));", "mixed: K and D are over different collections"),
            ("let B = to_dense(random_kfac(big));", "the dense blocks of this matrix"),
            ("let H = random_kfac(huge);", "the random Kronecker factors"),
            ("let T = to_ekfac(Kd);", "to_ekfac: M has dense blocks only"),
            ("solve(K - K, g);", "is singular"),
            ("let P = inv_pi(K, -1);", "inv_pi: regul must be a non-negative number (π-damping takes its square root), got -1"),
            ("let P = inv_pi(K - 2 * K, 0.1);", "block 'wte': π-damping needs factors with positive traces"),
        ]
        for (statement, expected) in cases {
            let run = try LCDBProcess.run(["--no-init", db, "-c", statement])
            #expect(run.status == 1 && run.stderr.contains(expected), "\(statement): \(run.stderr)")
        }
        let listed = try LCDBProcess.run(["--no-init", db, "-c", "list matrices;"])
        #expect(!listed.stdout.contains("KK") && !listed.stdout.contains("KD") && !listed.stdout.contains("KE") && !listed.stdout.contains("EE") && !listed.stdout.contains("P ") && !listed.stdout.contains(" B ") && !listed.stdout.contains("T "), "nothing stored: \(listed.stdout)")
    }
}
