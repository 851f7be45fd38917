import Foundation
import Testing

/// Ctrl-C (SIGINT) in a batch run: the running statement stops at its next
/// block and is rolled back with its message, nothing after it runs, and
/// lcdb exits with status 130; before, the process died on the signal with
/// no message. Checked on the debug and the release binary.
struct BatchInterruptTests {
    @Test func ctrlCStopsABatchRunAndKeepsTheDatabase() throws {
        for binary in LCDBProcess.binaries() {
            let executable = try #require(binary.path, "the \(binary.name) binary is missing: run the tests with `make test`")
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-sigint-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let db = folder.appendingPathComponent("sigint.lcdb").path
            let setup = try LCDBProcess.run(["--no-init", db, "-c", """
                create collection c (a Linear(1200, 1200), b Linear(1200, 1200), d Linear(1200, 1200), e Linear(1200, 1200));
                let K = random_kfac(c, seed=1); let g = randn(c, seed=2);
                """], executableOverride: executable)
            #expect(setup.status == 0, "\(binary.name): \(setup.stderr)")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["--no-init", "--format", "csv", db, "-c", "norm(g);", "-c", "let s = solve(K, g, regul=0.1);", "-c", "norm(g);"]
            let output = Pipe(), errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            // The first statement's result: the solve (eight eigendecompositions
            // of 1,200-wide factors, seconds) has begun or is about to.
            var printed = Data()
            while !String(decoding: printed, as: UTF8.self).hasSuffix("\n"), case let chunk = output.fileHandleForReading.availableData, !chunk.isEmpty {
                printed += chunk
            }
            kill(process.processIdentifier, SIGINT)
            printed += output.fileHandleForReading.readDataToEndOfFile()
            let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let stdout = String(decoding: printed, as: UTF8.self)
            #expect(process.terminationReason == .exit && process.terminationStatus == 130,
                    "\(binary.name): \(process.terminationReason) \(process.terminationStatus), \(stderr)")
            #expect(stderr.hasSuffix("lcdb: stopped by Ctrl-C; statements before the one interrupted were run\n"), "\(binary.name): \(stderr)")
            // Interrupted inside the solve (its message names it), or between the statements.
            #expect(stderr.contains("error: interrupted; nothing was changed\n  let s = solve(K, g, regul=0.1);") || stderr.hasPrefix("lcdb: stopped"),
                    "\(binary.name): \(stderr)")
            #expect(stdout.components(separatedBy: "value\n").count == 2, "only the first norm ran: \(stdout)")
            let listed = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", "list vectors;"], executableOverride: executable)
            #expect(listed.stdout == "name,collection,dtype,numel\ng,c,float64,5764800\n", "\(binary.name): \(listed.stdout)\(listed.stderr)")
        }
    }
}
