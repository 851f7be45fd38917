import Foundation
import Testing

/// `fisher(..., form=lowrank)`: the empirical Fisher kept as `Jᵀ J` with
/// `J = G / √n` (NNGeometry's PMatLowRank), and `form=full` (every entry,
/// NNGeometry's PMatDense), stored and read back, and every operation on them (mv, vtmv, trace, frobenius, diag, damped solve and inv
/// through Woodbury, logdet, eigenvalues, effective dimension, multiples and
/// shifts) against NumPy on the explicit matrix `Gᵀ G / n` from the same
/// files: within 1e-9 relative (float64 arithmetic on both sides; the
/// inputs in float64 and float32). Operations that work block by block
/// refuse it by name.
@Suite(.serialized)
struct WholeMatrixShellTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws { scratch = try ScratchFolder("lcdb-lowrank") }

    func python(_ script: String, _ arguments: [String] = []) throws -> LCDBProcess.Result {
        try LCDBProcess.run(["-c", script] + arguments, in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
    }

    func lcdb(_ db: String, _ statements: String) throws -> LCDBProcess.Result {
        try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", FisherFromDataTests.collection + statements], in: folder)
    }

    /// The numbers a statement printed, in order (csv: a header, then the value).
    static func numbers(_ stdout: String) -> [Double] {
        stdout.split(separator: "\n").compactMap { Double($0) }
    }

    /// A factor larger than `LCDB_FACTOR_MEMORY_BYTES` (0 here) is spilled
    /// to a file while it is built and streamed from the database once
    /// stored; with panels of one column (`LCDB_PANEL_BYTES`) every pass
    /// splits every layer. Every number equals the in-memory run's within
    /// 1e-10 relative (the same sums, in another order), including a
    /// matrix replaced by its own inverse (its J read while the new one is
    /// written) and the export of J.
    @Test(arguments: ["float64", "float32"])
    func aStreamedFactorGivesWhatTheFactorInMemoryGives(dtype: String) throws {
        let written = try python(FisherFromDataTests.writer + #"""

            save_file({"weights": rng.uniform(0.5, 2.0, 20).astype(dtype)}, f"w_{sys.argv[2]}.safetensors")
            """#, ["6", dtype])
        #expect(written.status == 0, "\(written.stderr)")
        func run(_ mode: String, _ environment: [String: String]) throws -> (numbers: [Double], stdout: String) {
            let db = folder.appendingPathComponent("s-\(dtype)-\(mode).lcdb").path
            let out = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", FisherFromDataTests.collection + """
                let L = fisher(net, 'g_\(dtype)_*.safetensors', form=lowrank);
                let Lw = fisher(net, 'g_\(dtype)_*.safetensors', form=lowrank, weights='w_\(dtype).safetensors');
                let g = randn(net, seed=3);
                norm(mv(L, g)); norm(solve(L, g, regul=1e-2)); norm(diag(L)); vtmv(L, g);
                let Li = inv(L, regul=1e-2); norm(mv(Li, g)); norm(mv(2 * L + 0.5 * identity(net), g)); norm(mv(Lw, g));
                trace(L); frobenius(L); logdet(L, regul=1e-2); effective_dim(L, 1e-2); eigvals(L, k=3);
                norm(sample(L, seed=4, regul=1e-2, cov=matrix)); trace(Li); frobenius(Li); logdet(Li, regul=0.5);
                compare(L, Lw); compare(Lw, L);
                .format table
                show L;
                .format csv
                let L = inv(L, regul=1); trace(L); norm(mv(L, g));
                export matrix Lw to 'Lw-\(mode).safetensors';
                """], in: folder, environment: environment)
            #expect(out.status == 0, "\(mode): \(out.stderr)")
            let numbers = out.stdout.split(whereSeparator: { $0 == "\n" || $0 == "," }).compactMap { Double($0) }
            return (numbers, out.stdout)
        }
        let memory = try run("memory", [:])
        let streamed = try run("streamed", ["LCDB_FACTOR_MEMORY_BYTES": "0", "LCDB_PANEL_BYTES": "64"])
        #expect(streamed.stdout.contains("J streamed by panels"), "\(streamed.stdout)")
        #expect(!memory.stdout.contains("J streamed by panels"))
        #expect(memory.numbers.count > 30 && memory.numbers.count == streamed.numbers.count)
        for (a, b) in zip(memory.numbers, streamed.numbers) {
            #expect(abs(a - b) <= 1e-10 * max(1, abs(a)), "\(a) in memory, \(b) streamed")
        }
        let exported = try python("""
            import sys
            from safetensors.numpy import load_file
            a, b = load_file('Lw-memory.safetensors'), load_file('Lw-streamed.safetensors')
            assert a.keys() == b.keys(), (a.keys(), b.keys())
            assert all((a[k] == b[k]).all() for k in a), "the exported factors differ"
            print("same")
            """)
        #expect(exported.stdout == "same\n", "\(exported.stderr)")
    }

    @Test(arguments: ["float64", "float32"], ["lowrank", "full"])
    func everyOperationAgreesWithNumPyOnTheExplicitMatrix(dtype: String, form: String) throws {
        let written = try python(FisherFromDataTests.writer + #"""

            save_file({"weights": rng.uniform(0.5, 2.0, 20).astype(dtype)}, f"w_{sys.argv[2]}.safetensors")
            """#, ["5", dtype])
        #expect(written.status == 0, "\(written.stderr)")
        let db = folder.appendingPathComponent("l-\(dtype)-\(form).lcdb").path
        let out = try lcdb(db, """
            let L = fisher(net, 'g_\(dtype)_*.safetensors', form=\(form));
            let Lw = fisher(net, 'g_\(dtype)_*.safetensors', form=\(form), weights='w_\(dtype).safetensors');
            let g = randn(net, seed=3);
            let y = mv(L, g); let s = solve(L, g, regul=1e-2); let d = diag(L);
            let Li = inv(L, regul=1e-2); let z = mv(Li, g);
            let w = mv(2 * L + 0.5 * identity(net), g); let u = mv(Lw, g);
            export vector g to 'g.safetensors'; export vector y to 'y.safetensors'; export vector s to 's.safetensors';
            export vector d to 'd.safetensors'; export vector z to 'z.safetensors'; export vector w to 'w.safetensors';
            export vector u to 'u.safetensors';
            vtmv(L, g); trace(L); frobenius(L); logdet(L, regul=1e-2); effective_dim(L, 1e-2);
            let x = sample(L, seed=4, regul=1e-2, cov=matrix); let xi = sample(L, seed=4, regul=1e-2);
            let noise = randn(net, seed=4);
            export vector x to 'x.safetensors'; export vector xi to 'xi.safetensors'; export vector noise to 'noise.safetensors';
            trace(Li); frobenius(Li); logdet(Li, regul=0.5);
            select representation from matrices where name = 'L';
            eigvals(L, k=3); eigvals(L, k=2, which=smallest);
            """)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("representation\n\(form)\n"), "\(out.stdout)")
        let check = #"""
            import sys, numpy as np
            from safetensors.numpy import load_file
            dtype = sys.argv[1]
            shards = [load_file(f"g_{dtype}_{i}.safetensors") for i in range(3)]
            order = ["fc.weight", "fc.bias", "head.weight", "conv.weight", "conv.bias", "p"]
            G = np.concatenate([np.concatenate([s[t].reshape(s[t].shape[0], -1) for t in order], axis=1) for s in shards]).astype(np.float64)
            n, p = G.shape
            F = G.T @ G / n
            w = load_file(f"w_{dtype}.safetensors")["weights"].astype(np.float64)
            Fw = G.T @ (G * w[:, None]) / w.sum()
            def flat(name):
                t = load_file(name)
                return np.concatenate([t[k].reshape(-1) for k in order]).astype(np.float64)
            g = flat("g.safetensors")
            I = np.eye(p)
            damped = np.linalg.inv(F + 1e-2 * I)
            lam = np.linalg.eigvalsh(F)
            lam_inv = np.linalg.eigvalsh(damped)
            expected_vectors = {"y": F @ g, "s": np.linalg.solve(F + 1e-2 * I, g), "d": np.diag(F), "z": damped @ g,
                                "w": (2 * F + 0.5 * I) @ g, "u": Fw @ g}
            # sample: (F + regul I)^(±1/2) times the same seeded noise, from NumPy's eigh.
            noise = flat("noise.safetensors")
            mu, V = np.linalg.eigh(F + 1e-2 * I)
            expected_vectors["x"] = V @ (np.sqrt(mu) * (V.T @ noise))
            expected_vectors["xi"] = V @ ((V.T @ noise) / np.sqrt(mu))
            worst = max(np.abs(flat(f"{k}.safetensors") - v).max() / np.abs(v).max() for k, v in expected_vectors.items())
            numbers = [g @ F @ g, np.trace(F), np.linalg.norm(F), np.linalg.slogdet(F + 1e-2 * I)[1], (lam / (lam + 1e-2)).sum(),
                       np.trace(damped), np.linalg.norm(damped), np.linalg.slogdet(damped + 0.5 * I)[1],
                       *sorted(lam)[::-1][:3], *sorted(lam)[:2]]
            got = [float(x) for x in sys.argv[2:]]
            assert len(got) == len(numbers), (got, numbers)
            worst = max([worst] + [abs(a - b) / max(abs(b), 1e-300) for a, b in zip(got[:8], numbers[:8])])
            # The eigenvalues relative to the largest (the smallest are round-off-sized zeros: p > n).
            worst = max([worst] + [abs(a - b) / lam.max() for a, b in zip(got[8:], numbers[8:])])
            assert worst < 1e-9, worst
            print("python ok")
            """#
        // eigvals prints rank,eigenvalue,layer rows: take the eigenvalue column.
        let eigenvalues = out.stdout.split(separator: "\n").filter { $0.hasSuffix(",(all)") }.map { String($0.split(separator: ",")[1]) }
        let values = Self.numbers(out.stdout).map { "\($0)" } + eigenvalues
        let verified = try python(check, [dtype] + values)
        #expect(verified.stdout.hasSuffix("python ok\n"), "\(verified.stdout)\(verified.stderr)")
    }

    /// compare with a low-rank operand: its rows are its diagonal blocks, and
    /// '(all)' counts the blocks between layers that block-diagonal matrices
    /// drop; against NumPy's norms of the explicit matrices (1e-9 relative).
    @Test func compareCountsTheBlocksBetweenLayers() throws {
        #expect(try python(FisherFromDataTests.writer, ["8", "float64"]).status == 0)
        let db = folder.appendingPathComponent("c.lcdb").path
        let out = try lcdb(db, """
            let L = fisher(net, 'g_float64_*.safetensors', form=lowrank);
            let F = fisher(net, 'g_float64_*.safetensors', form=dense);
            compare(L, F); compare(F, L); compare(2 * L + identity(net), L);
            """)
        #expect(out.status == 0, "\(out.stderr)")
        let all = out.stdout.split(separator: "\n").filter { $0.hasPrefix("(all),") }.map { $0.split(separator: ",").dropFirst().joined(separator: " ") }
        let perLayer = out.stdout.split(separator: "\n").filter { $0.hasPrefix("fc,") }.map { String($0.split(separator: ",")[1]) }
        #expect(all.count == 3 && perLayer.count == 3, "\(out.stdout)")
        // L's diagonal blocks are F's: zero distance per layer in the first two tables.
        #expect(perLayer.prefix(2).allSatisfy { Double($0).map { $0 < 1e-14 } ?? false }, "\(perLayer)")
        let check = #"""
            import sys, numpy as np
            from safetensors.numpy import load_file
            shards = [load_file(f"g_float64_{i}.safetensors") for i in range(3)]
            sizes = {"fc": ["fc.weight", "fc.bias"], "head": ["head.weight"], "conv": ["conv.weight", "conv.bias"], "p": ["p"]}
            order = [t for ts in sizes.values() for t in ts]
            G = np.concatenate([np.concatenate([s[t].reshape(s[t].shape[0], -1) for t in order], axis=1) for s in shards])
            F = G.T @ G / len(G)
            B = np.zeros_like(F)
            start = 0
            for tensors in sizes.values():
                width = sum(int(np.prod(shards[0][t].shape[1:])) for t in tensors)
                B[start:start + width, start:start + width] = F[start:start + width, start:start + width]
                start += width
            M = 2 * F + np.eye(len(F))
            want = [[np.linalg.norm(F - B) / np.linalg.norm(B), 1, 1], [np.linalg.norm(F - B) / np.linalg.norm(F), 1, 1],
                    [np.linalg.norm(M - F) / np.linalg.norm(F), np.trace(M) / np.trace(F),
                     np.diag(M) @ np.diag(F) / np.linalg.norm(np.diag(M)) / np.linalg.norm(np.diag(F))]]
            got = [[float(x) for x in row.split()] for row in sys.argv[1:]]
            worst = max(abs(g - w) / abs(w) for gs, ws in zip(got, want) for g, w in zip(gs, ws))
            assert worst < 1e-9, (got, want)
            print("python ok")
            """#
        let verified = try python(check, all)
        #expect(verified.stdout == "python ok\n", "\(verified.stdout)\(verified.stderr)")
    }

    /// export and import: `<layer>.J` (with `core`, `shift`) and `<layer>.rows`,
    /// bit for bit (equal checksums); a factor written by NumPy (NNGeometry's
    /// PMatLowRank split by layer) imports and multiplies as Jᵀ J; bad files
    /// are refused naming the tensor, with nothing stored.
    /// Streamed: with `LCDB_FACTOR_MEMORY_BYTES=0` every factor is read from
    /// the file as it is stored (import) and from the database a band at a
    /// time (export): the same round trips, values and refusals.
    @Test(arguments: [false, true])
    func exportAndImportRoundTripAndCheck(streamed: Bool) throws {
        #expect(try python(FisherFromDataTests.writer, ["9", "float64"]).status == 0)
        let environment = streamed ? ["LCDB_FACTOR_MEMORY_BYTES": "0", "LCDB_PANEL_BYTES": "64"] : [:]
        let db = folder.appendingPathComponent("x-\(streamed).lcdb").path
        let out = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", FisherFromDataTests.collection + """
            let L = fisher(net, 'g_float64_*.safetensors', form=lowrank);
            let Li = inv(2 * L, regul=0.1);
            let W = fisher(net, 'g_float64_*.safetensors', form=full, dtype=float32);
            export matrix L to 'L.safetensors'; export matrix Li to 'Li.safetensors'; export matrix W to 'W.safetensors';
            import matrix L2 over net from 'L.safetensors'; import matrix Li2 over net from 'Li.safetensors';
            import matrix W2 over net from 'W.safetensors';
            checksum(L); checksum(L2); checksum(Li); checksum(Li2); checksum(W); checksum(W2);
            """], in: folder, environment: environment)
        #expect(out.status == 0, "\(out.stderr)")
        let hashes = out.stdout.split(separator: "\n").filter { $0.count == 64 }
        #expect(hashes.count == 6 && hashes[0] == hashes[1] && hashes[2] == hashes[3] && hashes[4] == hashes[5] && Set(hashes).count == 3, "\(out.stdout)")
        let written = try python(#"""
            import numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(4)
            n, widths = 6, {"fc": 16, "head": 8, "conv": 10, "p": 3}
            J = rng.standard_normal((n, sum(widths.values())))
            cuts = np.cumsum([0] + list(widths.values()))
            parts = {f"{name}.J": J[:, cuts[i]:cuts[i + 1]].copy() for i, name in enumerate(widths)}
            save_file(parts, "nng.safetensors")
            v = rng.standard_normal(J.shape[1])
            np.save("v.npy", v); np.save("Jv.npy", J.T @ (J @ v))
            bad = dict(parts); bad["head.J"] = rng.standard_normal((5, 8)); save_file(bad, "bad_n.safetensors")
            bad = dict(parts); bad["fc.J"] = parts["fc.J"].copy(); bad["fc.J"][1, 2] = np.nan; save_file(bad, "bad_nan.safetensors")
            bad = dict(parts); bad["core"] = rng.standard_normal((n, n)); save_file(bad, "bad_core.safetensors")
            """#)
        #expect(written.status == 0, "\(written.stderr)")
        let imported = try LCDBProcess.run(["--no-init", db, "-c", """
            import matrix N over net from 'nng.safetensors';
            let v = randn(net, seed=1);
            export vector v to 'vv.safetensors';
            """], in: folder, environment: environment)
        #expect(imported.status == 0, "\(imported.stderr)")
        let product = try LCDBProcess.run(["--no-init", db, "-c", "let y = mv(N, v); export vector y to 'y.safetensors';"], in: folder, environment: environment)
        #expect(product.status == 0, "\(product.stderr)")
        let check = try python(#"""
            import numpy as np
            from safetensors.numpy import load_file
            order = ["fc.weight", "fc.bias", "head.weight", "conv.weight", "conv.bias", "p"]
            flat = lambda name: np.concatenate([load_file(name)[k].reshape(-1) for k in order])
            parts = load_file("nng.safetensors")
            J = np.concatenate([parts[f"{l}.J"] for l in ["fc", "head", "conv", "p"]], axis=1)
            v, y = flat("vv.safetensors"), flat("y.safetensors")
            want = J.T @ (J @ v)
            assert np.abs(y - want).max() <= 1e-12 * np.abs(want).max()
            print("python ok")
            """#)
        #expect(check.stdout == "python ok\n", "\(check.stdout)\(check.stderr)")
        let cases: [(String, String)] = [
            ("bad_n.safetensors", "bad_n.safetensors: tensor 'head.J' has shape (5, 8), expected (6, 8)"),
            ("bad_nan.safetensors", "bad_nan.safetensors: tensor 'fc.J' holds NaN at element 18; nothing was stored"),
            ("bad_core.safetensors", "bad_core.safetensors: tensor 'core' is not symmetric"),
        ]
        for (file, message) in cases {
            let bad = try LCDBProcess.run(["--no-init", db, "-c", "import matrix B over net from '\(file)';"], in: folder, environment: environment)
            #expect(bad.status == 1 && bad.stderr.contains(message), "\(file): \(bad.stderr)")
        }
        let none = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", "select count(*) as n from matrices where name = 'B';"], in: folder)
        #expect(none.stdout == "n\n0\n", "\(none.stdout)")
    }

    @Test func blockByBlockOperationsAndSingularUsesAreClearErrors() throws {
        #expect(try python(FisherFromDataTests.writer, ["6", "float64"]).status == 0)
        let db = folder.appendingPathComponent("e.lcdb").path
        #expect(try lcdb(db, "let L = fisher(net, 'g_float64_*.safetensors', form=lowrank); let F = fisher(net, 'g_float64_*.safetensors', form=dense); let g = randn(net, seed=1);").status == 0)
        let cases: [(String, String)] = [
            ("mm(L, L);", "mm: A is a low-rank matrix, which spans layers: mm works block by block and does not take it (such matrices take mv, vtmv"),
            ("restrict(L, 'fc');", "restrict: x is a low-rank matrix, which spans layers"),
            ("let X = L + F;", "a low-rank matrix plus a block-diagonal one has no exact form lcdb keeps; only a multiple of identity(C) adds to it"),
            ("let X = L + L;", "cannot apply '+' to a low-rank matrix and a low-rank matrix"),
            ("let X = solve(L, g);", "solve: a low-rank matrix plus 0 I is singular or undefined: its identity part c + regul is 0 (Jᵀ S J alone has rank at most 20 of 37); give a non-zero regul"),
            ("let X = inv(L);", "inv: a low-rank matrix plus 0 I is singular or undefined"),
            ("logdet(L);", "logdet: the low-rank matrix plus 0 I is not positive definite"),
            ("eigvals(L, k=2, method=lanczos);", "method=lanczos does not apply"),
            ("eigvals(L, k=38);", "k (38) is larger than the matrix, which has 37 eigenvalues"),
            ("let X = to_dense(L);", "to_dense: M is a low-rank matrix, which spans layers"),
            ("let W = fisher(net, 'g_float64_*.safetensors', form=full); let X = eig(W);", "eig: M is a full matrix, which spans layers"),
        ]
        for (statement, message) in cases {
            let out = try LCDBProcess.run(["--no-init", db, "-c", statement], in: folder)
            #expect(out.status == 1 && out.stderr.contains(message), "\(statement): \(out.stderr)")
        }
        // A full matrix too large for memory is refused with its size before anything is read.
        #expect(try python("import numpy as np\nfrom safetensors.numpy import save_file\nsave_file({'p': np.ones((2, 200000))}, 'huge.safetensors')").status == 0)
        let huge = try LCDBProcess.run(["--no-init", db, "-c", "create collection huge (p Parameter(200000)); let X = fisher(huge, 'huge.safetensors', form=full);"], in: folder)
        #expect(huge.status == 1 && huge.stderr.contains("fisher: the full Fisher (200000 x 200000, float64) needs 384.0 GB of memory"), "\(huge.stderr)")
        // Nothing was stored by the failed statements; the stored L is intact and checks.
        let after = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", "select count(*) as n from matrices where name = 'X'; check;"], in: folder)
        #expect(after.status == 0 && after.stdout.hasPrefix("n\n0\n"), "\(after.stdout)\(after.stderr)")
    }
}
