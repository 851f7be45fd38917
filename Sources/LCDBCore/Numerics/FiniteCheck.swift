/// Whether values read from a file are all finite, checked on their bit
/// patterns (an exponent of all ones is infinity or NaN) with an OR over the
/// run, which the compiler vectorises; `isFinite` per element in a
/// `firstIndex(where:)` took a quarter of reading layer statistics.
public enum FiniteCheck {
    public static func allFinite(_ values: UnsafePointer<Double>, count: Int) -> Bool {
        let exponent: UInt64 = 0x7FF0_0000_0000_0000
        var found: UInt64 = 0
        UnsafeRawPointer(values).withMemoryRebound(to: UInt64.self, capacity: count) { bits in
            for index in 0 ..< count { found |= (bits[index] & exponent) == exponent ? 1 : 0 }
        }
        return found == 0
    }
}
