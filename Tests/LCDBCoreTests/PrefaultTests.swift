import Testing
@testable import LCDBCore

/// Faulting memory in never changes what is in it: a region filled while
/// another thread populates it holds exactly what was written, and
/// populating memory already written keeps its values.
struct PrefaultTests {
    @Test func aRegionFilledWhileFaultedInHoldsWhatWasWritten() {
        let count = (Prefault.minimum / 8) * 2 + 123  // two minimums, not page-aligned
        var values: [Double] = HugePages.array(count: count, zeroed: false)
        values.withUnsafeMutableBufferPointer { buffer in
            Prefault.whileFilling(UnsafeMutableRawPointer(buffer.baseAddress!), bytes: count * 8) {
                for k in 0 ..< count { buffer[k] = Double(k) }
            }
        }
        #expect(values.enumerated().allSatisfy { $0.element == Double($0.offset) })
        let populated = values.withUnsafeMutableBufferPointer { buffer in
            Prefault.populate(UnsafeMutableRawPointer(buffer.baseAddress! + 1000), bytes: (count - 2000) * 8)
        }
        #expect(populated, "MADV_POPULATE_WRITE on anonymous memory (Linux 5.14 and later)")
        #expect(values.enumerated().allSatisfy { $0.element == Double($0.offset) })
    }
}
