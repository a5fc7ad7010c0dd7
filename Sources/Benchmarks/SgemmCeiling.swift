import Foundation
import Tensor

/// The machine's sgemm ceiling: the best GFLOP/s of square single-precision
/// matrix products (OpenBLAS with its own threads), the yardstick every other
/// benchmark figure is divided by.
public struct SgemmCeiling {
    public let gflops: Double
    /// GFLOP/s per size, in the order measured.
    public let bySize: [(size: Int, gflops: Double)]

    public static func measure(sizes: [Int] = [1024, 2048, 4096], threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> SgemmCeiling {
        let saved = BLAS.threads
        BLAS.threads = threads
        defer { BLAS.threads = saved }
        var rng = RNG(seed: 1)
        var results = [(Int, Double)]()
        for n in sizes {
            let a = Tensor(shape: [n, n]), b = Tensor(shape: [n, n]), c = Tensor(shape: [n, n])
            rng.fillUniform(a, -1, 1)
            rng.fillUniform(b, -1, 1)
            let seconds = Timing.median(minimumRuns: 3, minimumSeconds: 0.5) {
                BLAS.sgemm(m: n, n: n, k: n, a: a.data, lda: n, b: b.data, ldb: n, c: c.data, ldc: n)
            }
            results.append((n, 2 * Double(n) * Double(n) * Double(n) / seconds / 1e9))
        }
        return SgemmCeiling(gflops: results.map(\.1).max() ?? 0, bySize: results)
    }
}
