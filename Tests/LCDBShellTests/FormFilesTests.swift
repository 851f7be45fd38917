import Foundation
import Testing

/// Matrices in forms out to safetensors and back: NumPy rebuilds each block
/// from the exported factors with `kron` (and README's `block` from the
/// database) and finds lcdb's own dense blocks; a file written by Python (as
/// README shows for NNGeometry's objects) imports; export, import and export
/// again give the same bytes; bad files are refused with nothing stored.
struct FormFilesTests {
    @Test func formsRoundTripThroughSafetensorsAndNumPy() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-forms-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("f.lcdb").path
        let out = try LCDBProcess.run(["--no-init", db, "-c", """
            create collection net (wte Embedding(7, 3), ln LayerNorm(3), fc Linear(3, 4), head Linear(4, 2, bias=false), conv Conv2d(2, 3, 2), c1 Conv1d(2, 2, 2));
            let K = random_kfac(net, seed=5);
            let E = inv(K, regul=0.25);
            let D = to_diag(K);
            let S = mixed(K, D);
            let Kd = to_dense(K);
            let U = eig(Kd);
            export matrix U to 'U.safetensors';
            export matrix K to 'K.safetensors';
            export matrix E to 'E.safetensors';
            export matrix D to 'D.safetensors';
            export matrix S to 'S.safetensors';
            export matrix Kd to 'Kd.safetensors';
            """], in: folder)
        #expect(out.status == 0, "\(out.stderr)")
        // README's `block` function, as printed there.
        try LCDBProcess.writeReadmePython(containing: "def block(", to: folder.appendingPathComponent("readme_block.py"))
        let python = #"""
            import numpy as np, sqlite3
            from safetensors.numpy import load_file, save_file
            K, E, D, S, Kd = (load_file(f"{n}.safetensors") for n in ["K", "E", "D", "S", "Kd"])
            assert sorted(K) == ["c1.A", "c1.G", "conv.A", "conv.G", "fc.A", "fc.G", "head.A", "head.G", "ln", "wte.A", "wte.G"], sorted(K)
            assert K["wte.A"].shape == (7,) and K["wte.G"].shape == (3, 3)      # Embedding: W -> A W G, A diagonal
            assert K["fc.A"].shape == (4, 4) and K["fc.G"].shape == (4, 4)       # Linear(3, 4) with bias: A is (3 + 1)^2
            assert K["head.A"].shape == (4, 4) and K["head.G"].shape == (2, 2)   # no bias: A is 4^2
            assert K["conv.A"].shape == (9, 9) and K["c1.A"].shape == (5, 5)     # in_channels * prod(kernel) (+ 1)
            assert E["fc.U_A"].shape == (4, 4) and E["fc.D"].shape == (4, 4) and E["wte.U_A"].shape == (7,)
            def permuted(m, rows, columns, bias):
                index = np.arange(rows * columns).reshape(rows, columns)
                order = np.concatenate([index[:, :-1].ravel(), index[:, -1]]) if bias else index.ravel()
                return m[np.ix_(order, order)]
            sq = lambda f: np.diag(f) if f.ndim == 1 else f
            layers = {"wte": ("A", "G", False), "fc": ("G", "A", True), "head": ("G", "A", False),
                      "conv": ("G", "A", True), "c1": ("G", "A", True)}
            for name, (left, right, bias) in layers.items():
                L, R = sq(K[f"{name}.{left}"]), sq(K[f"{name}.{right}"])
                want = permuted(np.kron(L, R), L.shape[0], R.shape[0], bias)
                assert np.abs(want - Kd[name]).max() <= 1e-12 * np.abs(Kd[name]).max(), name
                # ekfac: (K + 0.25 I)^-1 exactly, through the exported eigenbases and D
                u = np.kron(sq(E[f"{name}.U_{left}"]), sq(E[f"{name}.U_{right}"]))
                inverse = permuted(u @ np.diag(E[f"{name}.D"].reshape(-1)) @ u.T, L.shape[0], R.shape[0], bias)
                assert np.abs(inverse @ (Kd[name] + 0.25 * np.eye(len(inverse))) - np.eye(len(inverse))).max() < 1e-10, name
                assert np.array_equal(D[f"{name}.diag"], np.diag(Kd[name])), name
            assert np.array_equal(S["ln.diag"], np.diag(Kd["ln"])) and np.array_equal(S["fc.A"], K["fc.A"])
            exec(open("readme_block.py").read())
            db = sqlite3.connect("f.lcdb")
            for name in ["wte", "ln", "fc", "head", "conv", "c1"]:
                assert np.abs(block(db, "K", name) - Kd[name]).max() <= 1e-12 * np.abs(Kd[name]).max(), name
                assert np.array_equal(block(db, "Kd", name), Kd[name]), name
                assert np.array_equal(block(db, "D", name), np.diag(np.diag(Kd[name]))), name
                assert np.abs(block(db, "U", name) - Kd[name]).max() <= 1e-12 * np.abs(Kd[name]).max(), name
            U = load_file("U.safetensors")
            assert U["fc.U"].shape == (16, 16) and U["fc.lambda"].shape == (16,)
            assert np.abs(U["fc.U"] @ np.diag(U["fc.lambda"]) @ U["fc.U"].T - Kd["fc"]).max() <= 1e-12 * np.abs(Kd["fc"]).max()
            for name in ["fc", "wte", "ln"]:
                m = block(db, "E", name) @ (Kd[name] + 0.25 * np.eye(len(Kd[name])))
                assert np.abs(m - np.eye(len(m))).max() < 1e-10, name
            # As README shows for NNGeometry's PMatKFAC (its .data: layer -> (a, g)), from NumPy arrays here.
            data = {name: (K[f"{name}.A"], K[f"{name}.G"]) for name in ["fc", "head", "conv", "c1", "wte"]}
            tensors = {}
            for layer_id, (a, g) in data.items():
                tensors[f"{layer_id}.A"], tensors[f"{layer_id}.G"] = 2 * a, g
            tensors["ln"] = Kd["ln"]
            save_file(tensors, "K2.safetensors")
            bad = dict(tensors); bad["fc.A"] = np.ones((5, 5))
            save_file(bad, "bad_shape.safetensors")
            bad = dict(tensors); bad["ln.A"] = np.eye(3); bad["ln.G"] = np.eye(2); del bad["ln"]
            save_file(bad, "bad_kind.safetensors")
            bad = dict(tensors); bad["fc.A"] = bad["fc.A"] + np.triu(np.ones((4, 4)), 1)
            save_file(bad, "bad_symmetry.safetensors")
            bad = dict(tensors); del bad["head.G"]
            save_file(bad, "bad_missing.safetensors")
            bad = dict(tensors); bad["fc"] = np.eye(20)
            save_file(bad, "bad_two_forms.safetensors")
            extra = dict(tensors); extra["fcc.A"] = np.eye(4); extra["zz"] = np.eye(2)
            save_file(extra, "extra.safetensors")
            save_file({**Kd, "head.A": np.eye(4)}, "extra_dense.safetensors")
            print("python ok")
            """#
        let py = try LCDBProcess.run(["-c", python], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.stdout == "python ok\n", "\(py.stderr)")
        // The kfac layers' traces doubled (A times 2), the LayerNorm's dense block kept.
        let back = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", """
            import matrix K2 over net from 'K2.safetensors';
            round(trace(K2) - 2 * trace(K) + trace(mixed(eye(net, scale=0), K)), 6);
            """], in: folder)
        #expect(back.status == 0 && back.stdout.contains("value\n0\n"), "\(back.stdout)\(back.stderr)")
        let again = try LCDBProcess.run(["--no-init", db, "-c", """
            import matrix K3 over net from 'K.safetensors';
            export matrix K3 to 'K3.safetensors';
            import matrix E3 over net from 'E.safetensors';
            export matrix E3 to 'E3.safetensors';
            import matrix U3 over net from 'U.safetensors';
            export matrix U3 to 'U3.safetensors';
            """], in: folder)
        #expect(again.status == 0, "\(again.stderr)")
        for name in ["K", "E", "U"] {
            let original = try Data(contentsOf: folder.appendingPathComponent("\(name).safetensors"))
            let copy = try Data(contentsOf: folder.appendingPathComponent("\(name)3.safetensors"))
            #expect(original == copy, "\(name): export, import and export give the same bytes")
        }
        let errors: [(String, String)] = [
            ("bad_shape", "layer 'fc': tensor 'fc.A' has shape (5, 5), expected (4,) or (4, 4)"),
            ("bad_kind", "layer 'ln' is a LayerNorm, which cannot be kfac or ekfac"),
            ("bad_symmetry", "layer 'fc': factor A is not symmetric"),
            ("bad_missing", "layer 'head': tensors 'head.A', which make no form"),
            ("bad_two_forms", "layer 'fc': tensors 'fc', 'fc.A', 'fc.G', which make no form"),
            ("extra_dense", "layer 'head': tensors 'head', 'head.A', which make no form"),
        ]
        for (file, expected) in errors {
            let run = try LCDBProcess.run(["--no-init", db, "-c", "import matrix X over net from '\(file).safetensors';"], in: folder)
            #expect(run.status == 1 && run.stderr.contains(expected), "\(file): \(run.stderr)")
        }
        let listed = try LCDBProcess.run(["--no-init", db, "-c", "list matrices;"], in: folder)
        #expect(!listed.stdout.contains("X "), "nothing stored from a bad file: \(listed.stdout)")
        // Tensors for no layer (a misspelt name) are not imported, and the message says which.
        let extra = try LCDBProcess.run(["--no-init", db, "-c", "import matrix K4 over net from 'extra.safetensors';"], in: folder)
        #expect(extra.status == 0 && extra.stdout.contains("; 2 tensors for no layer of net not imported: fcc.A, zz"), "\(extra.stdout)\(extra.stderr)")
        let dense = try LCDBProcess.run(["--no-init", db, "-c", "import matrix Kd4 over net from 'Kd.safetensors';"], in: folder)
        #expect(dense.status == 0 && !dense.stdout.contains("not imported"), "\(dense.stdout)\(dense.stderr)")
    }

    /// NNGeometry's `PMatQuasiDiag` data (per layer: the diagonal, and the
    /// cross terms shaped like the weight), written by Python as README shows
    /// (a conv's cross reshaped to `out x in_eff`), imports as quasidiag;
    /// lcdb's mv, solve, logdet and README's `block` agree with NumPy on the
    /// explicit blocks (mv as NNGeometry's own `mv` computes it); export,
    /// import and export give the same bytes; a cross of the wrong shape is
    /// refused, naming the tensor and both shapes.
    @Test func quasiDiagonalBlocksFromNNGeometryData() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-quasidiag-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try LCDBProcess.writeReadmePython(containing: "def block(", to: folder.appendingPathComponent("readme_block.py"))
        let write = #"""
            import numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(3)
            # PMatQuasiDiag.data: layer -> (diag over weight then bias, cross shaped like the weight, or None)
            shapes = {"fc": ((4, 3), 4), "conv": ((3, 2, 2, 2), 3), "bn": ((5,), 5), "head": ((2, 4), None)}
            data = {}
            for name, (weight, bias) in shapes.items():
                numel = int(np.prod(weight)) + (bias or 0)
                diag = 2.5 + rng.random(numel) / 2
                data[name] = (diag, (rng.random(weight) - 0.5) / 2 if bias else None)
            tensors = {}
            for layer_id, (diag, cross) in data.items():
                tensors[f"{layer_id}.diag"] = diag
                if cross is not None:
                    tensors[f"{layer_id}.cross"] = cross.reshape(cross.shape[0], -1) if cross.ndim > 2 else cross
            save_file(tensors, "Q.safetensors")
            bad = dict(tensors); bad["fc.cross"] = tensors["fc.cross"].T.copy()
            save_file(bad, "bad_cross.safetensors")
            x = rng.standard_normal(sum(d.size for d, _ in data.values()))
            save_file({"fc.weight": x[:12].reshape(4, 3), "fc.bias": x[12:16], "conv.weight": x[16:40].reshape(3, 2, 2, 2),
                       "conv.bias": x[40:43], "bn.weight": x[43:48], "bn.bias": x[48:53], "head.weight": x[53:61].reshape(2, 4)}, "x.safetensors")
            np.save("data.npy", np.array([data], dtype=object), allow_pickle=True)
            print("python ok")
            """#
        let py = try LCDBProcess.run(["-c", write], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.stdout == "python ok\n", "\(py.stderr)")
        let db = folder.appendingPathComponent("q.lcdb").path
        let out = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", """
            create collection net (fc Linear(3, 4), conv Conv2d(2, 3, 2), bn BatchNorm2d(5), head Linear(4, 2, bias=false));
            import matrix Q over net from 'Q.safetensors';
            import vector x over net from 'x.safetensors';
            let y = mv(Q, x); let z = solve(Q, x, regul=0.1);
            export vector y to 'y.safetensors'; export vector z to 'z.safetensors';
            export matrix Q to 'Q2.safetensors';
            import matrix Q3 over net from 'Q2.safetensors';
            export matrix Q3 to 'Q3.safetensors';
            logdet(Q, regul=0.1);
            """], in: folder)
        #expect(out.status == 0 && out.stdout.contains("matrix Q: 4 blocks over net as float64, mixed (1 diag, 3 quasidiag)"), "\(out.stdout)\(out.stderr)")
        let check = #"""
            import numpy as np, sqlite3, sys
            from safetensors.numpy import load_file
            exec(open("readme_block.py").read())
            data = np.load("data.npy", allow_pickle=True)[0]
            X, Y, Z = load_file("x.safetensors"), load_file("y.safetensors"), load_file("z.safetensors")
            db = sqlite3.connect("q.lcdb")
            total = 0.0
            for name, (diag, cross) in data.items():
                w, b = X[f"{name}.weight"], X.get(f"{name}.bias")
                # NNGeometry's PMatQuasiDiag.mv, on the weight and bias tensors.
                mv_w = diag[:w.size].reshape(w.shape) * w
                if cross is not None:
                    mv_b = diag[w.size:] * b + (cross * w).reshape(b.size, -1).sum(axis=1)
                    mv_w = mv_w + cross * b.reshape((-1,) + (1,) * (w.ndim - 1))
                    assert np.abs(Y[f"{name}.bias"] - mv_b).max() <= 1e-12 * np.abs(mv_b).max(), name
                assert np.abs(Y[f"{name}.weight"] - mv_w).max() <= 1e-12 * np.abs(mv_w).max(), name
                # The explicit block (README's reader) gives the same product, the solve and the log-determinant.
                m = block(db, "Q", name)
                v = np.concatenate([w.reshape(-1)] + ([b] if b is not None else []))
                mine = np.concatenate([Y[f"{name}.weight"].reshape(-1)] + ([Y[f"{name}.bias"]] if b is not None else []))
                assert np.abs(m @ v - mine).max() <= 1e-12 * np.abs(mine).max(), name
                solved = np.concatenate([Z[f"{name}.weight"].reshape(-1)] + ([Z[f"{name}.bias"]] if b is not None else []))
                want = np.linalg.solve(m + 0.1 * np.eye(len(m)), v)
                assert np.abs(solved - want).max() <= 1e-12 * np.abs(want).max(), name
                total += np.linalg.slogdet(m + 0.1 * np.eye(len(m)))[1]
            print(repr(float(total)))
            """#
        let verified = try LCDBProcess.run(["-c", check], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        let logdet = out.stdout.split(separator: "\n").last.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        let numpyLogdet = Double(verified.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(logdet != nil && numpyLogdet != nil && abs(logdet! - numpyLogdet!) <= 1e-12 * abs(numpyLogdet!), "\(out.stdout) vs \(verified.stdout)")
        let first = try Data(contentsOf: folder.appendingPathComponent("Q2.safetensors"))
        #expect(first == (try Data(contentsOf: folder.appendingPathComponent("Q3.safetensors"))), "export, import and export give the same bytes")
        let bad = try LCDBProcess.run(["--no-init", db, "-c", "import matrix B over net from 'bad_cross.safetensors';"], in: folder)
        #expect(bad.status == 1 && bad.stderr.contains("layer 'fc': tensor 'fc.cross' has shape (3, 4), expected (4, 3)"), "\(bad.stderr)")
    }
}
