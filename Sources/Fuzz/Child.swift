import Foundation

/// One run of the bsn binary under limits: `ulimit -v` on its address
/// space, a deadline after which it gets SIGINT (Ctrl-C: bsn must stop what
/// it does and exit), and a grace period after which it is killed as hung.
public struct Child: Sendable {
    public enum Outcome: Equatable, Sendable {
        /// Exited with this status (0 success, 1 a command failed, 2 usage).
        case exited(Int32)
        /// Killed by a signal it did not handle: a crash (SIGILL, SIGTRAP from a Swift trap, SIGABRT, SIGSEGV, …).
        case signalled(Int32)
        /// Still running after SIGINT and the grace period.
        case hung
    }

    public struct Result: Sendable {
        public let outcome: Outcome
        /// Peak resident memory of bsn (bytes): what it reports at exit (VmHWM), else rusage.
        public let peakResident: Int
        public let seconds: Double
        /// The run needed SIGINT to finish.
        public let interrupted: Bool
    }

    public let binary: String
    public let arguments: [String]
    public let folder: URL
    public let memoryLimitKB: Int
    public let deadline: Double
    public let grace: Double
    /// More environment variables for the child.
    public var environment: [String: String] = [:]
    /// kill -9 after this many seconds (a crash-consistency test), instead of SIGINT at the deadline.
    public var killAfter: Double?
    /// The sessions folder, when several children share one (default `<folder>/sessions`).
    public var sessions: URL?
    /// Names of its output files in `folder` (several children may share a folder).
    public var outputName = ""

    public init(binary: String, arguments: [String], folder: URL, memoryLimitKB: Int, deadline: Double, grace: Double) {
        (self.binary, self.arguments, self.folder) = (binary, arguments, folder)
        (self.memoryLimitKB, self.deadline, self.grace) = (memoryLimitKB, deadline, grace)
    }

    /// Runs the child with `folder` as its working folder, home and session
    /// root; its output goes to `stdout.txt` and `stderr.txt` there.
    public func run() throws -> Result {
        let script = "ulimit -v \(memoryLimitKB) 2>/dev/null; cd \"$1\" || exit 97; shift; exec \"$@\""
        let argv = ["/bin/sh", "-c", script, "sh", folder.path, binary] + arguments
        var environment = ProcessInfo.processInfo.environment.merging(self.environment) { $1 }
        environment["HOME"] = folder.path
        environment["BSN_SESSIONS"] = (sessions ?? folder.appendingPathComponent("sessions")).path
        environment["BSN_HISTORY"] = folder.appendingPathComponent("history").path
        environment["MALLOC_ARENA_MAX"] = "2"
        environment["BSN_PEAK_MEMORY"] = "1"
        let env = environment.map { "\($0.key)=\($0.value)" }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, folder.appendingPathComponent("stdout\(outputName).txt").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, folder.appendingPathComponent("stderr\(outputName).txt").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

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
        let status = withCStrings(argv) { cArgv in
            withCStrings(env) { cEnv in posix_spawn(&pid, "/bin/sh", &actions, &attributes, cArgv, cEnv) }
        }
        guard status == 0 else { throw FuzzError("cannot start \(binary): \(String(cString: strerror(status)))") }

        var interrupted = false, killed = false
        var waitStatus: Int32 = 0, usage = rusage()
        while true {
            let r = wait4(pid, &waitStatus, WNOHANG, &usage)
            if r == pid { break }
            if r < 0 && errno != EINTR { throw FuzzError("wait4: \(String(cString: strerror(errno)))") }
            let elapsed = Date().timeIntervalSince(start)
            if let killAfter, elapsed > killAfter, !killed {
                kill(pid, SIGKILL)
                killed = true
                interrupted = true
            } else if !interrupted && elapsed > deadline {
                kill(pid, SIGINT)
                interrupted = true
            } else if interrupted && !killed && elapsed > deadline + grace {
                // A hang: its threads' stacks, when gdb is here, are kept beside its output before it is killed.
                recordStacks(of: pid)
                kill(pid, SIGKILL)
                killed = true
            }
            usleep(2_000)
        }
        let seconds = Date().timeIntervalSince(start)
        // bsn reports its own peak (VmHWM) at exit; rusage also counts the pages it shared with this process before exec.
        let stderr = (try? String(contentsOf: folder.appendingPathComponent("stderr\(outputName).txt"), encoding: .utf8)) ?? ""
        let reported = stderr.split(separator: "\n").last { $0.hasPrefix("bsn: peak resident memory ") }.flatMap { Int($0.split(separator: " ")[4]) }
        let peak = (reported ?? Int(usage.ru_maxrss)) * 1024
        if killed && killAfter == nil { return Result(outcome: .hung, peakResident: peak, seconds: seconds, interrupted: true) }
        let signalled = (waitStatus & 0x7f) != 0 && (waitStatus & 0x7f) != 0x7f
        let outcome: Outcome = signalled ? .signalled(waitStatus & 0x7f) : .exited((waitStatus >> 8) & 0xff)
        return Result(outcome: outcome, peakResident: peak, seconds: seconds, interrupted: interrupted)
    }
}

extension Child {
    /// Writes every thread's stack of process `pid` to `stacks<outputName>.txt`
    /// in the child's folder with gdb (at most 60 s), where gdb is installed.
    func recordStacks(of pid: pid_t) {
        let gdb = "/usr/bin/gdb"
        guard FileManager.default.isExecutableFile(atPath: gdb) else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["60", gdb, "-p", "\(pid)", "-batch", "-ex", "thread apply all bt 30"]
        let file = folder.appendingPathComponent("stacks\(outputName).txt")
        guard FileManager.default.createFile(atPath: file.path, contents: nil), let out = try? FileHandle(forWritingTo: file) else { return }
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return }
        process.waitUntilExit()
        try? out.close()
    }
}

/// Runs `body` with a NULL-terminated C array of the strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return body(pointers)
}

public struct FuzzError: Error, CustomStringConvertible {
    public let description: String
    init(_ message: String) { description = message }
}
