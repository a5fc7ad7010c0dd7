import Foundation
import Fuzz
import XCTest

/// A run of the real binary with its peak resident memory.
public struct MeasuredRun {
    public let status: Int32
    /// The signal that ended it, or 0.
    public let signal: Int32
    public let stdout: String, stderr: String
    /// Peak resident memory of bsn (VmHWM, reported by the binary at exit).
    public let peakResidentBytes: Int
    public let seconds: Double
}

/// Runs `bsn arguments…` in `folder` (its sessions under folder/sessions) as
/// the fuzz harness runs it, with `ulimit -v` of `memoryLimitKB`.
public func runBSNMeasured(_ arguments: [String], in folder: URL, memoryLimitKB: Int = 64 << 20) throws -> MeasuredRun {
    let child = Child(binary: try bsnBinaryPath(), arguments: arguments, folder: folder, memoryLimitKB: memoryLimitKB, deadline: 600, grace: 30)
    let result = try child.run()
    let read = { (name: String) in (try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)) ?? "" }
    let (status, signal): (Int32, Int32) = switch result.outcome {
    case .exited(let s): (s, 0)
    case .signalled(let s): (-1, s)
    case .hung: (-1, SIGKILL)
    }
    let stderr = read("stderr.txt").split(separator: "\n", omittingEmptySubsequences: false)
        .filter { !$0.hasPrefix("bsn: peak resident memory ") }.joined(separator: "\n")
    return MeasuredRun(status: status, signal: signal, stdout: read("stdout.txt"), stderr: stderr,
                       peakResidentBytes: result.peakResident, seconds: result.seconds)
}
