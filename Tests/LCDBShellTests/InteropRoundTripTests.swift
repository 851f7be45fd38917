import Foundation
import Testing

/// lcdb -> file -> NumPy / safetensors (Python) -> file -> lcdb, compared exactly.
struct InteropRoundTripTests {
    @Test func vectorsAndCollectionsTravelExactly() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-trip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("trip.lcdb").path
        let out = try LCDBProcess.run(["--no-init", db, "-c", """
            create collection net (conv Conv2d(3, 4, kernel_size=3), ln LayerNorm(4), head Linear(4, 2, bias=false), t Parameter(2, 2));
            let g = randn(net, seed=5, dtype=float32);
            let h = randn(net, seed=6);
            export vector g to 'g.safetensors';
            export vector g to 'g.npy';
            export vector h to 'h.safetensors';
            export collection net to 'net.json';
            """], in: folder)
        #expect(out.status == 0, "\(out.stderr)")
        // Python reads lcdb's files with the safetensors package and NumPy, checks they agree, and writes them back.
        let python = """
            import json, numpy as np
            from safetensors.numpy import load_file, save_file
            g = load_file("g.safetensors"); h = load_file("h.safetensors"); flat = np.load("g.npy")
            assert list(g) == ["conv.weight", "conv.bias", "ln.weight", "ln.bias", "head.weight", "t"], list(g)
            assert g["conv.weight"].shape == (4, 3, 3, 3) and g["head.weight"].shape == (2, 4) and g["t"].shape == (2, 2)
            assert g["conv.weight"].dtype == np.float32 and h["conv.weight"].dtype == np.float64
            assert np.array_equal(np.concatenate([g[k].ravel() for k in g]), flat)
            save_file({k: v.copy() for k, v in g.items()}, "g_back.safetensors")
            save_file({k: v.copy() for k, v in h.items()}, "h_back.safetensors")
            np.save("g_back.npy", flat)
            layers = json.load(open("net.json"))["layers"]
            assert [l["kind"] for l in layers] == ["Conv2d", "LayerNorm", "Linear", "Parameter"], layers
            print("python ok")
            """
        let py = try LCDBProcess.run(["-c", python], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.stdout == "python ok\n", "\(py.stderr)")
        let back = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", """
            import vector g2 over net from 'g_back.safetensors';
            import vector g3 over net from 'g_back.npy';
            import vector h2 over net from 'h_back.safetensors';
            import collection net2 from 'net.json';
            norm(g2 - g, inf); norm(g3 - g, inf); norm(h2 - h, inf);
            diff net net2;
            list vectors;
            """], in: folder)
        #expect(back.status == 0, "\(back.stderr)")
        #expect(back.stdout.contains("value\n0\nvalue\n0\nvalue\n0\n"), "\(back.stdout)")
        #expect(back.stdout.contains("g2,net,float32,") && back.stdout.contains("h2,net,float64,"))
        #expect(back.stdout.contains("change,layer,field,old,new\n"), "the JSON round trip is exact: an empty diff")
    }

    @Test func badImportsStoreNothing() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-badimport-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("not a checkpoint".utf8).write(to: folder.appendingPathComponent("junk.safetensors"))
        let db = folder.appendingPathComponent("bad.lcdb").path
        let run = try LCDBProcess.run(["--no-init", "--keep-going", db, "-c", """
            import collection x from 'junk.safetensors';
            create collection net (fc Linear(2, 2));
            export vector nothing to 'n.safetensors';
            import vector v over net from 'missing.npy';
            """], in: folder)
        #expect(run.status == 1)
        #expect(run.stderr.contains("junk.safetensors: header length"))
        #expect(run.stderr.contains("no vector 'nothing'"))
        #expect(run.stderr.contains("missing.npy: no such file"))
        let list = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", "list collections; list vectors;"])
        #expect(list.stdout == "name,layer_count,numel\nnet,1,6\nname,collection,dtype,numel\n")
    }
}

extension InteropRoundTripTests {
    @Test func matricesTravelExactlyBothWays() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-mtrip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("m.lcdb").path
        let out = try LCDBProcess.run(["--no-init", db, "-c", """
            create collection net (a Linear(3, 2), b Parameter(5), "c.d" LayerNorm(2));
            let F = random_spd(net, seed=3);
            let G = mm(F, F + identity(net));
            export matrix F to 'F.safetensors';
            export matrix G to 'Gdir';
            """], in: folder)
        #expect(out.status == 0, "\(out.stderr)")
        // README's `block` function, as printed there.
        try LCDBProcess.writeReadmePython(containing: "def block(", to: folder.appendingPathComponent("readme_block.py"))
        let python = """
            import numpy as np
            from safetensors.numpy import load_file, save_file
            F = load_file("F.safetensors")
            assert list(F) == ["a", "b", "c.d"] and F["a"].shape == (8, 8) and F["b"].shape == (5, 5)
            assert all(np.array_equal(m, m.T) for m in F.values())
            G = {name: np.load(f"Gdir/{name}.npy") for name in ["a", "b", "c.d"]}
            assert not np.array_equal(G["a"], G["a"].T)
            # README's reader, straight from the database: F keeps its upper triangle, G whole rows.
            import sqlite3
            exec(open("readme_block.py").read())
            db = sqlite3.connect("m.lcdb")
            assert db.execute("select group_concat(layout) from (select layout from matrices order by name)").fetchone()[0] == "upper,full"
            for name in ["a", "b", "c.d"]:
                assert np.array_equal(block(db, "F", name), F[name]), name
                assert np.array_equal(block(db, "G", name), G[name]), name
            save_file({k: 2 * v for k, v in F.items()}, "F2.safetensors")
            import os; os.makedirs("G2", exist_ok=True)
            for name, block in G.items():
                np.save(f"G2/{name}.npy", np.asfortranarray(block) if name == "a" else block)
            print("python ok")
            """
        let py = try LCDBProcess.run(["-c", python], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.stdout == "python ok\n", "\(py.stderr)")
        let back = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", """
            import matrix F2 over net from 'F2.safetensors';
            import matrix G2 over net from 'G2';
            frobenius(F2 - 2 * F);
            frobenius(G2 - G);
            list matrices;
            """], in: folder)
        #expect(back.status == 0, "\(back.stderr)")
        #expect(back.stdout.contains("value\n0\nvalue\n0\n"), "\(back.stdout)")
        // F2 is exactly symmetric: checked before storing, so kept as one triangle; G2 is not.
        let listed = back.stdout.split(separator: "\n").map { $0.split(separator: ",") }
        #expect(listed.first { $0.first == "F2" }.map { Array($0.suffix(2)) } == ["1", "upper"], "\(back.stdout)")
        #expect(listed.first { $0.first == "G2" }.map { Array($0.suffix(2)) } == ["0", "full"], "\(back.stdout)")
        let wrong = try LCDBProcess.run(["--no-init", db, "-c", """
            create collection other (a Linear(3, 3));
            import matrix X over other from 'F.safetensors';
            """], in: folder)
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("F.safetensors: tensor 'a' has shape [8, 8], the block of layer 'a' is [12, 12]"), "\(wrong.stderr)")
    }

    /// A block that is symmetric under == but not bit for bit (0 against -0)
    /// is stored whole, so it comes back with the sign of its zero.
    @Test func signedZerosSurviveTheSymmetryCheck() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-zeros-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let make = """
            import numpy as np
            from safetensors.numpy import save_file
            save_file({"p": np.array([[1.0, 0.0], [-0.0, 1.0]]), "q": np.array([[2.0, -0.0], [-0.0, 2.0]])}, "z.safetensors")
            """
        #expect(try LCDBProcess.run(["-c", make], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"]).status == 0)
        let db = folder.appendingPathComponent("z.lcdb").path
        let run = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", """
            create collection z (p Parameter(2), q Parameter(2));
            import matrix Z over z from 'z.safetensors';
            list matrices;
            export matrix Z to 'back.safetensors';
            """], in: folder)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("\nZ,z,blockdiag,float64,64,0,full\n"), "\(run.stdout)")
        let check = """
            import numpy as np
            from safetensors.numpy import load_file
            a, b = load_file("z.safetensors"), load_file("back.safetensors")
            assert all(np.array_equal(a[k], b[k]) and np.array_equal(np.signbit(a[k]), np.signbit(b[k])) for k in a)
            print("python ok")
            """
        let py = try LCDBProcess.run(["-c", check], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.stdout == "python ok\n", "\(py.stderr)")
    }
}
