import Foundation
import Testing

/// Stored vectors read or written a chunk at a time: import, export, copy,
/// checksum, the reductions (`norm`, `sum`, `mean`, `max`, `min`, `argmax`,
/// `argmin`), `head`/`tail`/`values` and `show` of a vector named bare, and
/// a layer or parameter of one (`g.fc1`, `g.fc1.weight`). They
/// must give the in-memory results exactly (compared as printed, on data
/// with NaN, values whose squares overflow, ties and signed zeros), and work
/// on the release binary under a memory cap that the whole vector exceeds,
/// where before every one of them was refused (and `import vector` and
/// `values(g)` crashed).
struct StoredVectorStreamTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws {
        scratch = try ScratchFolder("lcdb-vector-streams")
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Vectors whose reductions take every branch: NaN, squares that
    /// overflow (the scaled second pass), tiny values, ties, signed zeros,
    /// float32; layers of one value to 300,000 (several 4 MB chunks).
    static let setup = """
        create collection c (a Linear(7, 5), b Linear(1, 1, bias=false), big Linear(600, 500), e Embedding(3, 2));
        let v = randn(c, seed=3);
        let nan = where(v > 2.5, log(-1 * abs(v)), v);
        let huge = 1e200 * v;
        let tiny = 1e-200 * v;
        let ties = sign(v);
        let zeros = 0 * (-1 * abs(v));
        let v32 = cast(v, float32);
        let nan32 = cast(nan, float32);
        """

    static let names = ["v", "nan", "huge", "tiny", "ties", "zeros", "v32", "nan32"]
    static let functions = ["norm(X);", "norm(X, 1);", "norm(X, inf);", "sum(X);", "mean(X);", "max(X);", "min(X);",
                            "argmax(X);", "argmin(X);", "head(X, 4);", "tail(X, 3);", "values(X, start=299995, count=12);", "show X;"]

    /// The same statement on a stored vector (streamed) and on the same
    /// values computed in memory (`cast` to its own dtype makes a copy):
    /// identical output, except the stored one's provenance lines in `show`.
    @Test(arguments: LCDBProcess.binaries()) func streamedResultsEqualTheInMemoryOnes(binary: (name: String, path: String?)) throws {
        let executable = try #require(binary.path, "the \(binary.name) binary is not built: run `make test`")
        let db = path("same-\(binary.name).lcdb")
        let made = try LCDBProcess.run(["--no-init", db, "-c", Self.setup], executableOverride: executable)
        #expect(made.status == 0, "\(made.stderr)")
        var streamed = "", inMemory = ""
        for name in Self.names {
            let dtype = name.hasSuffix("32") ? "float32" : "float64"
            for function in Self.functions {
                streamed += function.replacingOccurrences(of: "X", with: name) + "\n"
                inMemory += function.replacingOccurrences(of: "X", with: "cast(\(name), \(dtype))") + "\n"
            }
        }
        let a = try LCDBProcess.run(["--no-init", db], stdin: streamed, executableOverride: executable)
        let b = try LCDBProcess.run(["--no-init", db], stdin: inMemory, executableOverride: executable)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        let provenance = ["made by:", "  with lcdb", "  from:"]
        let aLines = a.stdout.split(separator: "\n", omittingEmptySubsequences: false).filter { line in !provenance.contains { line.hasPrefix($0) } }
        let bLines = b.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(aLines == bLines, "first difference: \(zip(aLines, bLines).first { $0 != $1 }.map { "\($0) | \($1)" } ?? "in length")")
        // Not vacuous: NaN, the overflowing norm and a tie's first index are there.
        #expect(a.stdout.contains("nan") && a.stdout.contains("e+202") && a.stdout.contains("norm "), "\(a.stdout.prefix(500))")
    }

    /// Under a memory cap that the vector (128 MB of float64) exceeds, the
    /// release binary imports, exports (bit for bit), copies, hashes and
    /// reduces it, with the uncapped results; what needs it whole is a clear
    /// error, as are tables of its 16 million entries and an SQL query of
    /// 30 million rows (both crashed: a failed allocation, then a signal).
    @Test func aVectorLargerThanTheMemoryCapIsStreamed() throws {
        let binary = try #require(LCDBProcess.releaseExecutable, "no release binary: run the tests with make test").path
        let db = path("capped.lcdb")
        let (npy, safetensors) = (path("g.npy"), path("g.safetensors"))
        let create = """
            create collection c (a Linear(4000, 4000), e Embedding(3, 5));
            let g = randn(c, seed=1);
            export vector g to '\(npy)';
            export vector g to '\(safetensors)';
            import vector g32 over c from '\(npy)' dtype float32;
            """
        let made = try LCDBProcess.run(["--no-init", db, "-c", create], executableOverride: binary)
        #expect(made.status == 0, "\(made.stderr)")
        let queries = "checksum(X); norm(X); norm(X, 1); norm(X, inf); sum(X); mean(X); max(X); argmin(X); head(X, 2); tail(X, 2); values(X, start=8000000, count=3); show X;"
            + " norm(X.e); sum(X.e); X.e.weight;" // a layer or parameter: only its chunks are read
        func capped(_ statements: String) throws -> LCDBProcess.Result {
            let quoted = "'" + statements.replacingOccurrences(of: "'", with: "'\\''") + "'"
            return try LCDBProcess.run(["-c", "ulimit -v 420000; exec '\(binary)' --no-init --format csv '\(db)' -c \(quoted)"],
                                       executableOverride: "/bin/sh")
        }
        // The cap is below the vector: loading it whole is refused.
        let whole = try capped("let z = g + g;")
        #expect(whole.status == 1 && whole.stderr.contains("needs 128.0 MB of memory"), "\(whole.status) \(whole.stderr)")
        let imported = try capped("import vector h over c from '\(npy)'; import vector h2 over c from '\(safetensors)'; import vector h32 over c from '\(safetensors)' dtype float32; copy vector h to h3;"
            + " export vector h2 to '\(path("h2.safetensors"))'; export vector h32 to '\(path("h32.npy"))';")
        #expect(imported.status == 0, "\(imported.status) \(imported.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: safetensors, andPath: path("h2.safetensors")), "the re-export is the file imported")
        let expected = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", queries.replacingOccurrences(of: "X", with: "g")], executableOverride: binary)
        let expected32 = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", queries.replacingOccurrences(of: "X", with: "g32")], executableOverride: binary)
        #expect(expected.status == 0 && expected32.status == 0 && expected.stdout.count > 400)
        for name in ["h", "h2", "h3"] {
            let result = try capped(queries.replacingOccurrences(of: "X", with: name))
            #expect(result.status == 0 && result.stdout == expected.stdout, "\(name): \(result.stderr) \(result.stdout.prefix(300))")
        }
        let result32 = try capped(queries.replacingOccurrences(of: "X", with: "h32"))
        #expect(result32.status == 0 && result32.stdout == expected32.stdout, "\(result32.stderr)")
        let npy32 = try Data(contentsOf: URL(fileURLWithPath: path("h32.npy")))
        #expect(npy32.count == 128 + 16_004_015 * 4, "float32 export: \(npy32.count) bytes")
        // Tables too large for memory are errors, not crashes.
        let table = try capped("values(h);")
        #expect(table.status == 1 && table.stderr.contains("a table of 16004015 entries") && table.stderr.contains("export the vector"), "\(table.status) \(table.stderr)")
        let sql = try capped("with recursive r(x) as (select 1 union all select x + 1 from r where x < 30000000) select x from r;")
        #expect(sql.status == 1 && sql.stderr.contains("the query's result") && sql.stderr.contains("LIMIT"), "\(sql.status) \(sql.stderr.prefix(300))")
    }
}
