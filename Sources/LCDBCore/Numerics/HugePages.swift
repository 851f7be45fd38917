#if canImport(Glibc)
import Glibc
#endif

/// Large buffers backed by 2 MB pages where the kernel offers them
/// (transparent huge pages in `madvise` mode, as Debian ships): a first
/// touch costs one fault per 2 MB instead of 512, and BLAS kernels sweeping
/// hundreds of MB miss the TLB far less. NumPy advises the same for arrays
/// over 4 MB. Only a hint: without huge pages nothing changes.
public enum HugePages {
    /// Buffers smaller than this are left alone.
    static let threshold = 4 << 20
    /// `LCDB_HUGE_PAGES=0` turns the advice off (to measure it).
    static let enabled = getenv("LCDB_HUGE_PAGES").map { String(cString: $0) != "0" } ?? true

    /// A `count`-element array whose memory is advised before anything is
    /// written to it: zeroed, or (`zeroed: false`) left undefined for a
    /// caller that writes every element before reading one.
    public static func array<Scalar: BinaryFloatingPoint>(count: Int, zeroed: Bool = true) -> [Scalar] {
        [Scalar](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let base = buffer.baseAddress {
                let bytes = count * MemoryLayout<Scalar>.stride
                advise(UnsafeMutableRawPointer(base), bytes: bytes)
                // Zero bits are 0.0; one memset, not a generic per-element initialize.
                if zeroed { UnsafeMutableRawPointer(base).initializeMemory(as: UInt8.self, repeating: 0, count: bytes) }
            }
            initialized = count
        }
    }

    /// Advises the whole 2 MB pages inside `bytes` from `start`.
    static func advise(_ start: UnsafeMutableRawPointer, bytes: Int) {
        #if canImport(Glibc)
        guard enabled, bytes >= threshold else { return }
        let huge = 2 << 20
        let first = (Int(bitPattern: start) + huge - 1) / huge * huge
        let end = (Int(bitPattern: start) + bytes) / huge * huge
        guard end > first, let aligned = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(aligned, end - first, MADV_HUGEPAGE)
        #endif
    }
}
