import Foundation
import Testing

/// The invocation contract: databases, -c, scripts, standard input, exit
/// statuses, --keep-going, --single-transaction, and what a failed statement leaves.
struct CommandLineTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws {
        scratch = try ScratchFolder("lcdb-cli")
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    @Test func versionAndHelp() throws {
        let version = try LCDBProcess.run(["--version"])
        #expect(version.stdout.hasPrefix("0.1.0 (OpenBLAS ") && version.stdout.hasSuffix(" kernels)\n") && version.status == 0, "\(version.stdout)")
        // A machine that names its kernels (OPENBLAS_CORETYPE: some set it
        // because older OpenBLAS builds go wrong on their processors) gets
        // them: lcdb's own choice only replaces a fallback OpenBLAS made.
        if let chosen = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !chosen.isEmpty {
            #expect(version.stdout.lowercased().contains("(openblas \(chosen.lowercased()) kernels)"), "\(version.stdout) with OPENBLAS_CORETYPE=\(chosen)")
        }
        let help = try LCDBProcess.run(["--help"])
        #expect(help.stdout.contains("USAGE: lcdb [OPTIONS] [DATABASE] [SCRIPT ...]"))
        #expect(help.stdout.contains("--single-transaction") && help.stdout.contains("--keep-going"))
        let bad = try LCDBProcess.run(["--format", "xml"])
        #expect(bad.status != 0 && bad.stderr.contains("--format takes table, csv or json, not 'xml'"))
    }

    @Test func pipedInputHasNoPromptOrBanner() throws {
        let result = try LCDBProcess.run(["--no-init"], stdin: "create collection c (a Linear(2, 3));\nnumel(c);\n")
        #expect(result == .init(stdout: "value\n-----\n    9\n", stderr: "", status: 0))
        let failing = try LCDBProcess.run(["--no-init"], stdin: "numel(nothing);\nnumel(nothing2);\n")
        #expect(failing.status == 1)
        #expect(failing.stderr.hasPrefix("<stdin>:1:7: error: no vector, matrix or collection 'nothing'"))
        #expect(!failing.stderr.contains("nothing2"), "stops at the first error")
    }

    @Test func commandsRunBeforeScriptsAndDataPersists() throws {
        let db = path("work.lcdb")
        let script = try write("s.lc", "show c;\n")
        let first = try LCDBProcess.run(["--no-init", db, "-c", ".format csv", "-c", "create collection c (a Linear(1, 2));", script])
        #expect(first.status == 0)
        #expect(first.stdout.hasPrefix("position,layer,definition"))
        let second = try LCDBProcess.run(["--no-init", db, "-c", "numel(c);"])
        #expect(second.stdout == "value\n-----\n    4\n")
    }

    @Test func aFailedStatementLeavesTheDatabaseAsItWas() throws {
        let db = path("atomic.lcdb")
        let script = try write("s.lc", """
            create collection kept (a Linear(2, 2));
            create collection broken (a Linear(2, 2), b Linear(2, 0));
            create collection never (a Linear(2, 2));
            """)
        let run = try LCDBProcess.run(["--no-init", db, script])
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("\(script):2:45: error: Linear: out_features must be a positive integer, got 0"))
        let list = try LCDBProcess.run(["--no-init", db, "-c", ".format csv", "-c", "list collections;"])
        #expect(list.stdout == "name,layer_count,numel\nkept,1,6\n")
    }

    @Test func vacuumGivesBackWhatDropsFreed() throws {
        let db = path("vacuum.lcdb")
        let fill = try LCDBProcess.run(["--no-init", db, "-c", "create collection w (p Parameter(1500)); let A = identity(w); let B = 2 * A; drop matrix A;"])
        #expect(fill.status == 0, "\(fill.stderr)")
        let size = { (try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int) ?? 0 }
        let before = try size()
        let run = try LCDBProcess.run(["--no-init", db, "-c", "vacuum; trace(B);"])
        #expect(run.status == 0 && run.stdout.hasPrefix("vacuum: ") && run.stdout.hasSuffix("value\n-----\n 3000\n"), "\(run.stdout)")
        // A is about half of the pages: the file loses about a third of its size at least.
        let after = try size()
        #expect(after < before * 2 / 3, "\(before) -> \(after)")
        #expect(!FileManager.default.fileExists(atPath: db + "-wal"))
        let batch = try LCDBProcess.run(["--no-init", "--single-transaction", db, "-c", "vacuum;"])
        #expect(batch.status == 1 && batch.stderr.contains("vacuum cannot run inside a transaction"), "\(batch.stderr)")
    }

    @Test func aBlockLargerThanMemoryIsRefusedNotAllocated() throws {
        // 400,000 parameters: one 1.28 TB block. Shown or combined, it would be
        // computed whole; the statement fails before allocating anything.
        let run = try LCDBProcess.run(["--no-init", ":memory:", "-c",
            "create collection huge (p Parameter(400000)); show random_spd(huge);"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("show builds whole blocks; the largest, layer 'p' (400000 x 400000), needs 1.3 TB of memory, more than this process can safely allocate"), "\(run.stderr)")
    }

    /// `let` of sums and multiples of stored and generated matrices streams
    /// panel by panel; the stored result equals the same expression computed
    /// a whole block at a time, bit for bit. A full-layout operand and a
    /// product (which needs whole blocks) take the other paths.
    @Test func streamedResultsEqualWholeBlockResults() throws {
        let db = path("panels.lcdb")
        let run = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", """
            create collection w (a Linear(30, 20), b Parameter(7), c LayerNorm(40));
            let F = random_spd(w, seed=1);
            let G = random_spd(w, seed=2, dtype=float32);
            let P = mm(F, G);
            let H = 2 * F + G - 0.5 * identity(w);
            let K = P + F;
            let S = 3 * F;
            let F = F + F;
            frobenius(H - (2 * random_spd(w, seed=1) + G - 0.5 * identity(w)));
            frobenius(K - (mm(random_spd(w, seed=1), G) + random_spd(w, seed=1)));
            frobenius(F - 2 * random_spd(w, seed=1));
            frobenius(S - 3 * random_spd(w, seed=1));
            list matrices;
            """])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.components(separatedBy: "value\n0\n").count == 5, "\(run.stdout)")
        let layouts = run.stdout.split(separator: "\n").filter { $0.contains(",blockdiag,") }.map { $0.split(separator: ",") }
        #expect(layouts.map { "\($0[0]):\($0.last!)" } == ["F:upper", "G:upper", "H:upper", "K:full", "P:full", "S:upper"], "\(run.stdout)")
    }

    /// mv, vtmv, trace and diag of sums and multiples are split by linearity, and
    /// frobenius computed panel by panel (a stored
    /// operand streams); they agree with the product of the materialized
    /// matrix (`mm` by the identity forces the whole-block path) to rounding.
    @Test func productsOfSumsAgreeWithTheWholeMatrix() throws {
        let db = path("linear.lcdb")
        let run = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", """
            create collection w (a Linear(30, 20), b Parameter(7));
            let F = random_spd(w, seed=1);
            let G = random_spd(w, seed=2);
            let x = randn(w, seed=3);
            let M = mm(identity(w), 2 * F - 0.5 * G + 0.1 * identity(w));
            norm(mv(M, x), inf);
            round(norm(mv(2 * F - 0.5 * G + 0.1 * identity(w), x) - mv(M, x), inf), 8);
            vtmv(F, x);
            round(vtmv(3 * (F + G), x) - vtmv(mm(identity(w), 3 * (F + G)), x), 6);
            round(trace(2 * F - 0.5 * G + 0.1 * identity(w)) - trace(M), 6);
            round(norm(diag(2 * F - 0.5 * G + 0.1 * identity(w)) - diag(M), inf), 9);
            round(frobenius(2 * F - 0.5 * G + 0.1 * identity(w)) - frobenius(M), 6);
            let P = mm(F, G);
            round(frobenius(P - 0.5 * P) - frobenius(mm(identity(w), P - 0.5 * P)), 6);
            round(frobenius(P - G) - frobenius(mm(identity(w), P - G)), 6);
            """])
        #expect(run.status == 0, "\(run.stderr)")
        // Sizes first (so that the rounding is relative error below 1e-12), then the differences.
        let values = run.stdout.split(separator: "\n").filter { $0 != "value" }.compactMap { Double($0) }
        #expect(values.count == 9, "\(run.stdout)")
        #expect(values.count == 9 && values[0] < 1e4 && values[1] == 0 && values[2] < 1e6 && values[3] == 0 && values[4] == 0
                && values[5] == 0 && values[6] == 0 && values[7] == 0 && values[8] == 0, "\(run.stdout)")
    }

    @Test func keepGoingRunsEverythingButFails() throws {
        let db = path("going.lcdb")
        let script = try write("s.lc", "create collection a (x Linear(1, 1));\nshow zzz;\ncreate collection b (x Linear(1, 1));\n")
        let run = try LCDBProcess.run(["--no-init", "--keep-going", db, script])
        #expect(run.status == 1)
        let list = try LCDBProcess.run(["--no-init", db, "-c", ".format csv", "-c", "list collections;"])
        #expect(list.stdout == "name,layer_count,numel\na,1,2\nb,1,2\n")
    }

    @Test func singleTransactionStoresAllOrNothing() throws {
        let db = path("single.lcdb")
        let failing = try write("f.lc", "create collection a (x Linear(1, 1));\nlet v = ones(a);\nshow zzz;\n")
        let run = try LCDBProcess.run(["--no-init", "--single-transaction", db, failing])
        #expect(run.status == 1 && run.stderr.contains("rolled back"))
        let empty = try LCDBProcess.run(["--no-init", db, "-c", ".format csv", "-c", "list collections;"])
        #expect(empty.stdout == "name,layer_count,numel\n")
        let passing = try write("p.lc", "create collection a (x Linear(1, 1));\nlet v = ones(a);\nlet F = identity(a);\n")
        #expect(try LCDBProcess.run(["--no-init", "--single-transaction", db, passing]).status == 0)
        let listed = try LCDBProcess.run(["--no-init", db, "-c", ".format csv", "-c", "list vectors; list matrices;"])
        #expect(listed.stdout == "name,collection,dtype,numel\nv,a,float64,2\nname,collection,representation,dtype,bytes,symmetric,layout\nF,a,blockdiag,float64,24,1,upper\n")
    }

    @Test func initFileRunsUnlessNoInit() throws {
        let home = folder.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        try ".format csv\n".write(to: home.appendingPathComponent(".lcdbrc"), atomically: true, encoding: .utf8)
        let with = try LCDBProcess.run(["-c", "numel(x);"], stdin: nil, environment: ["HOME": home.path])
        #expect(with.stdout.isEmpty || with.stderr.contains("no collection 'x'"))
        let csv = try LCDBProcess.run(["-c", "create collection x (a Linear(1, 1)); numel(x);"], environment: ["HOME": home.path])
        #expect(csv.stdout == "value\n2\n")
        let table = try LCDBProcess.run(["--no-init", "-c", "create collection x (a Linear(1, 1)); numel(x);"], environment: ["HOME": home.path])
        #expect(table.stdout == "value\n-----\n    2\n")
    }

    @Test func badFilesAreClearErrors() throws {
        let notes = try write("notes.txt", "not a database\n")
        let result = try LCDBProcess.run(["--no-init", notes, "-c", "list collections;"])
        #expect(result.status == 2)
        #expect(result.stderr == "lcdb: '\(notes)' is not an SQLite database (its first bytes are not SQLite's header); nothing was changed\n")
        #expect(try String(contentsOfFile: notes, encoding: .utf8) == "not a database\n")
        let missingScript = try LCDBProcess.run(["--no-init", ":memory:", path("missing.lc")])
        #expect(missingScript.status == 1 && missingScript.stderr.contains("cannot read script"))
        let looksLikeScript = try write("tour.lc", "list collections;\n")
        let swapped = try LCDBProcess.run(["--no-init", looksLikeScript])
        #expect(swapped.stderr.contains("to run a script in memory: lcdb :memory: \(looksLikeScript)"))
    }

    @Test func readNestsAndIsCapped() throws {
        let inner = try write("inner.lc", "create collection n (a Linear(1, 1));\n")
        _ = inner
        let outer = try write("outer.lc", ".read inner.lc\nnumel(n);\n")
        let run = try LCDBProcess.run(["--no-init", ":memory:", outer])
        #expect(run.stdout == "value\n-----\n    2\n" && run.status == 0)
        let loop = try write("loop.lc", ".read loop.lc\n")
        let looped = try LCDBProcess.run(["--no-init", ":memory:", loop])
        #expect(looped.status == 1 && looped.stderr.contains(".read is nested more than 25 deep"))
    }

    /// Every sample, on the debug build and on the release binary users run
    /// (kfac_gpt2, minutes of LAPACK on GPT-2 small's factors, on the release
    /// binary only, in its own test below).
    @Test(arguments: ["quickstart", "resnet18", "gpt2", "finetune_diff", "natural_gradient", "import_checkpoint", "laplace"], ["debug", "release"])
    func samplesRun(sample: String, build: String) throws {
        try runSample(sample, build: build)
    }

    /// On a CPU with AVX2 and FMA, lcdb never runs OpenBLAS's SSE3 fallback
    /// kernels (Debian's 0.3.21 falls back on CPUs it does not know, such as
    /// this machine's virtual Xeon: a seventh of the speed). Checked in the
    /// binaries, which switch kernels at start-up.
    @Test func openBLASRunsNativeKernels() throws {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flags = Set(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
        for binary in LCDBProcess.binaries() {
            let path = try #require(binary.path, "the \(binary.name) binary is missing: run the tests with `make test`")
            let run = try LCDBProcess.run(["--version"], executableOverride: path)
            #expect(run.status == 0 && run.stdout.contains("OpenBLAS "), "\(run.stdout)\(run.stderr)")
            if flags.contains("avx2") && flags.contains("fma") && ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil {
                #expect(!run.stdout.contains("Prescott") && !run.stdout.contains("Core2"), "\(binary.name): \(run.stdout)")
            }
        }
    }

    @Test func kfacGPT2SampleRunsOnTheReleaseBinary() throws {
        try runSample("kfac_gpt2", build: "release")
    }

    private func runSample(_ sample: String, build: String) throws {
        let binary = try #require(LCDBProcess.binaries().first { $0.name == build }?.path,
                                  "no \(build) binary: run the tests with make test, which builds the release binary first")
        let samples = LCDBProcess.packageRoot.appendingPathComponent("samples")
        let run = try LCDBProcess.run(["--no-init", ":memory:", "\(sample).lc"], in: samples, executableOverride: binary)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty)
        switch sample {
        case "resnet18": #expect(run.stdout.contains("11689512"))
        case "gpt2": #expect(run.stdout.contains("124439808"))
        case "finetune_diff":
            #expect(run.stdout.contains("changed  fc     out_features  1000  10"))
            #expect(run.stdout.contains("collection backbone: 40 common layers"))
            #expect(run.stdout.contains("11176512")) // 11,689,512 - (512 * 1000 + 1000)
        case "import_checkpoint":
            #expect(run.stdout.contains("collection cnn: 4 layers, 1578 parameters"))
            #expect(run.stdout.contains("6.277299")) // make_checkpoint.py prints the norm 6.277299091514542
        case "kfac_gpt2":
            // Stored size under 1 GB in float32; the step's residual at rounding level relative to g.
            let values = run.stdout.split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            let bytes = run.stdout.split(separator: "\n").first { $0.hasPrefix("K ") }.flatMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).first }.flatMap { Int($0) }
            #expect(bytes.map { $0 > 500_000_000 && $0 < 1_000_000_000 } == true, "\(run.stdout)")
            #expect(values.count >= 4 && values[values.count - 2] / values[values.count - 1] < 1e-12, "\(run.stdout)")
        case "laplace":
            // The kept decomposition shifted by eye equals logdet with regul; ln is kept as eigen, fc1 and fc2 as ekfac.
            #expect(run.stdout.contains("value\n-----\n    0\n"), "\(run.stdout)")
            #expect(run.stdout.contains("fc1    ekfac") && run.stdout.contains("ln     eigen"), "\(run.stdout)")
        case "natural_gradient", "quickstart":
            #expect(run.stdout.contains("value\n-----\n    0\n"), "the residual rounds to 0")
        default: break
        }
    }

    @Test func resnet18IsQueryableFromOutside() throws {
        let db = path("x.lcdb")
        let samples = LCDBProcess.packageRoot.appendingPathComponent("samples")
        #expect(try LCDBProcess.run(["--no-init", db, "resnet18.lc"], in: samples).status == 0)
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [db, "select layer_count, numel from collections where name='resnet18'"]
        let pipe = Pipe()
        sqlite.standardOutput = pipe
        try sqlite.run()
        sqlite.waitUntilExit()
        #expect(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "41|11689512\n")
    }
}

/// Failures of the machine, not of the statement: a full disk, a killed process.
struct HostileConditionsTests {
    @Test func aFullDiskIsAClearErrorAndLosesNothing() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("full.lcdb").path
        #expect(try LCDBProcess.run(["--no-init", db, "-c", "create collection c (p Parameter(2000000)); let small = ones(c, dtype=float32);"]).status == 0)
        // Files may grow to 12 MiB: the 16 MB float64 vector cannot be written.
        let lcdb = LCDBProcess.executable.path
        let limited = try LCDBProcess.run(["-c", "trap '' XFSZ; ulimit -f 12288; exec '\(lcdb)' --no-init '\(db)' -c 'let big = ones(c);'"],
                                          executableOverride: "/bin/bash")
        #expect(limited.status == 1)
        #expect(limited.stderr.contains("is full; nothing was changed") || limited.stderr.contains("cannot read or write"),
                "got: \(limited.stderr)")
        let after = try LCDBProcess.run(["--no-init", db, "-c", ".format csv", "-c", "list vectors;"])
        #expect(after.stdout == "name,collection,dtype,numel\nsmall,c,float32,2000000\n")
        let check = try LCDBProcess.run(["--no-init", db, "-c", "norm(small, 1);"])
        #expect(check.stdout.contains("2000000"))
    }
}

extension HostileConditionsTests {
    /// Runs `sqlite3 DB SQL` and returns its output. Like any reader of a WAL
    /// database it sets a busy timeout: SQLite can refuse a reader for a moment
    /// while the last connection closes and cleans up the WAL.
    static func sqlite(_ db: String, _ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = ["-cmd", ".timeout 5000", db, sql]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Bytes of one symmetric `side x side` float64 block in the `upper`
    /// layout with 4 MiB tiles, by the rule README states: the tile starting at
    /// row r holds columns r ..< side of min(max(1, 4 MiB / (w * 8)), max(1, w / 8))
    /// rows, w = side - r.
    static func upperBlockBytes(side: Int) -> Int {
        var bytes = 0, row = 0
        while row < side {
            let width = side - row
            let rows = min(side - row, max(1, (4 << 20) / (width * 8)), max(1, width / 8))
            bytes += rows * width * 8
            row += rows
        }
        return bytes
    }

    @Test func killingAWriterAtRandomMomentsLosesNothing() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("kill.lcdb").path
        let setup = try LCDBProcess.run(["--no-init", db, "-c",
            "create collection c (p Parameter(3000)); let base = identity(c, scale=3); let v = ones(c);"])
        #expect(setup.status == 0)
        var generator = SystemRandomNumberGenerator()
        var killed = 0, finished = 0
        // How long one uninterrupted write takes here (a few tenths of a second),
        // so that the kills land inside it however fast or loaded the machine is.
        // Measured again every ten rounds: the other tests running beside this
        // one change the machine's speed. Up to 60 rounds, until 20 kills landed.
        var duration = 0.0
        for round in 0 ..< 60 where killed < 20 {
            if round % 10 == 0 {
                let started = Date()
                #expect(try LCDBProcess.run(["--no-init", db, "-c", "let big = random_spd(c, seed=99); let w = 2 * v;"]).status == 0)
                duration = Date().timeIntervalSince(started)
            }
            // Kill somewhere between 5% and 90% of a whole write (the process start included).
            let process = Process()
            process.executableURL = LCDBProcess.executable
            process.arguments = ["--no-init", db, "-c", "let big = random_spd(c, seed=\(round)); let w = 2 * v;"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32(duration * 1e6 * Double.random(in: 0.05 ... 0.9, using: &generator)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { killed += 1 } else { finished += 1 }
            #expect(try Self.sqlite(db, "PRAGMA integrity_check") == "ok\n", "round \(round)")
            // The earlier content is intact, and whatever is stored is whole.
            let check = try LCDBProcess.run(["--no-init", db, "-c", ".format csv", "-c", "trace(base); norm(v, 1); list matrices;"])
            #expect(check.status == 0, "round \(round): \(check.stderr)")
            #expect(check.stdout.hasPrefix("value\n9000\nvalue\n3000\nname,collection,representation,dtype,bytes,symmetric,layout\n"))
            // Both are symmetric, so stored as upper triangles (a little over 36 MB of the full 72 MB).
            let whole = Self.upperBlockBytes(side: 3000)
            #expect(whole > 3000 * 3001 / 2 * 8 && whole < 3000 * 3000 * 8)
            let matrices = try Self.sqlite(db, "SELECT name || ':' || bytes FROM matrices ORDER BY name")
            #expect(matrices == "base:\(whole)\n" || matrices == "base:\(whole)\nbig:\(whole)\n", "round \(round): \(matrices)")
            // Tiles are written before their matrix row: none may be left without one.
            #expect(try Self.sqlite(db, "SELECT count(*) FROM lcdb_matrix_tile WHERE matrix_id NOT IN (SELECT id FROM lcdb_matrix)") == "0\n")
        }
        #expect(killed >= 20, "at least 20 rounds should be killed mid-write (killed \(killed), finished \(finished), a write takes \(duration) s)")
    }
}

extension HostileConditionsTests {
    @Test func readersSeeTheLastCommittedStateWhileAWriterWorks() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-readers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("shared.lcdb").path
        #expect(try LCDBProcess.run(["--no-init", db, "-c", "create collection c (p Parameter(3000)); let base = identity(c);"]).status == 0)
        let writer = Process()
        writer.executableURL = LCDBProcess.executable
        writer.arguments = ["--no-init", db, "-c", "let a = random_spd(c, seed=1); let b = random_spd(c, seed=2);"]
        writer.standardOutput = FileHandle.nullDevice
        try writer.run()
        var reads = 0
        while writer.isRunning && reads < 200 {
            // An lcdb reader and the sqlite3 shell, neither blocked nor seeing half a matrix.
            let listed = try LCDBProcess.run(["--no-init", db, "-c", ".format csv", "-c", "list matrices;"])
            #expect(listed.status == 0, "\(listed.stderr)")
            let names = listed.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",")[0] }
            #expect(names == ["base"] || names == ["a", "base"] || names == ["a", "b", "base"], "\(names)")
            let bytes = try Self.sqlite(db, "SELECT group_concat(bytes) FROM matrices")
            #expect(Set(bytes.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",")) == ["\(Self.upperBlockBytes(side: 3000))"], "\(bytes)")
            reads += 1
        }
        writer.waitUntilExit()
        #expect(writer.terminationStatus == 0)
        #expect(reads >= 1)
    }
}

extension CommandLineTests {
    @Test func helpListsEveryStatementWithSyntaxAndExample() throws {
        let help = try LCDBProcess.run(["--no-init", "-c", "help"])
        #expect(help.status == 0)
        for line in ["create collection NAME [( LAYER KIND(ARGS), ... )]", "let NAME = EXPRESSION", "diff A B",
                     "import vector NAME over COLLECTION from 'FILE.safetensors' | 'FILE.npy' [dtype float32|float64]",
                     "e.g. let step = solve(F, g, regul=1e-3);", "e.g. show mlp;", "solve(M, v, regul=0, layers=identical)"] {
            #expect(help.stdout.contains(line), "help lacks: \(line)")
        }
        #expect(help.stdout.components(separatedBy: "      e.g. ").count - 1 >= 14, "one example per statement")
    }
}
