import CKernels
import Dispatch
import Foundation
import Interface

/// The machine's FP32 peak, measured: every thread runs independent chains
/// of fused multiply-adds at once (`bsn_fma_flops_per_second`), at each
/// vector width the CPU has, and the best total counts. Unlike the sgemm
/// ceiling it does not depend on the kernels OpenBLAS uses (an environment
/// that sets `OPENBLAS_CORETYPE=Haswell` on an AVX-512 CPU halves sgemm, not
/// this), so conv rates are divided by it too.
public struct FMAPeak: Codable, Sendable {
    /// GFLOP/s of all threads at the best width.
    public let gflops: Double
    /// The vector width that reached it (512 or 256), 0 when the CPU has no FMA.
    public let bits: Int
    public let threads: Int
    /// GFLOP/s of all threads at each width the CPU has ("512", "256").
    public let by_width: [String: Double]

    /// Best of `rounds` rounds of about `seconds` each, per width.
    public static func measure(threads: Int = ProcessInfo.processInfo.activeProcessorCount, seconds: Double = 0.1, rounds: Int = 3) -> FMAPeak {
        var byWidth = [String: Double]()
        for bits in [512, 256] {
            // A short single-thread run says how many iterations fill `seconds`.
            let probe = bsn_fma_flops_per_second(Int32(bits), 200_000)
            guard probe > 0 else { continue }
            let chains = bits == 512 ? 16 : 12            // as fma_peak.c runs them
            let iterations = max(Int(seconds * probe / Double(2 * (bits / 32) * chains)), 1000)
            var best = 0.0
            for _ in 0..<rounds {
                let start = DispatchTime.now().uptimeNanoseconds
                DispatchQueue.concurrentPerform(iterations: threads) { _ in _ = bsn_fma_flops_per_second(Int32(bits), iterations) }
                let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                best = max(best, Double(threads) * 2 * Double(bits / 32 * chains) * Double(iterations) / wall / 1e9)
            }
            byWidth["\(bits)"] = best
        }
        let top = byWidth.max { $0.value < $1.value }
        return FMAPeak(gflops: top?.value ?? 0, bits: top.flatMap { Int($0.key) } ?? 0, threads: threads, by_width: byWidth)
    }

    /// "FMA peak 466.2 GFLOP/s (2 threads, 512-bit; 256-bit 235.0)".
    public var description: String {
        guard bits > 0 else { return "FMA peak: not measured (no FMA on this CPU)" }
        let others = by_width.filter { $0.key != "\(bits)" }.sorted { $0.key > $1.key }.map { "\($0.key)-bit \(Format.fixed($0.value, 1))" }
        return "FMA peak \(Format.fixed(gflops, 1)) GFLOP/s (\(threads) thread\(threads == 1 ? "" : "s"), \(bits)-bit"
            + (others.isEmpty ? "" : "; " + others.joined(separator: ", ")) + ")"
    }
}
