import Foundation
import Testing

/// Spectra, log-determinants, powers, effective dimension, sampling and kept
/// eigendecompositions from the shell: against NumPy (`eigvalsh`, `slogdet`,
/// powers through `eigh`) on the exported dense blocks, for every form
/// (kfac, ekfac, eigen, diag, identity, stored dense, mixed), float64 within
/// 1e-10 relative and float32 (every form again) within 1e-4; then the reuse of a kept
/// decomposition, sampling's definition, and bad input.
@Suite(.serialized)
struct SpectraShellTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws { scratch = try ScratchFolder("lcdb-spectra") }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    static let setup = """
        create collection net (wte Embedding(7, 3), ln LayerNorm(3), fc Linear(3, 4), head Linear(4, 2, bias=false), conv Conv2d(2, 3, 2), c1 Conv1d(2, 2, 2));
        let K = random_kfac(net, seed=5);
        let Kd = to_dense(K);
        let E = to_ekfac(K);
        let U = eig(Kd);
        let D = to_diag(K);
        let I = eye(net, scale=0.7);
        let F = random_spd(net, seed=3);
        let K32 = random_kfac(net, seed=5, dtype=float32);
        let E32 = to_ekfac(K32);
        let F32 = random_spd(net, seed=3, dtype=float32);
        let U32 = eig(F32);
        let D32 = to_diag(K32);
        let I32 = eye(net, scale=0.7, dtype=float32);
        export matrix Kd to 'Kd.safetensors';
        export matrix F to 'F.safetensors';
        """

    @Test(arguments: ["debug", "release"])
    func everyFormAgreesWithNumPy(binary: String) throws {
        let lcdb = try #require(LCDBProcess.binaries().first { $0.name == binary }?.path, "run the tests with make test (release binary)")
        let db = path("s-\(binary).lcdb")
        let made = try LCDBProcess.run(["--no-init", db, "-c", Self.setup], in: folder, executableOverride: lcdb)
        #expect(made.status == 0, "\(made.stderr)")
        let python = #"""
            import os, subprocess
            import numpy as np
            from safetensors.numpy import load_file
            lcdb, db = os.environ["LCDB"], os.environ["DB"]
            def run(statements):
                result = subprocess.run([lcdb, "--no-init", "--format", "csv", db, "-c", statements], capture_output=True, text=True)
                assert result.returncode == 0, result.stderr
                return [line.split(",") for line in result.stdout.strip().split("\n")[1:]]
            layers = ["wte", "ln", "fc", "head", "conv", "c1"]
            Kd, F = load_file("Kd.safetensors"), load_file("F.safetensors")
            references = {"K": Kd, "E": Kd, "U": Kd, "Kd": Kd, "K32": Kd, "E32": Kd, "F": F, "F32": F, "U32": F,
                          "D": {n: np.diag(np.diag(Kd[n])) for n in layers},
                          "I": {n: 0.7 * np.eye(len(Kd[n])) for n in layers},
                          "D32": {n: np.diag(np.diag(Kd[n])) for n in layers},
                          "I32": {n: 0.7 * np.eye(len(Kd[n])) for n in layers},
                          "mixed(K, F)": {n: (F if n == "ln" else Kd)[n] for n in layers}}
            regul = 0.1
            for name, ref in references.items():
                tol = 1e-4 if name.endswith("32") else 1e-10
                # logdet(M + regul I) against slogdet per block
                for r in [0.0, regul]:
                    got = float(run(f"logdet({name}, regul={r});")[0][0])
                    signs, logs = zip(*(np.linalg.slogdet(ref[n] + r * np.eye(len(ref[n]))) for n in layers))
                    assert all(s == 1 for s in signs)
                    want = sum(logs)
                    assert abs(got - want) <= tol * max(1, abs(want)), (name, r, got, want)
                # every eigenvalue, sorted, each with its layer
                rows = run(f"eigvals({name});")
                got = np.array([float(row[1]) for row in rows])
                want = np.sort(np.concatenate([np.linalg.eigvalsh(ref[n]) for n in layers]))[::-1]
                scale = np.abs(want).max()
                assert [int(row[0]) for row in rows] == list(range(1, len(want) + 1))
                assert np.abs(got - want).max() <= tol * scale, (name, np.abs(got - want).max())
                for n in layers:
                    mine = np.sort([float(row[1]) for row in rows if row[2] == n])
                    assert np.abs(mine - np.linalg.eigvalsh(ref[n])).max() <= tol * scale, (name, n)
                # the k largest and smallest
                top = np.array([float(row[1]) for row in run(f"eigvals({name}, k=5);")])
                assert np.abs(top - want[:5]).max() <= tol * scale, (name, top, want[:5])
                bottom = np.array([float(row[1]) for row in run(f"eigvals({name}, k=4, which=smallest);")])
                assert np.abs(bottom - want[::-1][:4]).max() <= tol * scale, (name, bottom)
                # (M + regul I)^p through eigh
                for p in [-0.5, 0.5, -1.0, 1.5]:
                    run(f"let P = to_dense(pow({name}, {p}, regul={regul})); export matrix P to 'P.safetensors';")
                    P = load_file("P.safetensors")
                    for n in layers:
                        lam, u = np.linalg.eigh(ref[n])
                        want_p = u @ np.diag((lam + regul) ** p) @ u.T
                        assert np.abs(P[n] - want_p).max() <= tol * np.abs(want_p).max(), (name, p, n)
                # effective dimension
                got = float(run(f"effective_dim({name}, {regul});")[0][0])
                lam = np.concatenate([np.linalg.eigvalsh(ref[n]) for n in layers])
                want_d = float(np.sum(lam / (lam + regul)))
                assert abs(got - want_d) <= tol * want_d, (name, got, want_d)
            print("python ok")
            """#
        let py = try LCDBProcess.run(["-c", python], in: folder, environment: ["LCDB": lcdb, "DB": db],
                                     executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.stdout == "python ok\n", "\(py.stdout)\(py.stderr)")
    }

    /// The values a csv run printed, one per `value` table.
    static func values(_ stdout: String) -> [Double] {
        let lines = stdout.split(separator: "\n").map(String.init)
        return zip(lines, lines.dropFirst()).compactMap { $0.0 == "value" ? Double($0.1) : nil }
    }

    /// eig's result is stored as eigen blocks and reused: logdet, solve and
    /// pow from it equal those of the dense matrix, shifted by `+ s * eye`;
    /// sample is (M + regul I)^(-1/2) randn(C, seed).
    @Test(arguments: ["debug", "release"])
    func keptDecompositionsAndSamples(binary: String) throws {
        let lcdb = try #require(LCDBProcess.binaries().first { $0.name == binary }?.path, "run the tests with make test (release binary)")
        let db = path("k-\(binary).lcdb")
        let out = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", """
            create collection net (fc Linear(5, 4), ln LayerNorm(4), emb Embedding(6, 3));
            let F = random_spd(net, seed=2);
            let g = randn(net, seed=4);
            let E = eig(F);
            """], in: folder, executableOverride: lcdb)
        #expect(out.status == 0, "\(out.stderr)")
        let listing = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", "list matrices;"], in: folder, executableOverride: lcdb)
        #expect(listing.stdout.contains("\nE,net,eigen,float64,"), "\(listing.stdout)")
        let checks = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", """
            logdet(E, regul=0.1) - logdet(F, regul=0.1);
            logdet(E + eye(net, scale=0.1)) - logdet(F, regul=0.1);
            logdet(2 * E) - logdet(2 * F);
            norm(solve(E, g, regul=0.3) - solve(F, g, regul=0.3));
            norm(mv(pow(E, -0.5, regul=0.2), g) - mv(pow(F, -0.5, regul=0.2), g));
            norm(sample(F, seed=3, regul=0.1) - mv(pow(F, -0.5, regul=0.1), randn(net, seed=3)));
            norm(sample(F, seed=3, cov=matrix) - mv(pow(F, 0.5), randn(net, seed=3)));
            norm(sample(E, seed=3, regul=0.1) - sample(F, seed=3, regul=0.1));
            norm(sample(F, seed=3) - sample(F, seed=4));
            norm(sample(F, seed=3));
            """], in: folder, executableOverride: lcdb)
        #expect(checks.status == 0, "\(checks.stderr)")
        let values = Self.values(checks.stdout)
        try #require(values.count == 10, "\(checks.stdout)")
        for (index, value) in values[0 ..< 5].enumerated() { #expect(abs(value) < 1e-10, "check \(index): \(value)") }
        #expect(values[5] == 0 && values[6] == 0, "sample is the power times randn: \(values)")
        #expect(values[7] < 1e-10, "the kept decomposition samples the same: \(values[7])")
        #expect(values[8] > 0.1 * values[9], "different seeds give different samples")
    }

    /// Lanczos on the tile-by-tile product of stored blocks (one larger than
    /// the 300-product cap, so the stopping rule decides) against LAPACK's
    /// dsyevd on the same blocks read whole, float64 and float32.
    @Test(arguments: ["debug", "release"])
    func lanczosOnStoredBlocksAgreesWithSyevd(binary: String) throws {
        let lcdb = try #require(LCDBProcess.binaries().first { $0.name == binary }?.path, "run the tests with make test (release binary)")
        let db = path("l-\(binary).lcdb")
        var statements = "create collection w (a Linear(31, 16), b Linear(20, 20));\n"
        statements += "let F = random_spd(w, seed=1);\nlet F32 = random_spd(w, seed=1, dtype=float32);\n"
        for matrix in ["F", "F32"] {
            for which in ["largest", "smallest"] {
                for method in ["lanczos", "exact"] { statements += "eigvals(\(matrix), k=4, which=\(which), method=\(method));\n" }
            }
        }
        let out = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", statements], in: folder, executableOverride: lcdb)
        #expect(out.status == 0, "\(out.stderr)")
        let tables = out.stdout.components(separatedBy: "rank,eigenvalue,layer\n").dropFirst().map { table in
            table.split(separator: "\n").map { $0.split(separator: ",") }.map { (Double($0[1])!, String($0[2])) }
        }
        try #require(tables.count == 8, "\(out.stdout)")
        for pair in stride(from: 0, to: 8, by: 2) {
            let (lanczos, exact) = (tables[pair], tables[pair + 1])
            #expect(lanczos.map(\.1) == exact.map(\.1), "layers of table \(pair)")
            #expect(lanczos.count == 4 && zip(lanczos, exact).allSatisfy { abs($0.0 - $1.0) <= 1e-9 * abs($1.0) }, "table \(pair): \(lanczos) vs \(exact)")
        }
        #expect(tables[0].allSatisfy { $0.1 == "a" } && tables[2].allSatisfy { $0.1 == "b" }, "the top is in a (side 512), the bottom in b (side 420)")
    }

    /// Bad input: a clear located error, non-zero exit, nothing stored.
    @Test func badSpectralInputIsAnError() throws {
        let db = path("bad.lcdb")
        let made = try LCDBProcess.run(["--no-init", db, "-c", """
            create collection net (fc Linear(3, 2), ln LayerNorm(2));
            let F = random_spd(net, seed=1);
            """], in: folder)
        #expect(made.status == 0, "\(made.stderr)")
        let cases: [(String, String)] = [
            ("logdet(F - identity(net, scale=100));", "logdet: block 'fc' is not positive definite"),
            ("logdet(to_diag(F), regul=-1000);", "logdet: block 'fc' is not positive definite (smallest eigenvalue"),
            ("let P = pow(F - identity(net, scale=100), 0.5);", "pow: block 'fc' is not positive semi-definite"),
            ("eigvals(F, k=-1);", "eigvals: k must be a non-negative integer, got -1"),
            ("eigvals(F, k=2.5);", "eigvals: k must be a non-negative integer, got 2.5"),
            ("eigvals(F, method=lanczos);", "eigvals: method=lanczos finds the k extreme eigenvalues: give k"),
            ("eigvals(F, which=middle);", "which"),
            ("let T = eigvals(F);", "only vectors and matrices are stored; a table prints without 'let'"),
            ("effective_dim(F, 0);", "effective_dim: regul must be positive, got 0"),
            ("let S = sample(F, seed=-1);", "sample: seed must be a non-negative integer"),
            ("let S = sample(F - identity(net, scale=100), seed=1);", "sample: block 'fc' is not positive semi-definite"),
            ("let P = pow(F, 1e999);", "pow: the exponent must be finite, got inf"),
            ("eigvals(F, k=13);", "eigvals: k (13) is larger than the matrix, which has 12 eigenvalues"),
            ("eigvals(diag_matrix(ones(net) / zeros(net)), k=1);", "eigvals: block 'fc' holds an infinite value; its eigenvalues are undefined"),
            ("logdet(diag_matrix(zeros(net) / zeros(net)));", "logdet: block 'fc' holds NaN"),
        ]
        for (statement, message) in cases {
            let out = try LCDBProcess.run(["--no-init", db, "-c", statement], in: folder)
            #expect(out.status != 0, "\(statement)")
            #expect(out.stderr.contains(message), "\(statement): \(out.stderr)")
        }
        let listing = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", "list matrices;"], in: folder)
        #expect(listing.stdout.split(separator: "\n").count == 2, "only F is stored: \(listing.stdout)")
    }
}
