import Foundation
import LCDBCore
@testable import LCDBStore

/// A fresh temporary folder per test, removed at the end.
final class TemporaryFolder {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Where a store test runs: both kinds are exercised by every parameterized test.
enum StoreLocation: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory, disk
    var description: String { rawValue }

    func open(in folder: TemporaryFolder, tileBytes: Int = Store.defaultTileBytes) throws -> Store {
        switch self {
        case .memory: try Store(path: nil, tileBytes: tileBytes)
        case .disk: try Store(path: folder.path("test.lcdb"), tileBytes: tileBytes)
        }
    }
}

func sampleCollection() throws -> LayerCollection {
    try LayerCollection([
        ("conv", .conv2d(2, 3, kernelSize: (2, 2))),  // 24 + 3 = 27
        ("bn", .batchNorm2d(3)),                       // 6
        ("fc", .linear(4, 5)),                         // 25
        ("ln", .layerNorm([5], bias: false)),          // 5
    ])
}

func maxRelativeError(_ a: [Double], _ b: [Double]) -> Double {
    let scale = max(b.map(abs).max() ?? 0, 1e-300)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}
