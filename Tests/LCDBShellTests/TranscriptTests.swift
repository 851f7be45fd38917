import Foundation
import Testing

/// Batch transcripts: each `Transcripts/NAME.lc` runs as `lcdb --no-init NAME.lc`
/// in that folder; `NAME.expected` holds the reviewed standard output, then
/// `--- stderr` and standard error, then `--- status N`.
/// LCDB_UPDATE_TRANSCRIPTS=1 rewrites the expected files, which must then be
/// read and checked by hand before they are committed. Times (provenance's
/// `2026-11-29T05:30:30.878Z`) are written as `<time>` on both sides.
struct TranscriptTests {
    static let folder = LCDBProcess.packageRoot.appendingPathComponent("Tests/LCDBShellTests/Transcripts")

    static var scripts: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { $0.hasSuffix(".lc") }.sorted()
    }

    static func transcript(_ result: LCDBProcess.Result) -> String {
        let text = result.stdout + "--- stderr\n" + result.stderr + "--- status \(result.status)\n"
        return text.replacingOccurrences(of: #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"#, with: "<time>", options: .regularExpression)
    }

    @Test func thereAreTranscripts() {
        #expect(Self.scripts.count >= 6)
    }

    @Test(arguments: scripts)
    func transcript(script: String) throws {
        let result = try LCDBProcess.run(["--no-init", ":memory:", script], in: Self.folder)
        let expectedURL = Self.folder.appendingPathComponent(script.replacingOccurrences(of: ".lc", with: ".expected"))
        let actual = Self.transcript(result)
        if ProcessInfo.processInfo.environment["LCDB_UPDATE_TRANSCRIPTS"] == "1" {
            try actual.write(to: expectedURL, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        #expect(actual == expected, "transcript of \(script) differs")
    }
}
