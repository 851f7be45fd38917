import Testing
@testable import LCDBCore

/// Dense Fisher blocks in passes: the plans of successive passes cover every
/// row of every block once, in order, within the byte budget (at least one
/// row per pass); each band's entries on and right of the diagonal equal `Gᵀ G / n` from plain
/// loops, to 1e-12 relative.
struct DenseFisherBandsTests {
    @Test(arguments: [8.0, 100, 1_000, 1e9])
    func passesCoverEveryRowOnceWithinTheBudget(bytes: Double) throws {
        let collection = try smallCollection()
        var covered: [[Int]] = collection.entries.map { _ in [] }
        var (position, row) = (0, 0)
        var passes = 0
        while position < collection.count {
            let plan = DenseFisherBands.plan(collection, from: position, row: row, bytes: bytes)
            #expect(!plan.isEmpty)
            let used = plan.reduce(0.0) { $0 + 8 * Double($1.rows.count) * Double(collection.entries[$1.position].layer.numel - $1.rows.lowerBound) }
            #expect(used <= bytes || plan.count == 1 && plan[0].rows.count == 1, "a pass of \(used) bytes for a budget of \(bytes)")
            for band in plan { covered[band.position] += Array(band.rows) }
            let last = plan[plan.count - 1]
            (position, row) = last.rows.upperBound == collection.entries[last.position].layer.numel ? (last.position + 1, 0) : (last.position, last.rows.upperBound)
            passes += 1
        }
        for (index, entry) in collection.entries.enumerated() { #expect(covered[index] == Array(0 ..< entry.layer.numel)) }
        #expect(bytes < 1e9 || passes == 1)
    }

    @Test func bandsAreTheUpperPartOfTheGramMatrix() throws {
        let collection = try smallCollection()
        let plan = DenseFisherBands.plan(collection, from: 0, row: 3, bytes: 600) + [(position: 4, rows: 7 ..< 12)]
        var bands = try DenseFisherBands(collection: collection, plan: plan)
        var generator = SeededGenerator(seed: 5)
        let examples = 9
        var gradients: [Int: [Double]] = [:]
        for position in bands.positions {
            let side = collection.entries[position].layer.numel
            let g = (0 ..< examples * side).map { _ in generator.nextNormal() }
            gradients[position] = g
            // Two slabs of examples.
            g.withUnsafeBufferPointer { all in
                bands.add(position: position, examples: 4, slab: all.baseAddress!)
                bands.add(position: position, examples: examples - 4, slab: all.baseAddress! + 4 * side)
            }
        }
        bands.finish(totalWeight: Double(examples))
        for band in bands.bands {
            let g = gradients[band.position]!, side = band.side
            var want: [Double] = [], got: [Double] = []
            for r in band.rows {
                for c in band.columns where c >= r {
                    want.append((0 ..< examples).reduce(0) { $0 + g[$1 * side + r] * g[$1 * side + c] } / Double(examples))
                    got.append(band.values[(r - band.rows.lowerBound) * band.columns.count + c - band.columns.lowerBound])
                }
            }
            #expect(NaiveReference.relativeError(got, want) < 1e-12)
        }
    }
}
