import Foundation
import Testing

/// The defects found by trying the shipped binary as a new user would (the
/// "shipped binary" issue), each pinned by a run of the built `lcdb`.
/// Memory-capped runs use the release binary, which is what users run.
struct ShippedBinaryDefectTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws {
        scratch = try ScratchFolder("lcdb-defects")
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func lcdb(_ arguments: [String], stdin: String? = nil) throws -> LCDBProcess.Result {
        try LCDBProcess.run(["--no-init"] + arguments, stdin: stdin, in: folder)
    }

    func python(_ code: String) throws -> LCDBProcess.Result {
        try LCDBProcess.run(["-c", code], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
    }

    /// `lcdb` (the release binary) under `ulimit -v` (kB): statements that
    /// allocate beyond it must end in an error, never in a signal.
    func capped(_ kilobytes: Int, _ arguments: [String], stdin: String? = nil) throws -> LCDBProcess.Result {
        let binary = try #require(LCDBProcess.releaseExecutable, "no release binary: run the tests with make test")
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try LCDBProcess.run(["-c", "ulimit -v \(kilobytes); exec '\(binary.path)' --no-init \(quoted)"],
                                   stdin: stdin, in: folder, executableOverride: "/bin/sh")
    }

    // Items 2-4: a memory cap ends in a clear error, never a signal.
    @Test func largeAllocationsUnderAMemoryCapAreErrors() throws {
        let db = path("big.lcdb")
        let resnet = LCDBProcess.packageRoot.appendingPathComponent("samples/resnet18.lc").path
        #expect(try lcdb([db, resnet]).status == 0)
        #expect(try lcdb([db, "-c", "let g = randn(resnet18, seed=1, dtype=float32);"]).status == 0)
        // The identity is never built: this is dot(g, g) (it built 10.7 GB blocks and aborted).
        let identity = try capped(3_000_000, [db, "-c", ".format csv", "-c", "vtmv(identity(resnet18), g); dot(g, g); trace(2 * identity(resnet18));"])
        #expect(identity.status == 0, "\(identity.stderr)")
        let numbers = identity.stdout.split(separator: "\n").compactMap { Double($0) }
        #expect(numbers.count == 3 && abs(numbers[0] - numbers[1]) <= 1e-12 * numbers[1] && numbers[2] == 23_379_024, "\(identity.stdout)")
        // Blocks that would be built are refused before the work starts.
        let blocks = try capped(3_000_000, [db, "-c", "trace(random_spd(resnet18));"])
        #expect(blocks.status == 1 && blocks.stderr.contains("error:") && blocks.stderr.contains("memory"), "\(blocks.status) \(blocks.stderr)")
        // A vector too large for memory.
        let vector = try capped(3_000_000, [":memory:", "-c", "create collection huge (x Linear(100000, 100000)); let v = zeros(huge);"])
        #expect(vector.status == 1 && vector.stderr.contains("needs 80.0 GB of memory"), "\(vector.status) \(vector.stderr)")
        // Did-you-mean on two 100,000-character names.
        let long = String(repeating: "a", count: 100_000)
        let suggest = try capped(3_000_000, [":memory:"], stdin: "create collection \(long) (x Linear(1, 1)); show \(long)b;\n")
        #expect(suggest.status == 1 && suggest.stderr.contains("error: no vector, matrix or collection"), "\(suggest.status)")
        #expect(suggest.stderr.count < 2_000, "long names and lines are elided in errors: \(suggest.stderr.count) bytes")
    }

    // Item 6: norms follow IEEE like NumPy.
    @Test func normsOfNonFiniteValuesFollowIEEE() throws {
        let result = try lcdb([":memory:", "-c", """
            create collection c (a Linear(3, 3));
            let v = randn(c, seed=1);
            let n = 0 * (1e308 * 10 * v);
            norm(n); norm(n, inf); norm(n, 1); norm(1e308 * ones(c)); norm(1e308 * 10 * v, inf);
            frobenius(0 * (1e308 * 10) * random_spd(c));
            """])
        #expect(result.status == 0, "\(result.stderr)")
        let values = result.stdout.split(separator: "\n").filter { !$0.contains("value") && !$0.contains("---") }.map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(values == ["nan", "nan", "nan", "inf", "inf", "nan"], "\(values)")
        let show = try lcdb([":memory:", "-c", "create collection c (a Linear(3, 3)); let n = 0 * (1e308 * 10 * ones(c)); show n;"])
        #expect(show.stdout.contains("a         12   nan  nan  nan"), "\(show.stdout)")
        #expect(show.stdout.contains("norm nan"), "\(show.stdout)")
    }

    @Test func showPrintsTheSameNormAsNorm() throws {
        let result = try lcdb([":memory:", "-c", "create collection c (a Linear(30, 30), b Linear(7, 3)); let v = randn(c, seed=4); show v; norm(v);"])
        let norm = result.stdout.split(separator: "\n").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?"
        #expect(result.stdout.contains("norm \(norm)"), "\(result.stdout)")
    }

    // Item 7: layers=common results are over the shared layers and storable.
    @Test func commonLayerResultsAreConsistentAndStorable() throws {
        let db = path("common.lcdb")
        let result = try lcdb([db, "-c", """
            create collection A (a Linear(2, 2), b Linear(3, 3));
            create collection B (b Linear(3, 3), d Linear(4, 4));
            let u = ones(A); let w = ones(B);
            axpy(1, u, w, layers=common);
            create collection Y as merge(A, B);
            let r = axpy(1, u, w, layers=common);
            list vectors;
            """])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("float64 vector: 12 values"), "\(result.stdout)")
        #expect(result.stdout.contains("r     Y           float64     12"), "\(result.stdout)")
        let sum = try lcdb([db, "-c", "u + w;"])
        #expect(sum.status == 1 && sum.stderr.contains("+: the operands are over different collections") && sum.stderr.contains("layers=common"), "\(sum.stderr)")
    }

    // Item 8: one namespace; a dotted name never silently shadows a layer.
    @Test func namesAreOneNamespace() throws {
        let db = path("names.lcdb")
        #expect(try lcdb([db, "-c", "create collection mlp (fc1 Linear(2, 2)); let g = ones(mlp); let F = identity(mlp);"]).status == 0)
        let vector = try lcdb([db, "-c", "let mlp = ones(mlp);"])
        #expect(vector.status == 1 && vector.stderr.contains("'mlp' is already a collection"), "\(vector.stderr)")
        let collection = try lcdb([db, "-c", "create collection g (a Linear(1, 1));"])
        #expect(collection.status == 1 && collection.stderr.contains("'g' is already a vector"), "\(collection.stderr)")
        let matrix = try lcdb([db, "-c", "let g = identity(mlp);"])
        #expect(matrix.status == 1 && matrix.stderr.contains("already a vector"), "\(matrix.stderr)")
        let dotted = try lcdb([db, "-c", "let g.fc1 = zeros(mlp);"])
        #expect(dotted.status == 1 && dotted.stderr.contains("names layer 'fc1' of vector 'g'"), "\(dotted.stderr)")
        let list = try lcdb([db, "-c", ".format csv", "-c", "list vectors;"])
        #expect(!list.stdout.contains("g.fc1") && !list.stdout.contains("mlp,mlp"), "\(list.stdout)")
    }

    // Item 10: files.
    @Test func matrixFilesKeepWhatTheNameAndTheBitsSay() throws {
        let db = path("files.lcdb")
        #expect(try lcdb([db, "-c", "create collection two (a Linear(2, 1), b Linear(1, 1)); create collection one (a Linear(2, 1)); let M = random_spd(two); let N = random_spd(one, seed=2);"]).status == 0)
        let refused = try lcdb([db, "-c", "export matrix M to 'M.npy';"])
        #expect(refused.status == 1 && refused.stderr.contains("a .npy file holds one array, and this matrix has 2 blocks"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path("M.npy")))
        #expect(try lcdb([db, "-c", "export matrix N to 'N.npy';"]).status == 0)
        let check = try python("import numpy as np; a = np.load('N.npy'); print(a.shape, a.dtype)")
        #expect(check.stdout == "(3, 3) float64\n", "\(check.stdout)\(check.stderr)")
        // A float32 block with a signalling NaN and a value beyond float32's range.
        let make = try python("""
            import numpy as np, os
            os.makedirs('f32', exist_ok=True)
            a = np.arange(9, dtype=np.float32).reshape(3, 3)
            a.view(np.uint32)[0, 1] = 0x7f800001
            np.save('f32/a.npy', a)
            b = np.arange(9, dtype=np.float64).reshape(3, 3); b[2, 2] = 1e300
            os.makedirs('f64', exist_ok=True); np.save('f64/a.npy', b)
            """)
        #expect(make.status == 0, "\(make.stderr)")
        let imported = try lcdb([db, "-c", "import matrix K over one from 'f32'; import matrix L over one from 'f64' dtype float32; export matrix K to 'K'; list matrices;"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("matrix K: 1 block over one as float32"), "\(imported.stdout)")
        #expect(imported.stdout.contains("matrix L: 1 block over one as float32; 1 non-finite values"), "\(imported.stdout)")
        let bits = try python("import numpy as np; print(hex(np.load('K/a.npy').view(np.uint32)[0, 1]))")
        #expect(bits.stdout == "0x7f800001\n", "a signalling NaN keeps its bits: \(bits.stdout)\(bits.stderr)")
    }

    // Item 11: a Parameter layer's tensor has one name.
    @Test func aParameterLayerIsNamedAsPyTorchNamesIt() throws {
        let result = try lcdb([":memory:", "-c", ".format csv", "-c", "create collection c (p Parameter(2, 3)); parameters c; let v = ones(c); export vector v to 'v.safetensors';"])
        #expect(result.stdout.contains("\np,\"(2, 3)\",6,0"), "\(result.stdout)")
        let keys = try python("from safetensors.numpy import load_file; print(list(load_file('v.safetensors')))")
        #expect(keys.stdout == "['p']\n", "\(keys.stdout)\(keys.stderr)")
    }

    // Item 12: -c with a statement starting with '-'.
    @Test func aCommandMayStartWithAMinus() throws {
        let result = try lcdb([":memory:", "-c", "-2 * 3;", "--command", "-1;"])
        #expect(result.status == 0 && result.stdout == "value\n-----\n   -6\nvalue\n-----\n   -1\n", "\(result.stdout)\(result.stderr)")
    }

    // Item 13: messages.
    @Test func messagesSayWhatWasMeant() throws {
        let db = path("messages.lcdb")
        #expect(try lcdb([db, "-c", "create collection mlp (fc1 Linear(2, 2));"]).status == 0)
        let cases: [(String, String)] = [
            ("shwo mlp;", "1:1: error: unknown statement 'shwo'; did you mean 'show'?"),
            ("quit;", "'quit' is not a statement; type .quit"),
            ("create collection q (a Linear(9223372036854775808, 2));", "integer 9223372036854775808 is too large"),
            ("create collection q (a Linear(2, 3, biass=false));", "1:37: error: Linear: unknown argument 'biass'"),
            ("copy collection mlp to mlp;", "1:24: error: collection 'mlp' already exists"),
            ("import collection t from 'w.npy';", "a .npy file holds one array, not a checkpoint"),
        ]
        for (statement, expected) in cases {
            let result = try lcdb([db, "-c", statement])
            #expect(result.status == 1 && result.stderr.contains(expected), "\(statement): \(result.stderr)")
        }
        let directory = try lcdb([folder.path, "-c", "list collections;"])
        #expect(directory.status != 0 && directory.stderr.contains("it is a directory"), "\(directory.stderr)")
        let missing = try lcdb([path("no/such/folder/x.lcdb"), "-c", "list collections;"])
        #expect(missing.status != 0 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
        let help = try lcdb([":memory:", "-c", "help .read; help merge;"])
        #expect(help.status == 0 && help.stdout.contains(".read FILE") && help.stdout.contains("create collection NAME as merge(A, B)"), "\(help.stdout)\(help.stderr)")
    }

    // Item 13, continued: NaN blocks, reorderings, the timer.
    @Test func nanBlocksReorderingsAndTheTimer() throws {
        let db = path("more-messages.lcdb")
        let made = try lcdb([db, "-c", """
            create collection c (a Linear(2, 2), b Linear(1, 1)); create collection d (b Linear(1, 1), a Linear(2, 2));
            let F = random_spd(c, seed=1);
            """])
        #expect(made.status == 0, "\(made.stderr)")
        // A block holding NaN, made as a user would: import of a file with NaN.
        let setup = try lcdb([db, "-c", "export matrix F to '\(path("F.safetensors"))';"])
        #expect(setup.status == 0, "\(setup.stderr)")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path("F.safetensors")))
        // The last 8 bytes are the last float64 of block b: make it NaN.
        bytes.replaceSubrange(bytes.count - 8 ..< bytes.count, with: withUnsafeBytes(of: Double.nan.bitPattern.littleEndian) { Data($0) })
        try bytes.write(to: URL(fileURLWithPath: path("N.safetensors")))
        #expect(try lcdb([db, "-c", "import matrix M over c from '\(path("N.safetensors"))';"]).status == 0)
        for statement in ["solve(M, ones(c), regul=1);", "let Mi = inv(M);"] {
            let run = try lcdb([db, "-c", statement])
            #expect(run.status == 1 && run.stderr.contains("block 'b' holds NaN") && !run.stderr.contains("singular"), "\(run.stderr)")
        }
        let diff = try lcdb([db, "-c", "diff c d;"])
        #expect(diff.stdout.contains("reordered") && diff.stdout.contains("a, b") && diff.stdout.contains("b, a"), "\(diff.stdout)")
        let timed = try lcdb([db], stdin: ".timer on\nnorm(ones(c));\n.timer off\n")
        #expect(timed.stdout.components(separatedBy: "Run Time").count == 2, "only the statement is timed: \(timed.stdout)")
    }

    // Item 14: deep nesting and long flat expressions end in a result or a located error.
    @Test func deepAndLongExpressionsDoNotCrash() throws {
        let sum = try lcdb([":memory:"], stdin: "1" + String(repeating: " + 1", count: 20_000) + ";\n")
        #expect(sum.status == 0 && sum.stdout.contains("20001"), "\(sum.status) \(sum.stderr.prefix(300))")
        let product = try lcdb([":memory:"], stdin: "2" + String(repeating: " * 1", count: 20_000) + ";\n")
        #expect(product.status == 0 && product.stdout.contains("    2\n"), "\(product.status)")
        let deep = try lcdb([":memory:"], stdin: String(repeating: "(", count: 100_000) + "1" + String(repeating: ")", count: 100_000) + ";\n")
        #expect(deep.status == 1 && deep.stderr.contains("<stdin>:1:201: error: expression nested more than 200 levels deep"), "\(deep.status)")
        let calls = try lcdb([":memory:"], stdin: String(repeating: "norm(", count: 5_000) + "v" + String(repeating: ")", count: 5_000) + ";\n")
        #expect(calls.status == 1 && calls.stderr.contains("nested more than 200 levels"), "\(calls.status)")
        let matrices = try lcdb([":memory:"], stdin: "create collection c (a Linear(1, 1)); trace(identity(c)" + String(repeating: " + identity(c)", count: 300) + ");\n")
        #expect(matrices.status == 1 && matrices.stderr.contains("more than 200 matrix operations"), "\(matrices.status)")
    }

    // Issue "scripts at the edges", item 1: CRLF and BOM.
    @Test func windowsLineEndingsAndAByteOrderMark() throws {
        let script = path("crlf.lc")
        try Data("\u{FEFF}create collection c (a Linear(2, 2));\r\nnumel(c);\r\n\r\nnumel(\r\n  c);\r\nbad stmt;\r\nnumel(c);\r\n".utf8).write(to: URL(fileURLWithPath: script))
        let result = try lcdb([":memory:", script])
        #expect(result.stdout == "value\n-----\n    6\nvalue\n-----\n    6\n", "\(result.stdout)")
        #expect(result.status == 1 && result.stderr.hasPrefix("\(script):6:1: error: unknown statement 'bad'"), "\(result.stderr)")
        #expect(!result.stderr.contains("numel(c);\r"), "the error echo is one line")
        let piped = try lcdb([":memory:"], stdin: "create collection c (a Linear(2, 2));\r\nnumel(c);\r\n")
        #expect(piped.status == 0 && piped.stdout.contains("6"), "\(piped.stderr)")
    }

    // Issue "scripts at the edges", item 3: exports never replace special files.
    @Test func exportsRefuseSpecialFilesAndImportsRefuseFIFOs() throws {
        let db = path("special.lcdb")
        #expect(try lcdb([db, "-c", "create collection c (a Linear(1, 1)); let v = ones(c); let M = identity(c);"]).status == 0)
        // A FIFO, a directory and a device (through a symlink: /dev/full was once replaced) as targets.
        for suffix in ["json", "npy"] {
            #expect(mkfifo(path("fifo.\(suffix)"), 0o644) == 0)
            try FileManager.default.createDirectory(atPath: path("dir.\(suffix)"), withIntermediateDirectories: false)
            try FileManager.default.createSymbolicLink(atPath: path("null.\(suffix)"), withDestinationPath: "/dev/null")
        }
        for target in ["fifo", "dir", "null"] {
            for statement in ["export collection c to '\(target).json';", "export vector v to '\(target).npy';"] {
                let result = try lcdb([db, "-c", statement])
                #expect(result.status == 1 && result.stderr.contains("nothing was written"), "\(statement): \(result.stderr)")
            }
        }
        var info = stat()
        #expect(lstat(path("fifo.json"), &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO, "the FIFO is still a FIFO")
        #expect(lstat("/dev/null", &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR, "/dev/null is still a device")
        // A symlink is written through: the link stays, its target gets the file.
        #expect(FileManager.default.createFile(atPath: path("real.json"), contents: Data("old".utf8)))
        try FileManager.default.createSymbolicLink(atPath: path("link.json"), withDestinationPath: path("real.json"))
        #expect(try lcdb([db, "-c", "export collection c to 'link.json';"]).status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: path("link.json")) == path("real.json"))
        #expect((try String(contentsOfFile: path("real.json"), encoding: .utf8)).contains("\"Linear\""))
        // Importing from a FIFO is refused at once instead of blocking.
        let fifoImport = try lcdb([db, "-c", "import vector w over c from 'fifo.npy';"])
        #expect(fifoImport.status == 1 && fifoImport.stderr.contains("is a FIFO (named pipe), not a regular file"), "\(fifoImport.stderr)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty, "no temporary files left: \(leftovers)")
    }
}

/// Issue "scripts at the edges", item 4: a damaged lcdb file is refused before
/// anything is written to it.
struct DamagedFileTests {
    @Test(arguments: ["DROP TABLE grdb_migrations;", "PRAGMA user_version = 0;", "PRAGMA user_version = -1;"])
    func aDamagedFileIsRefusedUntouched(edit: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-damaged-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("d.lcdb").path
        #expect(try LCDBProcess.run(["--no-init", db, "-c", "create collection c (a Linear(1, 1));"]).status == 0)
        let sqlite = try LCDBProcess.run([db, "PRAGMA journal_mode = DELETE; " + edit], executableOverride: "/usr/bin/sqlite3")
        #expect(sqlite.status == 0, "\(sqlite.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        let run = try LCDBProcess.run(["--no-init", db, "-c", "list collections;"])
        #expect(run.status != 0 && run.stderr.contains("was damaged or edited"), "\(run.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before, "the refused file is unchanged")
        #expect(!FileManager.default.fileExists(atPath: db + "-wal"), "no WAL was created")
    }
}

/// Item 15: lcdb files edited with sqlite3 (hostile or damaged), run on the
/// binaries users run.
@Suite(.serialized)
struct HostileFileTests {
    /// A small database with a vector and a matrix of several tiles per block.
    private static func makeDatabase(_ folder: URL) throws -> String {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let db = folder.appendingPathComponent("h.lcdb").path
        let made = try LCDBProcess.run(["--no-init", db, "-c",
            "create collection c (a Linear(30, 20), b LayerNorm(20)); let F = random_spd(c, seed=1); let G = F * 1; let v = ones(c);"])
        #expect(made.status == 0, "\(made.stderr)")
        return db
    }

    private static func sqlite(_ db: String, _ sql: String) throws {
        let run = try LCDBProcess.run([db, "PRAGMA journal_mode = DELETE; PRAGMA ignore_check_constraints = 1; " + sql],
                                      executableOverride: "/usr/bin/sqlite3")
        #expect(run.status == 0, "\(run.stderr)")
    }

    @Test(arguments: ["9223372036854775807", "-9223372036854775808", "100000000000", "0", "19"])
    func aTileWithImpossibleRowsIsReportedNeverATrap(rowCount: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-hostile-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = try Self.makeDatabase(folder)
        try Self.sqlite(db, "UPDATE lcdb_matrix_tile SET row_count = \(rowCount) WHERE matrix_id = 1 AND position = 0 AND row_start = 77;")
        let statements = ["show F;", "frobenius(F);", "mv(F, v);", "solve(F, v, regul=1);", "trace(F);", "diag(F);",
                          "vtmv(F, v);", "let K = inv(F);", "let S = F + G;", "copy matrix F to F2;",
                          "export matrix F to '\(folder.path)/F.safetensors';"]
        for binary in LCDBProcess.binaries() {
            let path = try #require(binary.path, "the \(binary.name) binary is missing: run the tests with `make test`")
            for statement in statements {
                let run = try LCDBProcess.run(["--no-init", db, "-c", statement], executableOverride: path)
                #expect(run.status == 1 && run.stderr.contains("matrix 'F'") && run.stderr.contains("block 'a'"),
                        "\(binary.name): \(statement) -> \(run.status) \(run.stderr)")
            }
        }
        let listed = try LCDBProcess.run(["--no-init", db, "-c", "list matrices;"])
        #expect(!listed.stdout.contains("F2"), "a damaged matrix is not copied")
        let check = try LCDBProcess.run(["--no-init", db, "-c", "check;"])
        #expect(check.status == 1, "check fails on damage")
        #expect(check.stdout.contains("matrix  F") && check.stdout.contains("matrix  G") == false, "\(check.stdout)")
        // Negative or zero counts also break the table's CHECK, which SQLite's own check reports.
        #expect(check.stderr.contains(Int(rowCount)! > 0 ? "1 damaged object" : "2 damaged objects"), "\(check.stderr)")
    }

    @Test(arguments: ["-48", "196"])
    func anEditedNumelIsNotBelieved(numel: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-hostile-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = try Self.makeDatabase(folder)
        try Self.sqlite(db, "UPDATE lcdb_layer SET numel = \(numel) WHERE position = 0;")
        for statement in ["list collections;", "list vectors;", "show v;", "show c;"] {
            let run = try LCDBProcess.run(["--no-init", db, "-c", statement])
            #expect(run.status == 1 && run.stderr.contains("numel is stored as \(numel)") && run.stderr.contains("620 parameters"),
                    "\(statement) -> \(run.stdout) \(run.stderr)")
        }
        let check = try LCDBProcess.run(["--no-init", db, "-c", "check;"])
        #expect(check.status == 1)
        for line in ["collection  c", "vector      v", "matrix      F", "matrix      G"] {
            #expect(check.stdout.contains(line), "check lists \(line): \(check.stdout)")
        }
    }

    @Test func damagedChunksAndTilesAreEachNamedByCheck() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-hostile-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = try Self.makeDatabase(folder)
        let healthy = try LCDBProcess.run(["--no-init", db, "-c", "check;"])
        #expect(healthy.status == 0 && healthy.stdout.contains("check: ok"), "\(healthy.stdout) \(healthy.stderr)")
        try Self.sqlite(db, """
            UPDATE lcdb_vector_chunk SET count = 5 WHERE position = 1;
            UPDATE lcdb_matrix_tile SET data = x'00' WHERE matrix_id = 1 AND row_start = 77;
            INSERT INTO lcdb_matrix_tile (matrix_id, part, position, row_start, row_count, data, col_start) VALUES (2, 'block', 7, 0, 1, x'00', 0);
            """)
        let check = try LCDBProcess.run(["--no-init", db, "-c", "check;"])
        #expect(check.status == 1 && check.stderr.contains("3 damaged objects"), "\(check.stderr)")
        #expect(check.stdout.contains("vector  v") && check.stdout.contains("holds 320 bytes, not the 40"), "\(check.stdout)")
        #expect(check.stdout.contains("matrix  F") && check.stdout.contains("holds 1 bytes, not the 291048"), "\(check.stdout)")
        #expect(check.stdout.contains("matrix  G") && check.stdout.contains("outside its collection's layers"), "\(check.stdout)")
    }

    @Test(arguments: [
        ("CREATE TRIGGER zero AFTER INSERT ON lcdb_matrix_tile BEGIN UPDATE lcdb_matrix_tile SET data = zeroblob(length(new.data)) WHERE rowid = new.rowid; END;",
         "a foreign trigger 'zero' on 'lcdb_matrix_tile'"),
        ("DROP VIEW matrices; CREATE VIEW matrices AS SELECT 'ghost' AS name;", "view 'matrices' is not lcdb's definition"),
        ("CREATE INDEX mine ON lcdb_vector(dtype);", "a foreign index 'mine' on 'lcdb_vector'"),
        ("DROP VIEW layers;", "view 'layers' is missing"),
    ])
    func aFileWithForeignSchemaObjectsIsRefusedUntouched(edit: String, expected: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-hostile-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = try Self.makeDatabase(folder)
        try Self.sqlite(db, edit)
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        for statement in ["list matrices;", "let F2 = F + F;"] {
            let run = try LCDBProcess.run(["--no-init", db, "-c", statement])
            #expect(run.status != 0 && run.stderr.contains("schema was edited") && run.stderr.contains(expected), "\(run.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before, "the refused file is unchanged")
    }

    @Test func anOlderFileIsCheckedAgainstItsOwnVersionThenUpgraded() throws {
        // A version-1 file (before the upper-triangle migration), made by
        // running only the first migration file through sqlite3.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("old.lcdb").path
        let first = try String(contentsOf: LCDBProcess.packageRoot.appendingPathComponent("migrations/0001_initial.sql"), encoding: .utf8)
        try Self.sqlite(db, first + """
            CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
            INSERT INTO grdb_migrations VALUES ('0001_initial.sql');
            """)
        let run = try LCDBProcess.run(["--no-init", db, "-c", "create collection c (a Linear(2, 2)); check;"])
        #expect(run.status == 0 && run.stdout.contains("check: ok"), "\(run.stdout) \(run.stderr)")
    }
}
