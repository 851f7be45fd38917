import Foundation

/// The documented random generator of lcdb: xoshiro256** (Blackman and Vigna),
/// its state filled from the seed by SplitMix64. Pure integer arithmetic, so a
/// seed gives the same numbers on every machine and with every compiler.
///
/// - `nextUniform()`: the top 53 bits of a draw as a Double in [0, 1).
/// - `nextNormal()`: standard normal by Marsaglia's polar method, both values
///   of each pair used in turn. Its only libm call is `log` (sqrt is exact in
///   IEEE 754), so normals are bit-identical wherever `log` is (glibc: yes);
///   uniform draws are bit-identical everywhere.
/// Float32 objects draw the same Doubles and round them, so the same seed
/// gives the float32 rounding of the float64 object.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    private var spareNormal: Double?

    public init(seed: UInt64) {
        var splitMix = seed
        func nextSplitMix() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (nextSplitMix(), nextSplitMix(), nextSplitMix(), nextSplitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, by: 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotateLeft(state.3, by: 45)
        return result
    }

    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    public mutating func nextNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        while true {
            let u = 2 * nextUniform() - 1
            let v = 2 * nextUniform() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 {
                let factor = (-2 * log(s) / s).squareRoot()
                spareNormal = v * factor
                return u * factor
            }
        }
    }

    /// A counter-based uniform in [0, 1): a pure function of (seed, stream,
    /// index), so any entry of a large random object can be produced on its
    /// own, in any order and on any thread. It chains the SplitMix64
    /// finalizer over the three words.
    public static func uniform(seed: UInt64, stream: UInt64, index: UInt64) -> Double {
        let mixed = mix(seed &+ mix(stream &+ mix(index &+ 0x9E37_79B9_7F4A_7C15)))
        return Double(mixed >> 11) * 0x1.0p-53
    }

    /// The SplitMix64 finalizer (a bijection on 64-bit words).
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private func rotateLeft(_ x: UInt64, by k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }
}
