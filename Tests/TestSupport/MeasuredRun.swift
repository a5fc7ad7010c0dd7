import Foundation
import XCTest

/// A run of the real binary with its peak resident memory (from wait4).
public struct MeasuredRun {
    public let status: Int32
    /// The signal that ended it, or 0.
    public let signal: Int32
    public let stdout: String, stderr: String
    /// Peak resident memory of bsn (VmHWM, reported by the binary at exit).
    public let peakResidentBytes: Int
    public let seconds: Double
}

/// Runs `bsn arguments…` in `folder` (its sessions under folder/sessions),
/// with `ulimit -v` of `memoryLimitKB` when given.
public func runBSNMeasured(_ arguments: [String], in folder: URL, memoryLimitKB: Int? = nil,
                           environment: [String: String] = [:]) throws -> MeasuredRun {
    let binary = try bsnBinaryPath()
    let limit = memoryLimitKB.map { "ulimit -v \($0); " } ?? ""
    let argv = ["/bin/sh", "-c", limit + "exec \"$@\"", "sh", binary] + arguments
    var env = ProcessInfo.processInfo.environment
    env["BSN_SESSIONS"] = folder.appendingPathComponent("sessions").path
    env["BSN_HISTORY"] = folder.appendingPathComponent("history").path
    // rusage would count the spawning test process's pages (the child shares them until exec).
    env["BSN_PEAK_MEMORY"] = "1"
    for (k, v) in environment { env[k] = v }
    let out = folder.appendingPathComponent("measured-stdout.txt").path, err = folder.appendingPathComponent("measured-stderr.txt").path
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let previous = FileManager.default.currentDirectoryPath
    FileManager.default.changeCurrentDirectoryPath(folder.path)
    defer { FileManager.default.changeCurrentDirectoryPath(previous) }
    var cArgv = argv.map { strdup($0) } + [nil], cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in cArgv + cEnv { free(p) } }
    // Workers of the caller (Dispatch threads) block signals; the child must get SIGINT as a user's Ctrl-C.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t(), defaults = sigset_t()
    sigemptyset(&none)
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGINT)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var pid: pid_t = 0
    let start = Date()
    guard posix_spawn(&pid, "/bin/sh", &actions, &attributes, &cArgv, &cEnv) == 0 else { throw XCTSkip("cannot start /bin/sh") }
    var status: Int32 = 0, usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let signal = status & 0x7f
    let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
    let peakLine = stderr.split(separator: "\n").last { $0.hasPrefix("bsn: peak resident memory ") }
    let peakKB = peakLine.flatMap { Int($0.split(separator: " ")[4]) } ?? Int.max / 1024
    return MeasuredRun(status: signal == 0 ? (status >> 8) & 0xff : -1, signal: signal,
                       stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                       stderr: stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("bsn: peak resident memory ") }
                           .joined(separator: "\n"),
                       peakResidentBytes: peakKB * 1024, seconds: Date().timeIntervalSince(start))
}
