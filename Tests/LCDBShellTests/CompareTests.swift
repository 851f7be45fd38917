import Foundation
import Testing

/// `compare(A, B)` per layer and over the whole collection, against NumPy
/// on the exported dense blocks and vectors (1e-10 relative): kfac against
/// kfac (closed form, no block built), kfac against dense, dense against
/// dense, and two vectors.
@Suite(.serialized)
struct CompareTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws { scratch = try ScratchFolder("lcdb-compare") }

    @Test func comparisonsAgreeWithNumPy() throws {
        let db = folder.appendingPathComponent("c.lcdb").path
        let out = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", """
            create collection net (fc Linear(4, 3), ln LayerNorm(3), emb Embedding(5, 2), conv Conv2d(2, 2, 2));
            let K = random_kfac(net, seed=1);
            let K2 = random_kfac(net, seed=2);
            let D = to_dense(K);
            let D2 = to_dense(K2);
            let g = randn(net, seed=1);
            let h = g + 0.1 * randn(net, seed=2);
            export matrix D to 'D.safetensors';
            export matrix D2 to 'D2.safetensors';
            export vector g to 'g.safetensors';
            export vector h to 'h.safetensors';
            compare(K, K2);
            compare(K, D2);
            compare(D, D2);
            compare(g, h);
            """], in: folder)
        #expect(out.status == 0, "\(out.stderr)")
        try out.stdout.write(to: folder.appendingPathComponent("out.csv"), atomically: true, encoding: .utf8)
        let python = #"""
            import csv, numpy as np
            from safetensors.numpy import load_file
            D, D2, g, h = (load_file(f"{n}.safetensors") for n in ["D", "D2", "g", "h"])
            layers = ["fc", "ln", "emb", "conv"]
            rows = list(csv.reader(open("out.csv")))
            tables, current = [], None
            for row in rows:
                if row[0] == "layer":
                    current = []
                    tables.append(current)
                else:
                    current.append(row)
            assert len(tables) == 4 and all(len(t) == 5 for t in tables), tables
            def close(got, want):
                return abs(float(got) - want) <= 1e-10 * max(abs(want), 1e-300)
            def matrices(table):
                totals = np.zeros(7)
                for (name, rel, tr, cos), layer in zip(table, layers):
                    a, b = D[layer], D2[layer]
                    diff, ref = np.sum((a - b) ** 2), np.sum(b ** 2)
                    da, db = np.diag(a), np.diag(b)
                    assert name == layer
                    assert close(rel, np.sqrt(diff / ref)) and close(tr, np.trace(a) / np.trace(b)), (layer, rel, tr)
                    assert close(cos, da @ db / np.sqrt((da @ da) * (db @ db))), (layer, cos)
                    totals += [diff, ref, np.trace(a), np.trace(b), da @ db, da @ da, db @ db]
                name, rel, tr, cos = table[-1]
                assert name == "(all)" and close(rel, np.sqrt(totals[0] / totals[1])) and close(tr, totals[2] / totals[3])
                assert close(cos, totals[4] / np.sqrt(totals[5] * totals[6]))
            for table in tables[:3]:
                matrices(table)
            flat = lambda v, layer: np.concatenate([v[k].ravel() for k in sorted(v) if k.split(".")[0] == layer and k.endswith("weight")] +
                                                   [v[k].ravel() for k in sorted(v) if k.split(".")[0] == layer and k.endswith("bias")])
            for (name, rel, ratio, cos), layer in zip(tables[3], layers):
                x, y = flat(g, layer), flat(h, layer)
                assert close(rel, np.linalg.norm(x - y) / np.linalg.norm(y)) and close(ratio, np.linalg.norm(x) / np.linalg.norm(y))
                assert close(cos, x @ y / (np.linalg.norm(x) * np.linalg.norm(y))), (layer, cos)
            print("python ok")
            """#
        let py = try LCDBProcess.run(["-c", python], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.stdout == "python ok\n", "\(py.stdout)\(py.stderr)")
    }

    @Test func badComparisonsAreErrors() throws {
        let db = folder.appendingPathComponent("b.lcdb").path
        #expect(try LCDBProcess.run(["--no-init", db, "-c", """
            create collection a (fc Linear(2, 2)); create collection b (fc Linear(2, 3));
            let F = random_spd(a); let G = random_spd(b); let g = ones(a);
            """], in: folder).status == 0)
        for (statement, message) in [("compare(F, G);", "compare: the operands are over different collections"),
                                     ("compare(F, g);", "compare: compares two matrices or two vectors"),
                                     ("compare(g, ones(b));", "compare: the operands are over different collections")] {
            let out = try LCDBProcess.run(["--no-init", db, "-c", statement], in: folder)
            #expect(out.status == 1 && out.stderr.contains(message), "\(statement): \(out.stderr)")
        }
    }
}
