import Foundation

/// Runs the built `lcdb` binary as a user would, with HOME in a temporary
/// folder (no init file, no history) and a fixed locale.
struct LCDBProcess {
    struct Result: Equatable {
        var stdout: String
        var stderr: String
        var status: Int32
    }

    /// The `lcdb` executable beside the test bundle in the build folder.
    static var executable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("lcdb")
    }

    /// The release binary that `make run` builds (`make test` passes its path
    /// in LCDB_RELEASE_BINARY); nil when it was not built.
    static var releaseExecutable: URL? {
        let path = ProcessInfo.processInfo.environment["LCDB_RELEASE_BINARY"]
            ?? packageRoot.appendingPathComponent(".build/release/lcdb").path
        return FileManager.default.isExecutableFile(atPath: path) ? URL(fileURLWithPath: path) : nil
    }

    /// The binaries user-facing behaviour is checked on: the debug build and
    /// the release build. A missing release binary fails the test that asks for
    /// it (never a silent skip): run the tests with `make test`.
    static func binaries() -> [(name: String, path: String?)] {
        [("debug", executable.path), ("release", releaseExecutable?.path)]
    }

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The README's Python code block that contains `marker`, written to
    /// `file` for a test to run (README's examples are tested as printed).
    static func writeReadmePython(containing marker: String, to file: URL) throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let code = readme.components(separatedBy: "```python\n").dropFirst()
            .map({ $0.components(separatedBy: "```")[0] }).first(where: { $0.contains(marker) }) else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "README has no Python block with \(marker)"])
        }
        try code.write(to: file, atomically: true, encoding: .utf8)
    }

    static func run(_ arguments: [String], stdin: String? = nil, in folder: URL? = nil,
                    environment extra: [String: String] = [:], executableOverride: String? = nil,
                    prefixArguments: [String] = []) throws -> Result {
        let process = Process()
        process.executableURL = executableOverride.map { URL(fileURLWithPath: $0) } ?? executable
        process.arguments = prefixArguments + arguments
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-home-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = home.path
        environment["LC_ALL"] = "C.UTF-8"
        environment.merge(extra) { _, new in new }
        process.environment = environment
        if let folder { process.currentDirectoryURL = folder }
        // Output goes to files in the temporary home, so no pipe can fill up and block.
        let outPath = home.appendingPathComponent("stdout").path, errPath = home.appendingPathComponent("stderr").path
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let input = Pipe()
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        let stdoutData = FileManager.default.contents(atPath: outPath) ?? Data()
        let stderrData = FileManager.default.contents(atPath: errPath) ?? Data()
        return Result(stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData, as: UTF8.self), status: process.terminationStatus)
    }
}
