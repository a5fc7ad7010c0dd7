import Foundation

/// How much memory this process may still take, and the check every size a
/// user (or a file) chooses goes through before anything is allocated: a
/// refused size is an error with the estimate in it, never an abort.
public enum Memory {
    /// Bytes available to this process now: the least of the machine's
    /// available memory (`MemAvailable`), the cgroup's limit less its usage,
    /// and the address-space limit (`ulimit -v`) less the process's size.
    public static func available() -> Double {
        var bytes = Double.infinity
        if let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let kb = field(meminfo, "MemAvailable:") {
            bytes = kb * 1024
        }
        // cgroup v2, then v1.
        let cgroups = [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                       ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")]
        for (limitFile, usageFile) in cgroups {
            guard let limit = number(limitFile) else { continue }
            bytes = min(bytes, max(0, limit - (number(usageFile) ?? 0)))
            break
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max {
            var size = 0.0
            if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8), let kb = field(status, "VmSize:") {
                size = kb * 1024
            }
            bytes = min(bytes, max(0, Double(limit.rlim_cur) - size))
        }
        return bytes.isFinite ? bytes : 1e12
    }

    /// Throws unless `bytes` fits in what is available (keeping a margin for
    /// everything else the process needs). `what` names the request in the
    /// user's words and `of` what the bytes hold: "CNF W=8 S=6 C=100000 needs
    /// ~2.4 TB of weights; 22 GB available".
    /// Asks the kernel for 2 MiB pages in the 2 MiB-aligned interior of
    /// `count` bytes at `base`, not yet touched: a large buffer filled at once
    /// then costs one page fault per 2 MiB instead of per 4 KiB. Only advice:
    /// nothing changes where transparent huge pages are off.
    public static func adviseHugePages(_ base: UnsafeMutableRawPointer, count: Int) {
        let huge = 2 << 20, start = (Int(bitPattern: base) + huge - 1) / huge * huge, end = (Int(bitPattern: base) + count) / huge * huge
        guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(aligned, end - start, Int32(MADV_HUGEPAGE))
    }

    public static func check(_ bytes: Double, _ what: String, of contents: String) throws {
        let free = available()
        guard bytes.isFinite, bytes <= 0.9 * free - 64e6 else {
            throw MemoryError("\(what) needs ~\(format(bytes)) of \(contents); \(format(free)) available")
        }
    }

    /// "2.4 TB", "512 MB", "3.1 kB".
    public static func format(_ bytes: Double) -> String {
        guard bytes.isFinite else { return "more than any machine has" }
        let units: [(Double, String)] = [(1e15, "PB"), (1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")]
        for (scale, unit) in units where bytes >= scale {
            let x = bytes / scale
            return bytes >= 1e18 ? String(format: "%.1e PB", bytes / 1e15) : String(format: x < 10 ? "%.1f %@" : "%.0f %@", x, unit)
        }
        return String(format: "%.0f bytes", bytes)
    }

    /// This process's resident memory now (`VmRSS`), in bytes; 0 where /proc has none.
    public static func resident() -> Double { status("VmRSS:") }

    /// This process's peak resident memory (`VmHWM`) since it started or since `resetPeak`, in bytes.
    public static func peakResident() -> Double { status("VmHWM:") }

    /// Starts the peak over from the resident memory now (Linux: "5" to
    /// /proc/self/clear_refs), so that a later `peakResident` measures one
    /// piece of work. False where the kernel does not allow it.
    @discardableResult
    public static func resetPeak() -> Bool {
        let fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    private static func status(_ name: String) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8), let kb = field(text, name) else { return 0 }
        return kb * 1024
    }

    private static func field(_ text: String, _ name: String) -> Double? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
    }

    private static func number(_ file: String) -> Double? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return Double(text.trimmingCharacters(in: .whitespacesAndNewlines))     // "max" (no limit) gives nil
    }
}

/// A size that does not fit in memory, with the estimate and what is available.
public struct MemoryError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ message: String) { description = message }
}
