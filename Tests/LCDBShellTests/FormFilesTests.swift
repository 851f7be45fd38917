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
}
