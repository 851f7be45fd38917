import Testing
@testable import LCDBCore

/// Arrays advised huge pages are ordinary arrays: zeroed when asked, of the
/// size asked, writable throughout (below and above the 4 MB threshold).
struct HugePagesTests {
    @Test(arguments: [0, 1, 1000, 3 << 20])
    func zeroedArraysAreZeroAndWritable(count: Int) {
        let doubles: [Double] = HugePages.array(count: count)
        #expect(doubles.count == count && doubles.allSatisfy { $0 == 0 && $0.sign == .plus })
        var floats: [Float] = HugePages.array(count: count)
        #expect(floats.count == count && floats.allSatisfy { $0 == 0 })
        for k in floats.indices { floats[k] = Float(k % 7) }
        #expect(floats.enumerated().allSatisfy { $0.element == Float($0.offset % 7) })
    }

    @Test func undefinedArraysHaveTheirSize() {
        var values: [Double] = HugePages.array(count: 1 << 20, zeroed: false)
        #expect(values.count == 1 << 20)
        for k in values.indices { values[k] = Double(k) }
        #expect(values[(1 << 20) - 1] == Double((1 << 20) - 1))
    }
}
