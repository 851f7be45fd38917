import Foundation

/// How much memory one statement may allocate, and the check made before a
/// large allocation. The budget is half of what this process can really get:
/// the machine's memory, lowered by the memory the kernel says is available,
/// by a cgroup limit (containers) and by an address-space limit (`ulimit -v`,
/// less what is already mapped). Before, the
/// checks used the machine's memory alone, so under `ulimit -v` a block that
/// "fitted" ended in a failed allocation and a trap instead of an error.
public enum MemoryBudget {
    /// Bytes this process can still expect to allocate.
    public static var available: Double {
        var limit = Double(ProcessInfo.processInfo.physicalMemory)
        if let cgroup = cgroupLimit() { limit = min(limit, cgroup) }
        if let free = memAvailable() { limit = min(limit, free) }
        var rlim = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &rlim) == 0, rlim.rlim_cur != rlim_t.max {
            limit = min(limit, max(0, Double(rlim.rlim_cur) - mappedBytes() - openBLASReserve))
        }
        return limit
    }

    /// Address space kept for OpenBLAS under an address-space limit: each
    /// thread that calls it concurrently (a worker per core, the reader, its
    /// own threads) takes a 128 MB buffer (BUFFER_SIZE of Debian's build) on
    /// first use, and when that allocation fails OpenBLAS 0.3.21 retries
    /// forever: `sample` of a Linear(4000, 4000) kfac hung under
    /// `ulimit -v 1200000` once lcdb's own arrays had taken the rest. One
    /// buffer is mapped at start-up; room is kept for one more per core.
    static var openBLASReserve: Double {
        Double(ProcessInfo.processInfo.activeProcessorCount) * 128 * 1024 * 1024
    }

    /// Allocations up to this size are not checked (see `require`).
    static let smallAllocation: Double = 16 * 1024 * 1024

    /// Half of `available`: the most one statement's largest allocation may take.
    public static var budget: Double { available / 2 }

    /// Throws a `tooLarge` error naming `what` when `bytes` exceed the budget.
    /// `advice` is appended, e.g. where the work could be done in pieces.
    public static func require(_ bytes: Double, for what: String, advice: String = "") throws(CoreError) {
        // Reading the limits costs a few file reads: small allocations, made
        // per block on hot paths (10,000 tiny blocks made 120,000 opens), pass.
        guard bytes > smallAllocation else { return }
        let budget = budget
        guard bytes <= budget else {
            throw CoreError(.tooLarge, "\(what) needs \(format(bytes)) of memory, more than this process can safely allocate (\(format(budget)): half of the \(format(available)) available)\(advice)")
        }
    }

    /// `1.5 GB`, `320 MB` (powers of 1000).
    public static func format(_ bytes: Double) -> String {
        let units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB", "ZB"]
        var value = bytes
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(Int(value)) bytes" : String(format: "%.1f %@", value, units[unit])
    }

    /// Virtual memory already mapped (the first field of /proc/self/statm, in pages).
    private static func mappedBytes() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = text.split(separator: " ").first.flatMap({ Double($0) }) else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The kernel's estimate of memory available without swapping (MemAvailable
    /// in /proc/meminfo): it falls as this statement's earlier allocations are used.
    private static func memAvailable() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }) else { return nil }
        let fields = line.split(separator: " ")
        guard fields.count >= 2, let kilobytes = Double(fields[1]) else { return nil }
        return kilobytes * 1024
    }

    /// cgroup v2 `memory.max` of this process's group, when it is a number.
    private static func cgroupLimit() -> Double? {
        guard let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let line = membership.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else { return nil }
        let path = "/sys/fs/cgroup" + line.dropFirst(3) + "/memory.max"
        guard let value = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Double(value.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
