/// Elementwise kernels over contiguous floats, split over the cores for
/// large arrays over up to `threads` workers (each takes a contiguous range of
/// whole SIMD vectors). The results do not depend on `threads`.
public enum Elementwise {
    /// Runs `body` over contiguous ranges covering `0..<count`, in parallel when large.
    public static func forRanges(_ count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
        let parts = count < 1 << 15 ? 1 : max(1, threads) * 2
        if parts == 1 { body(0..<count); return }
        Parallel.forEach(parts, threads: threads) { p, _ in
            // Boundaries on multiples of 16 floats keep every worker's vectors aligned alike.
            let start = (count * p / parts) & ~15, end = p == parts - 1 ? count : (count * (p + 1) / parts) & ~15
            body(start..<end)
        }
    }

    /// target[i] += source[i].
    public static func add(_ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int, threads: Int) {
        forRanges(count, threads: threads) { r in addVectors(target + r.lowerBound, source + r.lowerBound, count: r.count) }
    }

    /// x[i] = max(x[i], 0).
    public static func reluInPlace(_ x: UnsafeMutablePointer<Float>, count: Int, threads: Int) {
        forRanges(count, threads: threads) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let p = UnsafeMutableRawPointer(x + i)
                let v = p.loadUnaligned(as: SIMD8<Float>.self)
                p.storeBytes(of: v.replacing(with: 0, where: v .< 0), as: SIMD8<Float>.self)
                i += 8
            }
            while i < r.upperBound { x[i] = max(x[i], 0); i += 1 }
        }
    }

    /// g[i] = 0 where y[i] ≤ 0 (the gradient through a ReLU whose output is y).
    public static func reluBackwardInPlace(_ g: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, count: Int, threads: Int) {
        forRanges(count, threads: threads) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let p = UnsafeMutableRawPointer(g + i)
                let v = p.loadUnaligned(as: SIMD8<Float>.self)
                let o = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
                p.storeBytes(of: v.replacing(with: 0, where: o .<= 0), as: SIMD8<Float>.self)
                i += 8
            }
            while i < r.upperBound { if y[i] <= 0 { g[i] = 0 }; i += 1 }
        }
    }

    /// y[i] = max(x[i], 0).
    public static func relu(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int, threads: Int) {
        forRanges(count, threads: threads) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(y + i).storeBytes(of: v.replacing(with: 0, where: v .< 0), as: SIMD8<Float>.self)
                i += 8
            }
            while i < r.upperBound { y[i] = max(x[i], 0); i += 1 }
        }
    }

    /// dx[i] = dy[i] where y[i] > 0, else 0.
    public static func reluBackward(_ dy: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                                    into dx: UnsafeMutablePointer<Float>, count: Int, threads: Int) {
        forRanges(count, threads: threads) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let g = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self)
                let o = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dx + i).storeBytes(of: g.replacing(with: 0, where: o .<= 0), as: SIMD8<Float>.self)
                i += 8
            }
            while i < r.upperBound { dx[i] = y[i] > 0 ? dy[i] : 0; i += 1 }
        }
    }

    /// x[i] = value.
    public static func fill(_ x: UnsafeMutablePointer<Float>, _ value: Float, count: Int, threads: Int) {
        forRanges(count, threads: threads) { r in (x + r.lowerBound).update(repeating: value, count: r.count) }
    }

    /// True when no value is infinite or NaN (x − x is 0 only for a finite x: no branch in the loop).
    public static func allFinite(_ x: UnsafePointer<Float>, count: Int) -> Bool {
        var probe: Float = 0
        for i in 0..<count { probe += x[i] - x[i] }
        return probe == 0
    }

    /// target[i] = source[i].
    public static func copy(_ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int, threads: Int) {
        forRanges(count, threads: threads) { r in (target + r.lowerBound).update(from: source + r.lowerBound, count: r.count) }
    }
}
