import Foundation
import Testing

/// Provenance (the statement that made each stored vector and matrix, the
/// lcdb version, the time, the stored objects it read, marked stale when
/// dropped or replaced since) and user metadata (`annotate`), through `show`
/// and the `provenance`, `provenance_inputs` and `metadata` views.
@Suite(.serialized)
struct ProvenanceTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws { scratch = try ScratchFolder("lcdb-provenance") }

    func run(_ db: String, _ statements: String, binary: String = "debug") throws -> LCDBProcess.Result {
        let executable = try #require(LCDBProcess.binaries().first { $0.name == binary }?.path, "run the tests with make test (release binary)")
        return try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", statements], in: folder, executableOverride: executable)
    }

    static let setup = """
        create collection mlp (fc1 Linear(3, 2), ln LayerNorm(2));
        let F = random_spd(mlp, seed=1);
        let g = randn(mlp, seed=2);
        let step = solve(F,
                         g, regul=0.1);   -- over two lines
        create collection first as subset(mlp, 'fc1');
        -- a comment line before a statement is the script's, not the statement's
        let h = step.fc1;
        copy matrix F to F2;
        export vector g to 'g.safetensors';
        import vector g2 over mlp from 'g.safetensors';
        """

    @Test(arguments: ["debug", "release"])
    func statementsRecordHowObjectsWereMadeAndStalenessFollows(binary: String) throws {
        let db = folder.appendingPathComponent("p-\(binary).lcdb").path
        let made = try run(db, Self.setup, binary: binary)
        #expect(made.status == 0, "\(made.stderr)")
        // Each statement as typed (a statement over two lines keeps its lines), and what it read.
        let provenance = try run(db, """
            select name, kind, statement, lcdb_version from provenance order by name;
            select name, input, input_kind, stale from provenance_inputs order by name, input;
            """, binary: binary)
        #expect(provenance.stdout == """
            name,kind,statement,lcdb_version
            F,matrix,"let F = random_spd(mlp, seed=1)",0.1.0
            F2,matrix,copy matrix F to F2,0.1.0
            g,vector,"let g = randn(mlp, seed=2)",0.1.0
            g2,vector,import vector g2 over mlp from 'g.safetensors',0.1.0
            h,vector,let h = step.fc1,0.1.0
            step,vector,"let step = solve(F,
                             g, regul=0.1)",0.1.0
            name,input,input_kind,stale
            F,mlp,collection,0
            F2,F,matrix,0
            g,mlp,collection,0
            g2,mlp,collection,0
            h,step,vector,0
            step,F,matrix,0
            step,g,vector,0

            """, "\(provenance.stdout)")
        // Replacing g makes it stale for step (and for the new g, which read the old one);
        // renaming F does not (the same object); dropping it does, and its own record goes.
        let after = try run(db, """
            let g = 2 * g;
            rename matrix F to Fisher;
            select name, input, stale from provenance_inputs where stale order by name, input;
            drop matrix Fisher;
            select name, input, stale from provenance_inputs where stale order by name, input;
            select count(*) as n from provenance where name = 'Fisher';
            """, binary: binary)
        #expect(after.stdout == """
            name,input,stale
            g,g,1
            step,g,1
            name,input,stale
            F2,F,1
            g,g,1
            step,F,1
            step,g,1
            n
            0

            """, "\(after.stdout)")
        // Each input's content hash as it was read: the old g's for the new g (taken
        // before the result replaced it), the collection's from its definition.
        let hashes = try run(db, """
            select name, input, input_sha256 from provenance_inputs where name in ('g', 'step', 'F2') order by name, input;
            checksum(g2); checksum(F2); checksum(mlp);
            """, binary: binary)
        let lines = hashes.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 11, "\(hashes.stdout)")
        let (g2Hash, f2Hash, mlpHash) = (lines[6], lines[8], lines[10])
        #expect(lines[0] == "name,input,input_sha256", "\(hashes.stdout)")
        #expect(lines[1] == "F2,F,\(f2Hash)", "a copy has its source's content")
        #expect(lines[2] == "g,g,\(g2Hash)", "the old g, which g2 holds again")
        #expect(lines[3] == "step,F,\(f2Hash)" && lines[4] == "step,g,\(g2Hash)", "\(hashes.stdout)")
        let python = try LCDBProcess.run(["-c", "import hashlib; print(hashlib.sha256(b'lcdb collection 1\\nfc1 Linear(3, 2)\\nln LayerNorm((2,))\\n').hexdigest())"],
                                         in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(python.stdout == mlpHash + "\n", "\(python.stdout)\(python.stderr)")
        let shown = try LCDBProcess.run(["--no-init", db, "-c", "show step;"], in: folder,
                                        executableOverride: try #require(LCDBProcess.binaries().first { $0.name == binary }?.path))
        #expect(shown.stdout.contains("made by: let step = solve(F,\n                 g, regul=0.1)\n  with lcdb 0.1.0 at 20"), "\(shown.stdout)")
        #expect(shown.stdout.contains("  from: matrix F sha256:\(f2Hash.prefix(12)) (stale: dropped or replaced since), vector g sha256:\(g2Hash.prefix(12)) (stale: dropped or replaced since)\n"), "\(shown.stdout)")
    }

    /// A statement that fails stores neither the object nor its provenance.
    @Test func aFailedLetLeavesNoProvenance() throws {
        let db = folder.appendingPathComponent("f.lcdb").path
        #expect(try run(db, Self.setup).status == 0)
        let failed = try run(db, "let X = solve(F - F, g);")
        #expect(failed.status == 1)
        let count = try run(db, "select count(*) as n from provenance where name = 'X'; select count(*) as n from lcdb_provenance_input i left join lcdb_provenance p on p.serial = i.serial where p.serial is null;")
        #expect(count.stdout == "n\n0\nn\n0\n", "\(count.stdout)")
    }

    @Test func metadataRoundTrip() throws {
        let db = folder.appendingPathComponent("m.lcdb").path
        #expect(try run(db, Self.setup).status == 0)
        let out = try run(db, """
            annotate step estimator = 'empirical fisher', samples = 50000, damping = -1e-3, dataset = cifar10;
            annotate mlp source = "torch vision";
            annotate step samples = 60000;
            select name, kind, key, value from metadata order by name, key;
            annotate step drop damping, dataset;
            select name, key, value from metadata order by name, key;
            """)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout == """
            name,kind,key,value
            mlp,collection,source,torch vision
            step,vector,damping,-1e-3
            step,vector,dataset,cifar10
            step,vector,estimator,empirical fisher
            step,vector,samples,60000
            name,key,value
            mlp,source,torch vision
            step,estimator,empirical fisher
            step,samples,60000

            """, "\(out.stdout)")
        let shown = try LCDBProcess.run(["--no-init", db, "-c", "show step;"], in: folder)
        #expect(shown.stdout.contains("metadata: estimator = empirical fisher, samples = 60000"), "\(shown.stdout)")
        // Dropping the object drops its metadata.
        let dropped = try run(db, "drop vector step; select count(*) as n from lcdb_metadata where object_kind = 'vector';")
        #expect(dropped.stdout == "n\n0\n", "\(dropped.stdout)")
    }

    @Test func badAnnotationsAreErrors() throws {
        let db = folder.appendingPathComponent("b.lcdb").path
        #expect(try run(db, Self.setup).status == 0)
        let cases: [(String, String)] = [
            ("annotate nope a = 1;", "-c:1:10: error: no vector, matrix or collection 'nope'"),
            ("annotate g drop missing;", "vector 'g' has no metadata key 'missing'"),
            ("annotate g a = ;", "expected a value (a quoted text, a number or a word), found the end of the statement"),
            ("annotate g a 1;", "expected '=', found '1'"),
            ("annotate g a = -x;", "'-' goes before a number"),
        ]
        for (statement, message) in cases {
            let out = try run(db, statement)
            #expect(out.status == 1 && out.stderr.contains(message), "\(statement): \(out.stderr)")
        }
        #expect(try run(db, "select count(*) as n from metadata;").stdout == "n\n0\n")
    }

    /// checksum(x): the same for the same content in two files written with
    /// different tile sizes, different when a value or the dtype differs, and
    /// equal to SHA-256 of the documented byte stream computed by Python's
    /// hashlib from the exported arrays and the views.
    @Test func checksumsAreContentHashesThatPythonReproduces() throws {
        let first = folder.appendingPathComponent("c1.lcdb").path, second = folder.appendingPathComponent("c2.lcdb").path
        let statements = """
            create collection net (fc Linear(3, 2), ln LayerNorm(2), emb Embedding(4, 2));
            let g = randn(net, seed=2);
            let K = random_kfac(net, seed=1);
            let F = random_spd(net, seed=3);
            checksum(g); checksum(K); checksum(F);
            """
        let a = try run(first, statements)
        // Small tiles, and bands of one or two rows (a triangle-stored block mirrored across bands).
        let b = try LCDBProcess.run(["--no-init", "--format", "csv", second, "-c", statements + "select matrix, layout from matrix_parts where matrix = 'F' and part = 'block' limit 1;"],
                                    in: folder, environment: ["LCDB_TILE_BYTES": "64", "LCDB_ROW_BAND_BYTES": "40"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)\(b.stderr)")
        let hashes = a.stdout.split(separator: "\n").filter { $0.count == 64 }.map(String.init)
        #expect(hashes.count == 3 && Set(hashes).count == 3, "\(a.stdout)")
        #expect(b.stdout == a.stdout + "matrix,layout\nF,upper\n", "tile and band sizes change nothing")
        let changed = try run(second, """
            let g32 = cast(g, float32); checksum(g32);
            let g = g + 0 * g; checksum(g);
            let h = g; let h = where(h == h, h, 0); checksum(h);
            export vector g to 'g.safetensors'; export matrix K to 'K.safetensors'; export matrix F to 'F.safetensors';
            """)
        let later = changed.stdout.split(separator: "\n").filter { $0.count == 64 }.map(String.init)
        #expect(later.count == 3 && later[0] != hashes[0] && later[1] == hashes[0] && later[2] == hashes[0], "\(changed.stdout)")
        let python = #"""
            import hashlib, sqlite3, sys, numpy as np
            from safetensors.numpy import load_file
            db = sqlite3.connect(sys.argv[1])
            layers = db.execute("select name, kind, hyperparameters from layers where collection = 'net' order by position").fetchall()
            header = lambda kind, dtype: (f"lcdb {kind} 1\ndtype {dtype}\n" + "fc Linear(3, 2)\nln LayerNorm((2,))\nemb Embedding(4, 2)\n\n").encode()
            g = load_file("g.safetensors")
            values = np.concatenate([g[k].ravel() for k in ["fc.weight", "fc.bias", "ln.weight", "ln.bias", "emb.weight"]]).astype("<f8")
            print(hashlib.sha256(header("vector", "float64") + values.tobytes()).hexdigest())
            for name, tensors in [("K", load_file("K.safetensors")), ("F", load_file("F.safetensors"))]:
                h = hashlib.sha256(header("matrix", "float64"))
                for layer, form in db.execute("select layer, form from matrix_blocks where matrix = ? order by position", (name,)):
                    h.update(f"block {form}\n".encode())
                    for part, shape in db.execute("select part, shape from matrix_parts where matrix = ? and layer = ? order by part", (name, layer)):
                        h.update(f"part {part} {shape}\n".encode())
                        key = layer if part == "block" else f"{layer}.{part}"
                        h.update(np.ascontiguousarray(tensors[key], dtype="<f8").tobytes())
                print(h.hexdigest())
            """#
        let py = try LCDBProcess.run(["-c", python, second], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.stdout == hashes.joined(separator: "\n") + "\n", "\(py.stdout)\(py.stderr)")
    }
}
