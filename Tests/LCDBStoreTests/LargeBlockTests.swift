import Foundation
import GRDB
import LCDBCore
import Testing
@testable import LCDBStore

/// A block larger than SQLite's largest blob (1,000,000,000 bytes) is stored
/// as tiles and read back tile by tile.
struct LargeBlockTests {
    @Test func aBlockOverOneGigabyteRoundTrips() throws {
        let folder = try TemporaryFolder()
        let store = try Store(path: folder.path("large.lcdb"))
        // Parameter(12500): one 12500 x 12500 float64 block, 1.25 GB.
        let side = 12500
        let collection = try LayerCollection([("big", .parameter([side]))])
        try store.createCollection("net", collection)
        // Entry (i, j) = 2 on the diagonal, and i - j just above it: cheap to
        // fill and to check, and every tile holds different values.
        try store.createMatrix("M", over: "net", as: Double.self, symmetric: false) { _, side, rows, _, target in
            target.initialize(repeating: 0, count: rows.count * side)
            for row in rows {
                target[(row - rows.lowerBound) * side + row] = 2
                if row + 1 < side { target[(row - rows.lowerBound) * side + row + 1] = -1 }
            }
        }
        let summary = try #require(try store.matrixSummaries().first)
        #expect(summary.bytes == side * side * 8)
        #expect(summary.bytes > 1_000_000_000)
        let tiles = try store.read { db in
            try Row.fetchOne(db, sql: "SELECT count(*) AS n, max(length(data)) AS largest FROM matrix_tiles WHERE matrix = 'M'")
        }
        #expect((tiles?["n"] as Int?) ?? 0 > 100)
        #expect((tiles?["largest"] as Int?) ?? Int.max <= Store.defaultTileBytes)
        // Streamed reads touch every tile: trace, diagonal, Frobenius norm, and
        // mv with x = (0, 1, 2, ...): (Mx)_i = 2 i - (i + 1) = i - 1, last row 2 (n - 1).
        #expect(try store.trace("M") == Double(2 * side))
        #expect(try store.diagonal("M").doubles.allSatisfy { $0 == 2 })
        #expect(abs(try store.frobeniusNorm("M") - Double(4 * side + side - 1).squareRoot()) < 1e-9)
        let x = try ParameterVector<Double>(collection: collection, values: (0 ..< side).map(Double.init))
        let y = try store.product("M", .float64(x)).doubles
        #expect(y.count == side)
        #expect(y[0] == -1 && y[side / 2] == Double(side / 2 - 1) && y[side - 1] == Double(2 * (side - 1)))
        #expect(zip(y.indices.dropLast(), y.dropLast()).allSatisfy { $1 == Double($0 - 1) })
        #expect(try store.integrityCheck() == "ok")
    }
}
