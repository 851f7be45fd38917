import Testing
@testable import LCDBCore

struct BlockSourceTests {
    @Test func counterBasedUniformMatchesAnIndependentImplementation() {
        // Values from a separate Python implementation of the documented recurrence.
        #expect(SeededGenerator.uniform(seed: 1, stream: 2, index: 3) == 0.17166225063138252)
        #expect(SeededGenerator.uniform(seed: 0, stream: 0, index: 0) == 0.5026230818294767)
    }

    @Test func anyRowPanelEqualsTheSameRowsOfTheWholeBlock() {
        let side = 37
        for source in [BlockSource.randomSPD(seed: 9), .identity(scale: 2.5)] {
            var whole = [Double](repeating: .nan, count: side * side)
            whole.withUnsafeMutableBufferPointer { source.fill(block: 3, side: side, rows: 0 ..< side, into: $0.baseAddress!) }
            for rows in [0 ..< 1, 5 ..< 19, 30 ..< 37] {
                var panel = [Double](repeating: .nan, count: rows.count * side)
                panel.withUnsafeMutableBufferPointer { source.fill(block: 3, side: side, rows: rows, into: $0.baseAddress!) }
                #expect(panel == Array(whole[rows.lowerBound * side ..< rows.upperBound * side]))
            }
            #expect(BlockDiagonalMatrix<Double>.isExactlySymmetric(whole, side: side))
        }
    }

    @Test func blocksDifferBetweenLayersAndSeeds() throws {
        let collection = try LayerCollection([("a", .parameter([4])), ("b", .parameter([4]))])
        let m = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 1)
        #expect(m.blocks[0] != m.blocks[1])
        #expect(try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 2).blocks[0] != m.blocks[0])
        #expect(try BlockDiagonalMatrix<Float>.randomSPD(over: collection, seed: 1) == m.converted(to: Float.self))
    }
}
