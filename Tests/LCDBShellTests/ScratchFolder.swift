import Foundation

/// A fresh temporary folder for one test, removed when the test's suite
/// instance goes away (each shell test writes databases of up to a few
/// hundred MB: left behind, a test run used to leave gigabytes in /tmp).
final class ScratchFolder: Sendable {
    let url: URL

    init(_ prefix: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}
