import Foundation
import Tensor

/// Wall-clock timing for benchmarks: medians of repeated runs.
public enum Timing {
    /// Seconds since an arbitrary origin (monotonic).
    public static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Runs `body` once to warm up, then at least `minimumRuns` times and until
    /// `minimumSeconds` have passed; returns the median duration in seconds.
    public static func median(minimumRuns: Int = 3, minimumSeconds: Double = 0.3, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var samples = [Double]()
        let start = now()
        while samples.count < minimumRuns || (now() - start < minimumSeconds && samples.count < 1000) {
            let t0 = now()
            try body()
            samples.append(now() - t0)
        }
        samples.sort()
        return samples[samples.count / 2]
    }

    /// Peak resident set size of this process so far, in MiB (VmHWM).
    public static func peakResidentMiB() -> Double { Memory.peakResident() / 1_048_576 }
}
