import Foundation
import Testing

/// The interactive shell under a pseudo-terminal: `interactive_session.py`
/// (pexpect, installed by .ci/install-deps) drives the built binary and checks
/// prompt, continuation, editing, completion, Ctrl-C, Ctrl-D and history.
struct InteractiveShellTests {
    @Test func sessionUnderAPseudoTerminal() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-pty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = LCDBProcess.packageRoot.appendingPathComponent("Tests/LCDBShellTests/interactive_session.py").path
        let result = try LCDBProcess.run([script, LCDBProcess.executable.path, folder.path],
                                         executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasSuffix(" passed, 0 failed\n"), "\(result.stdout)")
    }
}
