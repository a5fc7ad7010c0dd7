/// Conversions between the public NCHW layout and the engine's NHWC layout.
extension Tensor {
    /// A new (N, H, W, C) tensor holding the (N, C, H, W) tensor `x`.
    public static func nhwc(fromNCHW x: Tensor) throws -> Tensor {
        try ShapeError.check(x, rank: 4, "NCHW→NHWC", layout: "(N, C, H, W)")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let y = Tensor(shape: [n, h, w, c])
        permute(x.data, y.data, n: n, rows: c, columns: h * w)
        return y
    }

    /// A new (N, C, H, W) tensor holding the (N, H, W, C) tensor `x`.
    public static func nchw(fromNHWC x: Tensor) throws -> Tensor {
        try ShapeError.check(x, rank: 4, "NHWC→NCHW", layout: "(N, H, W, C)")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let y = Tensor(shape: [n, c, h, w])
        permute(x.data, y.data, n: n, rows: h * w, columns: c)
        return y
    }

    /// Transposes each of n (rows × columns) matrices.
    private static func permute(_ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, n: Int, rows: Int, columns: Int) {
        for image in 0..<n {
            let s = source + image * rows * columns, t = target + image * rows * columns
            for r in 0..<rows {
                for c in 0..<columns { t[c * rows + r] = s[r * columns + c] }
            }
        }
    }
}
