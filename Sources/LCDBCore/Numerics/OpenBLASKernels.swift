import COpenBLAS
import Foundation

/// Makes OpenBLAS use the kernels the processor can run.
///
/// Debian's OpenBLAS 0.3.21 picks its kernels at start-up from the CPU's model
/// number; on processors it does not know (virtual machines report "Intel(R)
/// Xeon(R) Processor" with AVX-512) it falls back to the SSE3 "Prescott"
/// kernels, and `dgemm` runs at a seventh of the machine's speed (measured:
/// a 3072 x 3072 by 3072 x 769 product took 1.2 s against NumPy's 0.18 s with
/// a newer OpenBLAS on the same machine). When that happened, and the user did
/// not choose with `OPENBLAS_CORETYPE`, lcdb chooses from the CPU's feature
/// flags (SkylakeX with AVX-512, else Haswell with AVX2 and FMA) and has
/// OpenBLAS redo its choice, before any BLAS call.
public enum OpenBLASKernels {
    /// The kernels OpenBLAS uses ("Prescott", "Haswell", "SkylakeX", ...).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// Redoes a fallback choice; returns the core name in use afterwards.
    @discardableResult
    public static func useNativeKernels() -> String {
        let current = coreName
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              ["prescott", "core2", "nehalem", "katmai", "northwood"].contains(current.lowercased()),
              let flags = cpuFlags() else { return current }
        let choice: String
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) {
            choice = "SkylakeX"
        } else if ["avx2", "fma"].allSatisfy(flags.contains) {
            choice = "Haswell"
        } else {
            return current
        }
        setenv("OPENBLAS_CORETYPE", choice, 1)
        gotoblas_dynamic_quit()
        gotoblas_dynamic_init()
        // Children (lcdb runs none) and later reads see the choice made.
        return coreName
    }

    /// The flags line of /proc/cpuinfo (Linux), or nil.
    private static func cpuFlags() -> Set<String>? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return nil }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }
}
