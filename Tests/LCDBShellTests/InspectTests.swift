import Foundation
import Testing

/// Seeing the numbers: layer and parameter access (`g.fc1`, `g.fc1.weight`,
/// `g."head layer"`, `F.fc1`), `values`/`head`/`tail`, `block` tables (of
/// stored dense blocks and of kfac blocks, computed as products), and
/// `restrict` / `subset`; checked against the exported arrays in NumPy.
@Suite(.serialized)
struct InspectTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws { scratch = try ScratchFolder("lcdb-inspect") }

    static let setup = """
        create collection net (fc Linear(3, 2), "head layer" Linear(2, 2, bias=false), p Parameter(2, 3), layer1.0 Linear(2, 2), layer1.1 Linear(2, 2));
        let g = randn(net, seed=1);
        let K = random_kfac(net, seed=2);
        let Kd = to_dense(K);
        export vector g to 'g.safetensors';
        export matrix Kd to 'Kd.safetensors';
        """

    @Test(arguments: ["debug", "release"])
    func valuesBlocksAndPartsAgreeWithTheExportedArrays(binary: String) throws {
        let lcdb = try #require(LCDBProcess.binaries().first { $0.name == binary }?.path, "run the tests with make test (release binary)")
        let db = folder.appendingPathComponent("i-\(binary).lcdb").path
        let out = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", Self.setup + """
            values(g);
            head(g, 4);
            tail(g, 3);
            values(g, start=5, count=6);
            g.fc.weight;
            g.fc.bias;
            values(g."head layer");
            values(g.layer1.0);
            block(K, fc, rows=0, columns=0);
            block(Kd, "head layer", row=1, column=2, rows=2, columns=5);
            block(K.fc, fc, rows=2, columns=3);
            """], in: folder, executableOverride: lcdb)
        #expect(out.status == 0, "\(out.stderr)")
        try out.stdout.write(to: folder.appendingPathComponent("out-\(binary).csv"), atomically: true, encoding: .utf8)
        let python = #"""
            import csv, sys, numpy as np
            from safetensors.numpy import load_file
            g, Kd = load_file("g.safetensors"), load_file("Kd.safetensors")
            order = [("fc.weight", "fc"), ("fc.bias", "fc"), ("head layer.weight", "head layer"), ("p", "p"),
                     ("layer1.0.weight", "layer1.0"), ("layer1.0.bias", "layer1.0"), ("layer1.1.weight", "layer1.1"), ("layer1.1.bias", "layer1.1")]
            flat, names = [], []
            for tensor, layer in order:
                values = g[tensor]
                flat += list(values.ravel())
                for index in np.ndindex(values.shape):
                    names.append((layer, f"{tensor}[{', '.join(map(str, index))}]"))
            tables, current = [], None
            for row in csv.reader(open(sys.argv[1])):
                if row[0] in ("index", "row"):
                    current = []
                    tables.append(current)
                else:
                    current.append(row)
            assert len(tables) == 11, len(tables)
            def entries(table, indices):
                assert [int(r[0]) for r in table] == list(indices), [r[0] for r in table]
                for index, layer, parameter, value in table:
                    assert (layer, parameter) == names[int(index)] and float(value) == flat[int(index)], (index, layer, parameter, value)
            entries(tables[0], range(len(flat)))
            entries(tables[1], range(4))
            entries(tables[2], range(len(flat) - 3, len(flat)))
            entries(tables[3], range(5, 11))
            assert [(r[0], float(r[1])) for r in tables[4]] == [(f"[{i}, {j}]", float(g["fc.weight"][i, j])) for i in range(2) for j in range(3)]
            assert [(r[0], float(r[1])) for r in tables[5]] == [(f"[{i}]", float(g["fc.bias"][i])) for i in range(2)]
            assert [float(r[3]) for r in tables[6]] == list(g["head layer.weight"].ravel())
            assert [float(r[3]) for r in tables[7]] == list(g["layer1.0.weight"].ravel()) + list(g["layer1.0.bias"].ravel())
            fc = np.array([[float(x) for x in r[1:]] for r in tables[8]])
            assert fc.shape == (8, 8) and np.abs(fc - Kd["fc"]).max() <= 1e-12 * np.abs(Kd["fc"]).max()
            corner = np.array([[float(x) for x in r[1:]] for r in tables[9]])
            assert [int(r[0]) for r in tables[9]] == [1, 2] and np.array_equal(corner, Kd["head layer"][1:3, 2:4])
            assert np.abs(np.array([[float(x) for x in r[1:]] for r in tables[10]]) - Kd["fc"][:2, :3]).max() <= 1e-12 * np.abs(Kd["fc"]).max()
            print("python ok")
            """#
        let py = try LCDBProcess.run(["-c", python, "out-\(binary).csv"], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.stdout == "python ok\n", "\(py.stdout)\(py.stderr)")
    }

    @Test func restrictAndSubset() throws {
        let db = folder.appendingPathComponent("r.lcdb").path
        // dot is OpenBLAS's: how it groups a sum depends on the kernels the
        // machine runs, so a dot over two layers and the sum of the layers'
        // dots agree to rounding, not always exactly (exact on one host, 4e-15
        // apart on an AMD one with the Haswell kernels).
        let out = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", Self.setup + """
            create collection l1 as subset(net, 'layer1.*');
            create collection some as subset(net, 'fc, layer1.1');
            let r = restrict(g, 'layer1.*');
            let S = restrict(K, 'fc, layer1.1');
            select name, collection from vectors where name = 'r';
            select name, collection, representation from matrices where name = 'S';
            norm(r) - norm(restrict(g, 'layer1.0, layer1.1'));
            round(dot(r, r) - dot(g.layer1.0, g.layer1.0) - dot(g.layer1.1, g.layer1.1), 9);
            round(trace(S) - trace(K.fc) - trace(K.layer1.1), 9);
            select group_concat(name, ' ') as layers from layers where collection = 'l1';
            """], in: folder)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("name,collection\nr,l1\n"), "\(out.stdout)")
        #expect(out.stdout.contains("name,collection,representation\nS,some,kfac\n"), "\(out.stdout)")
        #expect(out.stdout.contains("value\n0\nvalue\n0\nvalue\n0\n"), "\(out.stdout)")
        #expect(out.stdout.contains("layers\nlayer1.0 layer1.1\n"), "\(out.stdout)")
    }

    @Test func badAccessIsAnError() throws {
        let db = folder.appendingPathComponent("b.lcdb").path
        #expect(try LCDBProcess.run(["--no-init", db, "-c", Self.setup], in: folder).status == 0)
        let cases: [(String, String)] = [
            ("g.nope;", "-c:1:1: error: vector 'g' has no layer or parameter 'nope'"),
            ("g.fc.weights;", "vector 'g' has no layer or parameter 'fc.weights'"),
            ("K.fcc;", "matrix 'K' has no layer 'fcc'; did you mean 'fc'?"),
            ("values(g, start=100);", "values: start 100 is past the end (the vector has 30 entries)"),
            ("values(g, count=-1);", "values: count must be a non-negative integer, got -1"),
            ("block(K, fc, row=8);", "block: row and column must be below the block's side, 8"),
            ("block(K, nope);", "block: the matrix has no layer 'nope'"),
            ("restrict(g, 'layer2.*');", "restrict: no layer matches 'layer2.*'"),
            ("let r = restrict(g, 'fc');", "the result is over layers that no stored collection has (fc); create that collection first"),
            ("create collection x as subset(net, 'zz*');", "no layer matches 'zz*'"),
        ]
        for (statement, message) in cases {
            let out = try LCDBProcess.run(["--no-init", db, "-c", statement], in: folder)
            #expect(out.status == 1 && out.stderr.contains(message), "\(statement): \(out.stderr)")
        }
    }
}
