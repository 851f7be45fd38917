import Foundation
import Testing

/// Statements that allocate a lot (eigendecompositions, inverses, samples,
/// products, conversions, whole vectors), each run by the release binary
/// under a ladder of `ulimit -v` caps: every run must end in its result or
/// in an error (status 0 or 1), never in a signal or a hang. A sweep like
/// this found `trace`, `logdet`, `eigvals`, `pow`, `effective_dim` and
/// `sample` of a kfac matrix trapping on unchecked allocations (a block's
/// parts, LAPACK's workspace, a block's sample) and `sample` hanging
/// inside OpenBLAS, whose buffer allocation retries forever when it fails.
struct MemoryCapSweepTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws {
        scratch = try ScratchFolder("lcdb-memory-caps")
    }

    static let statements = [
        "trace(K);", "frobenius(K);", "eigvals(K, k=3);", "logdet(K, regul=0.1);", "pow(K, 0.5, regul=0.1);",
        "effective_dim(K, 0.1);", "norm(sample(K, seed=1, regul=0.1));", "norm(sample(K, seed=1, regul=0.1, cov=matrix));",
        "let I = inv(K, regul=0.1);", "let E = to_ekfac(K);", "let P = inv_pi(K, 0.1);", "let M = mm(K, K);",
        "let Z = to_dense(K);", "let ee = eig(K);", "let K2 = K + eye(c, scale=2);",
        "norm(solve(K, g, regul=0.1));", "norm(mv(K, g));", "vtmv(K, g);", "norm(diag(K));", "block(K, a, rows=2, columns=2);",
        "checksum(K);", "checksum(g);", "norm(g);", "show g;", "let h = g + g;", "dot(g, g);", "compare(g, g);",
        "export vector g to 'g.npy';", "import vector g2 over c from 'g.npy';", "copy vector g to g3;",
        "export matrix K to 'K.safetensors';",
    ]

    @Test func noStatementEndsInASignalUnderAMemoryCap() throws {
        let binary = try #require(LCDBProcess.releaseExecutable, "no release binary: run the tests with make test").path
        let db = folder.appendingPathComponent("sweep.lcdb").path
        let made = try LCDBProcess.run(["--no-init", db, "-c", """
            create collection c (a Linear(1500, 1500), n LayerNorm(64));
            let g = randn(c, seed=1);
            let K = random_kfac(c, seed=2);
            """], executableOverride: binary)
        #expect(made.status == 0, "\(made.stderr)")
        var outcomes: [Int32: Int] = [:]
        // From below what any 16 MB allocation may take (lcdb maps about
        // 240 MB at start and keeps 128 MB per core for OpenBLAS) to where
        // everything fits.
        for kilobytes in [520_000, 620_000, 760_000, 1_000_000] {
            for statement in Self.statements {
                let quoted = "'" + statement.replacingOccurrences(of: "'", with: "'\\''") + "'"
                let run = try LCDBProcess.run(["-c", "ulimit -v \(kilobytes); exec timeout 120 '\(binary)' --no-init '\(db)' -c \(quoted)"],
                                              in: folder, executableOverride: "/bin/sh")
                outcomes[run.status, default: 0] += 1
                #expect(run.status == 0 || run.status == 1, "ulimit -v \(kilobytes): \(statement) ended with status \(run.status): \(run.stderr.prefix(300))")
                #expect(!run.stderr.contains("Fatal error"), "ulimit -v \(kilobytes): \(statement): \(run.stderr.prefix(300))")
                if run.status == 1 { #expect(run.stderr.contains("error:"), "\(statement): \(run.stderr.prefix(300))") }
            }
        }
        // Not vacuous: the lowest cap refuses work and the highest lets it run.
        #expect((outcomes[0] ?? 0) > 20 && (outcomes[1] ?? 0) > 20, "\(outcomes)")
    }

    /// A matrix in forms is exported a block at a time: under a cap that
    /// holds one block (two factors, 36 MB) but not the matrix (72 MB, and
    /// half as much again was asked for), the export works and is the file
    /// written without the cap, byte for byte.
    @Test func aFormsExportHoldsOneBlockAtATime() throws {
        let binary = try #require(LCDBProcess.releaseExecutable, "no release binary: run the tests with make test").path
        let db = folder.appendingPathComponent("export.lcdb").path
        let (free, capped) = (folder.appendingPathComponent("free.safetensors").path, folder.appendingPathComponent("capped.safetensors").path)
        let made = try LCDBProcess.run(["--no-init", db, "-c", """
            create collection c2 (a Linear(1500, 1500), b Linear(1500, 1500));
            let K = random_kfac(c2, seed=2);
            export matrix K to '\(free)';
            """], executableOverride: binary)
        #expect(made.status == 0, "\(made.stderr)")
        let run = try LCDBProcess.run(["-c", "ulimit -v 730000; exec '\(binary)' --no-init '\(db)' -c \"export matrix K to '\(capped)';\""],
                                      in: folder, executableOverride: "/bin/sh")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: free, andPath: capped))
        // The cap is below the whole matrix: what loads it whole is refused.
        let whole = try LCDBProcess.run(["-c", "ulimit -v 730000; exec '\(binary)' --no-init '\(db)' -c 'let M = mm(K, K);'"],
                                        in: folder, executableOverride: "/bin/sh")
        #expect(whole.status == 1 && whole.stderr.contains("matrix 'K' in memory needs"), "\(whole.stderr)")
    }
}
