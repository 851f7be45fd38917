import Foundation
import Testing

/// The interactive shell under a pseudo-terminal: `interactive_session.py`
/// (pexpect, installed by .ci/install-deps) drives the built binary and checks
/// prompt, continuation, editing, completion, Ctrl-C, Ctrl-D and history, on
/// the debug build and on the release binary users run (whose optimised build
/// once had two copies of the prompt and of the Ctrl-C flag).
struct InteractiveShellTests {
    @Test(arguments: ["debug", "release"])
    func sessionUnderAPseudoTerminal(build: String) throws {
        let binary = try #require(LCDBProcess.binaries().first { $0.name == build }?.path,
                                  "no \(build) binary: run the tests with make test, which builds the release binary first")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-pty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = LCDBProcess.packageRoot.appendingPathComponent("Tests/LCDBShellTests/interactive_session.py").path
        let result = try LCDBProcess.run([script, binary, folder.path],
                                         executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasSuffix(" passed, 0 failed\n"), "\(result.stdout)")
    }
}
