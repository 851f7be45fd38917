import Foundation
import Testing

/// The empirical Fisher from per-example gradient files, against NumPy on the
/// same files: `(g**2).mean(0)` for diag and `G.T @ G / n` per layer for dense
/// blocks (float64 inputs within 1e-12 relative, float32 inputs within 1e-12
/// of NumPy's float64 computation on them), over shards of different sizes
/// given as a glob or a list, with Linear (with and without bias), Conv2d and
/// Parameter layers; shards give what their concatenation gives; bad files
/// are refused with nothing stored.
@Suite(.serialized)
struct FisherFromDataTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws { scratch = try ScratchFolder("lcdb-fisher") }

    static let collection = "create collection net (fc Linear(3, 4), head Linear(4, 2, bias=false), conv Conv2d(1, 2, 2), p Parameter(3));"

    static let writer = #"""
        import sys, numpy as np
        from safetensors.numpy import save_file
        rng = np.random.default_rng(int(sys.argv[1]))
        dtype = {"float64": np.float64, "float32": np.float32}[sys.argv[2]]
        def grads(n):
            return {"fc.weight": rng.standard_normal((n, 4, 3)), "fc.bias": rng.standard_normal((n, 4)),
                    "head.weight": rng.standard_normal((n, 2, 4)), "conv.weight": rng.standard_normal((n, 2, 1, 2, 2)),
                    "conv.bias": rng.standard_normal((n, 2)), "p": rng.standard_normal((n, 3)),
                    "unused.weight": rng.standard_normal((n, 2))}
        shards = [grads(n) for n in (7, 1, 12)]
        for i, shard in enumerate(shards):
            save_file({k: v.astype(dtype) for k, v in shard.items()}, f"g_{sys.argv[2]}_{i}.safetensors")
        whole = {k: np.concatenate([s[k] for s in shards]).astype(dtype) for k in shards[0]}
        save_file(whole, f"all_{sys.argv[2]}.safetensors")
        """#

    /// Passes: with `LCDB_FISHER_BAND_BYTES=200` the dense blocks are built
    /// as they would be if they did not fit in memory, in bands of one row
    /// (16 doubles of `fc`'s block take 128 bytes), one pass over the files
    /// per band, streamed into the store; the same results within 1e-12.
    @Test(arguments: ["float64", "float32"], [false, true])
    func diagAndDenseAgreeWithNumPy(dtype: String, passes: Bool) throws {
        let py = try LCDBProcess.run(["-c", Self.writer, "1", dtype], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.status == 0, "\(py.stderr)")
        let environment = passes ? ["LCDB_FISHER_BAND_BYTES": "200"] : [:]
        let db = folder.appendingPathComponent("f-\(dtype)-\(passes).lcdb").path
        let out = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", Self.collection + """
            let D = fisher(net, 'g_\(dtype)_*.safetensors');
            let F = fisher(net, 'g_\(dtype)_0.safetensors, g_\(dtype)_1.safetensors, g_\(dtype)_2.safetensors', form=dense);
            let Fall = fisher(net, 'all_\(dtype).safetensors', form=dense);
            export matrix D to 'D.safetensors';
            export matrix F to 'F.safetensors';
            let Q = fisher(net, 'g_\(dtype)_*.safetensors', form=quasidiag);
            export matrix Q to 'Q.safetensors';
            let F32 = fisher(net, 'g_\(dtype)_*.safetensors', form=dense, dtype=float32);
            export matrix F32 to 'F32.safetensors';
            compare(F, Fall);
            """], in: folder, environment: environment)
        #expect(out.status == 0, "\(out.stderr)")
        // The shards and their concatenation: the same Fisher up to summation order.
        let all = out.stdout.split(separator: "\n").first { $0.hasPrefix("(all),") }.map { $0.split(separator: ",").map(String.init) }
        #expect(all.map { Double($0[1])! < 1e-14 && abs(Double($0[2])! - 1) < 1e-14 } == true, "\(out.stdout)")
        let check = #"""
            import sys, numpy as np
            from safetensors.numpy import load_file
            dtype = sys.argv[1]
            shards = [load_file(f"g_{dtype}_{i}.safetensors") for i in range(3)]
            D, F, F32, Q = (load_file(f"{n}.safetensors") for n in ["D", "F", "F32", "Q"])
            # Quasi-diagonal: the diagonal, and output i's bias with its weights, mean(g_w[i, j] g_b[i]);
            # layers without a bias keep their diagonal.
            assert sorted(Q) == ["conv.cross", "conv.diag", "fc.cross", "fc.diag", "head.diag", "p.diag"], sorted(Q)
            layers = {"fc": ["fc.weight", "fc.bias"], "head": ["head.weight"], "conv": ["conv.weight", "conv.bias"], "p": ["p"]}
            for layer, tensors in layers.items():
                G = np.concatenate([np.concatenate([s[t].reshape(s[t].shape[0], -1) for t in tensors], axis=1) for s in shards]).astype(np.float64)
                n = G.shape[0]
                assert n == 20
                want_diag, want_block = (G ** 2).mean(axis=0), G.T @ G / n
                assert np.abs(D[f"{layer}.diag"] - want_diag).max() <= 1e-12 * np.abs(want_diag).max(), layer
                assert np.abs(Q[f"{layer}.diag"] - want_diag).max() <= 1e-12 * np.abs(want_diag).max(), layer
                if f"{layer}.cross" in Q:
                    w = np.concatenate([s[tensors[0]].reshape(s[tensors[0]].shape[0], s[tensors[0]].shape[1], -1) for s in shards]).astype(np.float64)
                    b = np.concatenate([s[tensors[1]] for s in shards]).astype(np.float64)
                    want_cross = (w * b[:, :, None]).mean(axis=0)           # (out, in_eff)
                    assert Q[f"{layer}.cross"].shape == want_cross.shape, layer
                    assert np.abs(Q[f"{layer}.cross"] - want_cross).max() <= 1e-12 * np.abs(want_cross).max(), layer
                    out, r = want_cross.shape                               # the same entries of the dense block
                    rows = [i * r + j for i in range(out) for j in range(r)]
                    columns = [out * r + i for i in range(out) for j in range(r)]
                    assert np.abs(Q[f"{layer}.cross"].reshape(-1) - want_block[rows, columns]).max() <= 1e-12 * np.abs(want_block).max(), layer
                assert np.abs(F[layer] - want_block).max() <= 1e-12 * np.abs(want_block).max(), layer
                # Stored as float32: the float64 block rounded once.
                assert F32[layer].dtype == np.float32, layer
                assert np.abs(F32[layer] - want_block).max() <= 1e-6 * np.abs(want_block).max(), layer
            print("python ok")
            """#
        let verified = try LCDBProcess.run(["-c", check, dtype], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(verified.stdout == "python ok\n", "\(verified.stdout)\(verified.stderr)")
        // Used without storing, the blocks come from the background workers or
        // from passes too: the same numbers as the stored F.
        let direct = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", """
            let g = randn(net, seed=2);
            trace(fisher(net, 'g_\(dtype)_*.safetensors', form=dense)); trace(F);
            vtmv(fisher(net, 'g_\(dtype)_*.safetensors', form=dense, weights=''), g); vtmv(F, g);
            """], in: folder, environment: environment)
        let numbers = direct.stdout.split(separator: "\n").compactMap { Double($0) }
        #expect(numbers.count == 4 && abs(numbers[0] - numbers[1]) <= 1e-12 * numbers[1] && abs(numbers[2] - numbers[3]) <= 1e-12 * abs(numbers[3]),
                "\(direct.stdout)\(direct.stderr)")
    }

    @Test func badGradientFilesAreRefusedWithNothingStored() throws {
        let py = try LCDBProcess.run(["-c", Self.writer + "\n" + #"""
            g = grads(4)
            bad = dict(g); del bad["head.weight"]; save_file(bad, "missing.safetensors")
            bad = dict(g); bad["fc.weight"] = rng.standard_normal((4, 3, 4)); save_file(bad, "shape.safetensors")
            bad = dict(g); bad["fc.bias"] = rng.standard_normal((5, 4)); save_file(bad, "count.safetensors")
            bad = dict(g); bad["fc.weight"] = g["fc.weight"].copy(); bad["fc.weight"][2, 1, 0] = np.nan; save_file(bad, "nan.safetensors")
            bad = dict(g); bad["p"] = np.zeros((4, 3), dtype=np.int32); save_file(bad, "int.safetensors")
            bad = dict(g); bad["conv.weight"] = g["conv.weight"].copy(); bad["conv.weight"][3, 1, 0, 1, 1] = np.inf; save_file(bad, "late.safetensors")
            save_file({k: v[:0] for k, v in g.items()}, "empty.safetensors")
            """#, "2", "float64"], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.status == 0, "\(py.stderr)")
        let db = folder.appendingPathComponent("b.lcdb").path
        #expect(try LCDBProcess.run(["--no-init", db, "-c", Self.collection], in: folder).status == 0)
        let cases: [(String, String)] = [
            ("missing.safetensors", "fisher: missing.safetensors: tensor 'head.weight' is missing"),
            ("shape.safetensors", "fisher: shape.safetensors: tensor 'fc.weight' has shape (4, 3, 4), expected (n, 4, 3) with n examples"),
            ("count.safetensors", "fisher: count.safetensors: tensor 'fc.bias' has 5 examples, the file's other tensors 4"),
            ("nan.safetensors", "fisher: nan.safetensors: tensor 'fc.weight' holds NaN at example 2"),
            ("int.safetensors", "fisher: int.safetensors: tensor 'p' is I32, not floating point"),
            // Found by a background worker while the earlier layers' blocks are stored.
            ("late.safetensors", "fisher: late.safetensors: tensor 'conv.weight' holds an infinite value at example 3"),
            ("empty.safetensors", "fisher: empty.safetensors: the files hold no examples"),
            ("g_float64_0.safetensors, missing.safetensors", "fisher: missing.safetensors: tensor 'head.weight' is missing"),
            ("nothing_*.safetensors", "fisher: nothing_*.safetensors: no file matches this pattern"),
            ("absent.safetensors", "fisher: absent.safetensors:"),
        ]
        for (files, message) in cases {
            let out = try LCDBProcess.run(["--no-init", db, "-c", "let X = fisher(net, '\(files)', form=dense);"], in: folder)
            #expect(out.status == 1 && out.stderr.contains(message), "\(files): \(out.stderr)")
        }
        let statistics = try LCDBProcess.run(["-c", #"""
            import numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(3)
            save_file({"fc.inputs": rng.standard_normal((4, 3))}, "nograds.safetensors")
            save_file({"fc.inputs": rng.standard_normal((4, 2, 3)), "fc.output_grads": rng.standard_normal((4, 3, 4))}, "positions.safetensors")
            save_file({"fc.inputs": rng.standard_normal((4, 5)), "fc.output_grads": rng.standard_normal((4, 4))}, "width.safetensors")
            """#], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(statistics.status == 0, "\(statistics.stderr)")
        let kfacCases: [(String, String, String)] = [
            ("create collection one (fc Linear(3, 4));", "nograds.safetensors", "kfac: nograds.safetensors: tensor 'fc.output_grads' is missing"),
            ("create collection one (fc Linear(3, 4));", "positions.safetensors", "kfac: positions.safetensors: layer 'fc': inputs have 2 positions, output gradients 3"),
            ("create collection one (fc Linear(3, 4));", "width.safetensors", "kfac: width.safetensors: tensor 'fc.inputs' has shape (4, 5), expected (n, 3) or (n, positions, 3)"),
            ("create collection one (e Embedding(5, 2));", "width.safetensors", "kfac: width.safetensors: tensor 'e.inputs' is missing"),
        ]
        for (setup, files, message) in kfacCases {
            let kdb = folder.appendingPathComponent("k-\(UUID().uuidString).lcdb").path
            let out = try LCDBProcess.run(["--no-init", kdb, "-c", setup + " let K = kfac(one, '\(files)');"], in: folder)
            #expect(out.status == 1 && out.stderr.contains(message), "\(files): \(out.stderr)")
        }
        let listing = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", "select count(*) as n from matrices;"], in: folder)
        #expect(listing.stdout == "n\n0\n", "nothing stored: \(listing.stdout)")
    }

    /// KFAC from layer statistics against NumPy with the documented formulas:
    /// a Linear layer without positions (A = mean(ã ãᵀ), G = mean(g gᵀ)), a
    /// Linear layer over 3 positions and a Conv2d layer over 4 (its unfolded
    /// patches) in both conventions, a layer without bias; two shards; the
    /// LayerNorm gets 0 I. Within 1e-12 relative.
    @Test(arguments: ["expand", "reduce"])
    func kfacFromStatisticsAgreesWithNumPy(convention: String) throws {
        let write = #"""
            import numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(5)
            def stats(n):
                return {"fc.inputs": rng.standard_normal((n, 3)), "fc.output_grads": rng.standard_normal((n, 4)),
                        "seq.inputs": rng.standard_normal((n, 3, 4)), "seq.output_grads": rng.standard_normal((n, 3, 2)),
                        "conv.inputs": rng.standard_normal((n, 4, 1 * 2 * 2)), "conv.output_grads": rng.standard_normal((n, 4, 2))}
            for i, n in enumerate((6, 9)):
                save_file(stats(n), f"s_{i}.safetensors")
            """#
        #expect(try LCDBProcess.run(["-c", write], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"]).status == 0)
        let db = folder.appendingPathComponent("k-\(convention).lcdb").path
        let out = try LCDBProcess.run(["--no-init", db, "-c", """
            create collection net (fc Linear(3, 4), seq Linear(4, 2, bias=false), ln LayerNorm(2), conv Conv2d(1, 2, 2));
            let K = kfac(net, 's_*.safetensors', positions=\(convention));
            export matrix K to 'K-\(convention).safetensors';
            let E = ekfac(net, 's_*.safetensors', positions=\(convention));
            export matrix E to 'E-\(convention).safetensors';
            """], in: folder)
        #expect(out.status == 0, "\(out.stderr)")
        let check = #"""
            import sys, numpy as np
            from safetensors.numpy import load_file
            convention = sys.argv[1]
            shards = [load_file(f"s_{i}.safetensors") for i in range(2)]
            K, E = load_file(f"K-{convention}.safetensors"), load_file(f"E-{convention}.safetensors")
            def cat(name):
                return np.concatenate([s[name] for s in shards])
            for layer, bias in [("fc", True), ("seq", False), ("conv", True)]:
                a, g = cat(f"{layer}.inputs"), cat(f"{layer}.output_grads")
                if a.ndim == 2:
                    a, g = a[:, None, :], g[:, None, :]
                n, S = a.shape[0], a.shape[1]
                if bias:
                    a = np.concatenate([a, np.ones(a.shape[:2] + (1,))], axis=2)
                if convention == "expand":
                    A = np.einsum("nsi,nsj->ij", a, a) / (n * S)
                    G = np.einsum("nsi,nsj->ij", g, g) / n
                else:
                    abar, gsum = a.mean(axis=1), g.sum(axis=1)
                    A, G = abar.T @ abar / n, gsum.T @ gsum / n
                assert np.abs(K[f"{layer}.A"] - A).max() <= 1e-12 * np.abs(A).max(), (layer, "A")
                assert np.abs(K[f"{layer}.G"] - G).max() <= 1e-12 * np.abs(G).max(), (layer, "G")
                # EKFAC: the factors' eigenbases; D = mean_n (U_Gᵀ M_n U_A)², M_n = Σ_s g ãᵀ (signs of
                # eigenvectors cancel in the square; the bases are compared through U U^T-free products).
                _, uA = np.linalg.eigh(A)
                _, uG = np.linalg.eigh(G)
                M = np.einsum("nso,nsi->noi", g, a)
                D = (np.einsum("po,noi,iq->npq", uG.T, M, uA) ** 2).mean(axis=0)
                assert np.abs(E[f"{layer}.D"] - D).max() <= 1e-9 * np.abs(D).max(), (layer, "D")
                assert np.allclose(np.abs(E[f"{layer}.U_A"]), np.abs(uA), atol=1e-9) and np.allclose(np.abs(E[f"{layer}.U_G"]), np.abs(uG), atol=1e-9), layer
            assert K["ln.scale"] == 0 and E["ln.scale"] == 0
            print("python ok")
            """#
        let verified = try LCDBProcess.run(["-c", check, convention], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(verified.stdout == "python ok\n", "\(verified.stdout)\(verified.stderr)")
    }

    /// samples/make_gradients.py writes real per-example gradients of a small
    /// MLP; samples/fisher_from_data.lc builds its Fishers from them. The
    /// dense blocks equal Gᵀ G / n and fc2's KFAC (a Linear layer without
    /// positions) equals NumPy's from the statistics.
    @Test(arguments: ["debug", "release"])
    func fisherFromDataSampleRuns(binary: String) throws {
        let lcdb = try #require(LCDBProcess.binaries().first { $0.name == binary }?.path, "run the tests with make test (release binary)")
        let work = folder.appendingPathComponent("sample-\(binary)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let samples = LCDBProcess.packageRoot.appendingPathComponent("samples")
        let made = try LCDBProcess.run([samples.appendingPathComponent("make_gradients.py").path], in: work,
                                       executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(made.status == 0 && made.stdout.contains("300 examples"), "\(made.stdout)\(made.stderr)")
        let db = work.appendingPathComponent("f.lcdb").path
        let run = try LCDBProcess.run(["--no-init", db, samples.appendingPathComponent("fisher_from_data.lc").path], in: work, executableOverride: lcdb)
        #expect(run.status == 0 && run.stderr.isEmpty, "\(run.stderr)")
        #expect(run.stdout.components(separatedBy: "(all)").count == 10, "nine comparisons: \(run.stdout)")
        let tables = run.stdout.components(separatedBy: "(all)")
        // The quasi-diagonal is closer to the dense blocks than the diagonal (its bias-weight terms are theirs).
        let diagonalDistance = tables[1].split(separator: " ").first.flatMap { Double($0) }
        let quasiDistance = tables[2].split(separator: " ").first.flatMap { Double($0) }
        #expect(diagonalDistance != nil && quasiDistance != nil && quasiDistance! < diagonalDistance!, "compare(Fd, F), compare(Q, F): \(tables[1]) \(tables[2])")
        // compare(F, L): the dense blocks are L's diagonal blocks (per layer ~0), and '(all)' shows what they drop.
        let fc1 = tables[7].split(separator: "\n").first { $0.hasPrefix("fc1 ") }?.split(separator: " ").dropFirst().first.flatMap { Double($0) }
        let dropped = tables[8].split(separator: " ").first.flatMap { Double($0) }
        #expect(fc1.map { $0 < 1e-13 } == true && dropped.map { $0 > 0.1 && $0 < 1 } == true, "compare(F, L): \(tables[7])(all)\(tables[8])")
        #expect(run.stdout.contains("matrix L over mlp: lowrank (c I + Jᵀ S J, J 300 x 227)"), "\(run.stdout)")
        let exported = try LCDBProcess.run(["--no-init", db, "-c", "export matrix F to 'F.safetensors'; export matrix K to 'K.safetensors';"],
                                           in: work, executableOverride: lcdb)
        #expect(exported.status == 0, "\(exported.stderr)")
        let check = #"""
            import numpy as np
            from safetensors.numpy import load_file
            shards = [load_file(f"grads_{i}.safetensors") for i in range(2)]
            stats, F, K = load_file("stats.safetensors"), load_file("F.safetensors"), load_file("K.safetensors")
            # The low-rank factor, read through the documented views: Jᵀ J = Gᵀ G / n over all layers.
            import sqlite3
            db = sqlite3.connect("f.lcdb")
            columns = {}
            for position, data, rows, width in db.execute(
                    "select position, data, row_count, col_count from matrix_tiles where matrix = 'L' and part = 'J' order by position, row_start"):
                columns.setdefault(position, []).append(np.frombuffer(data, dtype="<f8").reshape(rows, width))
            J = np.concatenate([np.concatenate(tiles, axis=0) for _, tiles in sorted(columns.items())], axis=1)
            Gall = np.concatenate([np.concatenate([np.concatenate([s[f"{l}.weight"].reshape(len(s[f"{l}.bias"]), -1), s[f"{l}.bias"]], axis=1)
                                                   for l in ["fc1", "fc2"]], axis=1) for s in shards], axis=0)
            want = Gall.T @ Gall / len(Gall)
            assert J.shape == (300, 227), J.shape
            assert np.abs(J.T @ J - want).max() <= 1e-12 * np.abs(want).max()
            for layer in ["fc1", "fc2"]:
                G = np.concatenate([np.concatenate([s[f"{layer}.weight"].reshape(len(s[f"{layer}.bias"]), -1), s[f"{layer}.bias"]], axis=1) for s in shards])
                want = G.T @ G / len(G)
                assert np.abs(F[layer] - want).max() <= 1e-12 * np.abs(want).max(), layer
            a = np.concatenate([stats["fc2.inputs"], np.ones((300, 1))], axis=1)
            g = stats["fc2.output_grads"]
            assert np.abs(K["fc2.A"] - a.T @ a / 300).max() <= 1e-12 * np.abs(a.T @ a / 300).max()
            assert np.abs(K["fc2.G"] - g.T @ g / 300).max() <= 1e-12 * np.abs(g.T @ g / 300).max()
            print("python ok")
            """#
        let verified = try LCDBProcess.run(["-c", check], in: work, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(verified.stdout == "python ok\n", "\(verified.stdout)\(verified.stderr)")
    }

    /// An Embedding's statistics are token indices: A is the diagonal of
    /// token counts over the n S positions divided by n S, G = Σ g gᵀ / n
    /// (expand); EKFAC's D = mean_n (M_n U_G)² with M_n = Σ_s e_{idx_s} g_sᵀ.
    /// reduce is refused (it would make A dense); a bad index is named.
    @Test func embeddingStatisticsGiveADiagonalFactor() throws {
        let write = #"""
            import numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(11)
            n, S, V, d = 9, 5, 7, 3
            save_file({"emb.inputs": rng.integers(0, V, size=(n, S)).astype(np.int64),
                       "emb.output_grads": rng.standard_normal((n, S, d))}, "emb.safetensors")
            save_file({"emb.inputs": np.array([[0, 7]], dtype=np.int32), "emb.output_grads": np.zeros((1, 2, 3))}, "emb_bad.safetensors")
            """#
        #expect(try LCDBProcess.run(["-c", write], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"]).status == 0)
        let db = folder.appendingPathComponent("emb.lcdb").path
        let out = try LCDBProcess.run(["--no-init", db, "-c", """
            create collection net (emb Embedding(7, 3));
            let K = kfac(net, 'emb.safetensors');
            let E = ekfac(net, 'emb.safetensors');
            export matrix K to 'Kemb.safetensors';
            export matrix E to 'Eemb.safetensors';
            """], in: folder)
        #expect(out.status == 0, "\(out.stderr)")
        let check = #"""
            import numpy as np
            from safetensors.numpy import load_file
            f, K, E = load_file("emb.safetensors"), load_file("Kemb.safetensors"), load_file("Eemb.safetensors")
            idx, g = f["emb.inputs"], f["emb.output_grads"]
            n, S = idx.shape
            A = np.bincount(idx.ravel(), minlength=7) / (n * S)
            G = np.einsum("nsi,nsj->ij", g, g) / n
            assert K["emb.A"].shape == (7,) and np.abs(K["emb.A"] - A).max() <= 1e-15
            assert np.abs(K["emb.G"] - G).max() <= 1e-12 * np.abs(G).max()
            _, uG = np.linalg.eigh(G)
            M = np.zeros((n, 7, 3))
            for i in range(n):
                for s in range(S):
                    M[i, idx[i, s]] += g[i, s]
            D = ((M @ uG) ** 2).mean(axis=0)
            assert np.abs(E["emb.D"] - D).max() <= 1e-9 * np.abs(D).max()
            print("python ok")
            """#
        let verified = try LCDBProcess.run(["-c", check], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(verified.stdout == "python ok\n", "\(verified.stdout)\(verified.stderr)")
        let reduce = try LCDBProcess.run(["--no-init", db, "-c", "let R = kfac(net, 'emb.safetensors', positions=reduce);"], in: folder)
        #expect(reduce.status == 1 && reduce.stderr.contains("kfac: layer 'emb' is an Embedding over 5 positions: the reduce convention would make its input factor a dense 7 x 7 matrix; use positions=expand"), "\(reduce.stderr)")
        let bad = try LCDBProcess.run(["--no-init", db, "-c", "let R = kfac(net, 'emb_bad.safetensors');"], in: folder)
        #expect(bad.status == 1 && bad.stderr.contains("kfac: emb_bad.safetensors: tensor 'emb.inputs' holds index 7 at example 0; the Embedding has 7 rows"), "\(bad.stderr)")
    }

    /// Per-example weights give the weighted mean Σ w g gᵀ / Σ w (NumPy,
    /// 1e-12); weights of the wrong length, negative or all zero are refused.
    @Test(arguments: [false, true])
    func perExampleWeights(passes: Bool) throws {
        let py = try LCDBProcess.run(["-c", Self.writer + "\n" + #"""
            save_file({"weights": rng.random(20) * 3}, "w.safetensors")
            save_file({"weights": np.ones(19)}, "w_short.safetensors")
            save_file({"weights": -np.ones(20)}, "w_negative.safetensors")
            save_file({"weights": np.zeros(20)}, "w_zero.safetensors")
            """#, "4", "float64"], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.status == 0, "\(py.stderr)")
        let db = folder.appendingPathComponent("w.lcdb").path
        let out = try LCDBProcess.run(["--no-init", db, "-c", Self.collection + """
            let F = fisher(net, 'g_float64_*.safetensors', form=dense, weights='w.safetensors');
            let D = fisher(net, 'g_float64_*.safetensors', weights='w.safetensors');
            export matrix F to 'Fw.safetensors';
            export matrix D to 'Dw.safetensors';
            """], in: folder, environment: passes ? ["LCDB_FISHER_BAND_BYTES": "300"] : [:])
        #expect(out.status == 0, "\(out.stderr)")
        let check = #"""
            import numpy as np
            from safetensors.numpy import load_file
            shards = [load_file(f"g_float64_{i}.safetensors") for i in range(3)]
            w = load_file("w.safetensors")["weights"]
            F, D = load_file("Fw.safetensors"), load_file("Dw.safetensors")
            layers = {"fc": ["fc.weight", "fc.bias"], "head": ["head.weight"], "conv": ["conv.weight", "conv.bias"], "p": ["p"]}
            for layer, tensors in layers.items():
                G = np.concatenate([np.concatenate([s[t].reshape(s[t].shape[0], -1) for t in tensors], axis=1) for s in shards])
                want = (G * w[:, None]).T @ G / w.sum()
                assert np.abs(F[layer] - want).max() <= 1e-12 * np.abs(want).max(), layer
                assert np.abs(D[f"{layer}.diag"] - np.diag(want)).max() <= 1e-12 * np.abs(np.diag(want)).max(), layer
            print("python ok")
            """#
        let verified = try LCDBProcess.run(["-c", check], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(verified.stdout == "python ok\n", "\(verified.stdout)\(verified.stderr)")
        for (file, message) in [("w_short", "tensor 'weights' has shape (19,) (F64); expected (20,) floating weights"),
                                ("w_negative", "weight 0 is -1.0; weights must be finite and non-negative"),
                                ("w_zero", "every weight is zero")] {
            let bad = try LCDBProcess.run(["--no-init", db, "-c", "let X = fisher(net, 'g_float64_*.safetensors', weights='\(file).safetensors');"], in: folder)
            #expect(bad.status == 1 && bad.stderr.contains("fisher: \(file).safetensors: \(message)"), "\(file): \(bad.stderr)")
        }
    }

    /// `nonfinite=skip`: examples whose gradients hold NaN or inf (in two
    /// shards, in different layers) are left out: diag, dense blocks (in
    /// memory and in passes), low-rank and weighted dense blocks equal NumPy's
    /// on the remaining examples (1e-12); a note says how many and where.
    /// Without it the build is refused, counting them; nothing left is an error.
    @Test(arguments: [false, true])
    func nonFiniteExamplesLeftOutOnRequest(passes: Bool) throws {
        let py = try LCDBProcess.run(["-c", Self.writer + "\n" + #"""
            a, b = grads(6), grads(3)
            a["fc.weight"] = a["fc.weight"].copy(); a["fc.weight"][2, 1, 0] = np.nan
            b["conv.bias"] = b["conv.bias"].copy(); b["conv.bias"][1, 1] = np.inf; b["conv.bias"][1, 0] = -np.inf
            save_file(a, "bad_0.safetensors"); save_file(b, "bad_1.safetensors")
            save_file({"weights": np.arange(1, 10, dtype=np.float64)}, "w9.safetensors")
            save_file({"weights": np.array([0, 0, 1, 0, 0, 0, 0, 1, 0], dtype=np.float64)}, "w_bad_only.safetensors")
            """#, "5", "float64"], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.status == 0, "\(py.stderr)")
        let db = folder.appendingPathComponent("nf-\(passes).lcdb").path
        let environment = passes ? ["LCDB_FISHER_BAND_BYTES": "200"] : [:]
        let out = try LCDBProcess.run(["--no-init", db, "-c", Self.collection + """
            let D = fisher(net, 'bad_*.safetensors', nonfinite=skip);
            let F = fisher(net, 'bad_*.safetensors', form=dense, nonfinite=skip);
            let L = fisher(net, 'bad_*.safetensors', form=lowrank, nonfinite=skip);
            let W = fisher(net, 'bad_*.safetensors', form=dense, nonfinite=skip, weights='w9.safetensors');
            export matrix D to 'nD.safetensors'; export matrix F to 'nF.safetensors';
            export matrix L to 'nL.safetensors'; export matrix W to 'nW.safetensors';
            """], in: folder, environment: environment)
        #expect(out.status == 0, "\(out.stderr)")
        // Examples 2 (shard 0) and 7 (shard 1's second): three values in all.
        let note = "note: fisher: left out 2 of 9 examples (3 values; first: bad_0.safetensors tensor 'fc.weight' example 2, bad_1.safetensors tensor 'conv.bias' example 7) with non-finite gradients"
        #expect(out.stderr.components(separatedBy: note).count == 5, "\(out.stderr)")
        let check = #"""
            import numpy as np
            from safetensors.numpy import load_file
            shards = [load_file(f"bad_{i}.safetensors") for i in range(2)]
            w = load_file("w9.safetensors")["weights"]
            keep = np.array([i not in (2, 7) for i in range(9)])
            D, F, L, W = (load_file(f"n{x}.safetensors") for x in "DFLW")
            layers = {"fc": ["fc.weight", "fc.bias"], "head": ["head.weight"], "conv": ["conv.weight", "conv.bias"], "p": ["p"]}
            for layer, tensors in layers.items():
                G = np.concatenate([np.concatenate([s[t].reshape(s[t].shape[0], -1) for t in tensors], axis=1) for s in shards])[keep]
                want = G.T @ G / len(G)
                wk = w[keep]
                weighted = (G * wk[:, None]).T @ G / wk.sum()
                J = L[f"{layer}.J"]
                for got, expected in [(F[layer], want), (D[f"{layer}.diag"], np.diag(want)), (J.T @ J, want), (W[layer], weighted)]:
                    assert np.isfinite(got).all() and np.abs(got - expected).max() <= 1e-12 * np.abs(expected).max(), layer
            print("python ok")
            """#
        let verified = try LCDBProcess.run(["-c", check], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(verified.stdout == "python ok\n", "\(verified.stdout)\(verified.stderr)")
        // Refused by default, whichever layer's reader finds one first, with the count.
        for form in ["diag", "dense", "lowrank"] {
            let refused = try LCDBProcess.run(["--no-init", db, "-c", "let X = fisher(net, 'bad_*.safetensors', form=\(form));"], in: folder, environment: environment)
            #expect(refused.status == 1 && refused.stderr.contains("2 of 9 examples (3 values; first: ")
                    && refused.stderr.contains("hold non-finite values; nothing was stored (nonfinite=skip leaves such examples out)"), "\(form): \(refused.stderr)")
        }
        let none = try LCDBProcess.run(["--no-init", db, "-c", "let X = fisher(net, 'bad_*.safetensors', nonfinite=skip, weights='w_bad_only.safetensors');"], in: folder)
        #expect(none.status == 1 && none.stderr.contains("fisher: no example is left: 2 of 9 examples (3 values; first: bad_0.safetensors tensor 'fc.weight' example 2, bad_1.safetensors tensor 'conv.bias' example 7) hold non-finite gradients, and the others have weight zero; nothing was stored"), "\(none.stderr)")
        let listing = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", "select name from matrices order by name;"], in: folder)
        #expect(listing.stdout == "name\nD\nF\nL\nW\n", "only the four built with nonfinite=skip: \(listing.stdout)")
    }

    /// `let F = fisher(...)` whose form could not be stored (the dense block
    /// of a Parameter of 10^6 values takes 4 TB) is refused before any value
    /// is read: the file's NaN is never seen. Not when the result is not stored.
    @Test func aResultTheDiskCannotHoldIsRefusedBeforeReading() throws {
        let py = try LCDBProcess.run(["-c", #"""
            import numpy as np
            from safetensors.numpy import save_file
            p = np.ones((2, 1000000), dtype=np.float32); p[1, 7] = np.nan
            save_file({"p": p}, "huge.safetensors")
            """#], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.status == 0, "\(py.stderr)")
        let db = folder.appendingPathComponent("huge.lcdb").path
        #expect(try LCDBProcess.run(["--no-init", db, "-c", "create collection big (p Parameter(1000000));"], in: folder).status == 0)
        let refused = try LCDBProcess.run(["--no-init", db, "-c", "let F = fisher(big, 'huge.safetensors', form=dense);"], in: folder)
        #expect(refused.status == 1 && refused.stderr.contains("fisher: the result, matrix 'F', needs 4.0 TB; writing it takes about 8.0 TB of free disk")
                && !refused.stderr.contains("NaN"), "\(refused.stderr)")
        // Not stored: the diagonal reads the file (and finds the NaN).
        let read = try LCDBProcess.run(["--no-init", db, "-c", "trace(fisher(big, 'huge.safetensors'));"], in: folder)
        #expect(read.status == 1 && read.stderr.contains("tensor 'p' holds NaN at example 1"), "\(read.stderr)")
    }

    /// A layer read in runs of its columns (as one too wide for a slab is)
    /// gives the same diagonal, bit for bit, and names a NaN's example.
    @Test func columnRunsGiveTheSameDiagonal() throws {
        let py = try LCDBProcess.run(["-c", Self.writer + "\n" + #"""
            g = grads(4)
            g["conv.weight"] = g["conv.weight"].copy(); g["conv.weight"][3, 1, 0, 1, 1] = np.nan
            save_file(g, "nan_late.safetensors")
            """#, "6", "float64"], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.status == 0, "\(py.stderr)")
        let db = folder.appendingPathComponent("c.lcdb").path
        let whole = try LCDBProcess.run(["--no-init", db, "-c", Self.collection + """
            let D = fisher(net, 'g_float64_*.safetensors'); export matrix D to 'D_whole.safetensors';
            """], in: folder)
        #expect(whole.status == 0, "\(whole.stderr)")
        for columns in ["1", "3", "5"] {
            let runs = try LCDBProcess.run(["--no-init", db, "-c", """
                let D\(columns) = fisher(net, 'g_float64_*.safetensors'); export matrix D\(columns) to 'D_\(columns).safetensors';
                """], in: folder, environment: ["LCDB_SLAB_COLUMNS": columns])
            #expect(runs.status == 0, "\(runs.stderr)")
            let a = try Data(contentsOf: folder.appendingPathComponent("D_whole.safetensors"))
            let b = try Data(contentsOf: folder.appendingPathComponent("D_\(columns).safetensors"))
            #expect(a == b, "runs of \(columns) columns")
            let nan = try LCDBProcess.run(["--no-init", db, "-c", "let X = fisher(net, 'nan_late.safetensors');"], in: folder,
                                          environment: ["LCDB_SLAB_COLUMNS": columns])
            #expect(nan.status == 1 && nan.stderr.contains("tensor 'conv.weight' holds NaN at example 3"), "\(columns): \(nan.stderr)")
        }
    }
}
