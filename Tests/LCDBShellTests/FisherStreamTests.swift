import Foundation
import LCDBCore
import LCDBInterop
import Testing
@testable import LCDBShell

/// `FisherStream` in isolation: the path `let` never takes today, a block
/// asked for again after it was stored and released.
struct FisherStreamTests {
    /// A block whose last rows were served is released, and asked for again
    /// it is computed again from the files: equal to the first time bit for
    /// bit (the same arithmetic in the same order), and to the plain
    /// reference Σ g gᵀ / n within 1e-12 relative; a block never released is
    /// handed out as computed.
    @Test func aReleasedBlockAskedForAgainIsComputedAgain() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lcdb-fisher-stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let collection = try LayerCollection([("fc", .linear(3, 2)), ("head", .linear(2, 2, bias: false))])
        let n = 5
        var generator = SeededGenerator(seed: 7)
        func values(_ count: Int) -> [Double] { (0 ..< count).map { _ in generator.nextNormal() } }
        let fcWeight = values(n * 2 * 3), fcBias = values(n * 2), headWeight = values(n * 2 * 2)
        let path = folder.appendingPathComponent("g.safetensors").path
        try SafetensorsFile.write([("fc.weight", [n, 2, 3], .float64(fcWeight)), ("fc.bias", [n, 2], .float64(fcBias)),
                                   ("head.weight", [n, 2, 2], .float64(headWeight))], to: path)
        let files = try GradientFiles.open([path], over: collection)
        let stream = try FisherStream(files: files, weights: nil, progress: { _ in }, located: { $0 })

        // fc's gradient per example: its weight row-major, then its bias.
        let side = 8
        let gradients = (0 ..< n).map { i in Array(fcWeight[i * 6 ..< i * 6 + 6]) + Array(fcBias[i * 2 ..< i * 2 + 2]) }
        var reference = [Double](repeating: 0, count: side * side)
        for g in gradients { for r in 0 ..< side { for c in 0 ..< side { reference[r * side + c] += g[r] * g[c] / Double(n) } } }

        let first = try stream.block(at: 0, as: Double.self)
        let scale = reference.map(abs).max()!
        #expect(zip(first, reference).allSatisfy { abs($0 - $1) <= 1e-12 * scale })
        // `let` fills a block's panels in row order: the last one releases it.
        var panel = [Double](repeating: .nan, count: side * side)
        try stream.fill(0, 0 ..< side, 0 ..< side, into: &panel)
        #expect(panel == first)
        #expect(stream.releasedBlocks == [0])
        let again = try stream.block(at: 0, as: Double.self)
        #expect(again == first, "computed again from the files, the same values")
        var panelAgain = [Double](repeating: .nan, count: 2 * 3)
        try stream.fill(0, 2 ..< 4, 1 ..< 4, into: &panelAgain)
        #expect(panelAgain == [first[2 * side + 1], first[2 * side + 2], first[2 * side + 3],
                               first[3 * side + 1], first[3 * side + 2], first[3 * side + 3]])
        // head's block was never released.
        #expect(try stream.block(at: 1, as: Float.self).count == 16)
        #expect(stream.releasedBlocks == [0])
    }
}

