import Tensor

/// 2x2 pooling with stride 2, average or max.
///
///     x is (N, H, W, C) with H and W even, y is (N, H/2, W/2, C),
///     y[n, i, j, c] = mean or max of x[n, 2i+a, 2j+b, c] over a, b in {0, 1}
public final class Pool2x2: Layer {
    public enum Kind: String, Sendable { case average = "avg", max }
    public let kind: Kind
    public let context: ExecutionContext
    private let output = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    /// Max pooling: the offset (0…3: a·2 + b) of each output's maximum, for backward.
    private var argmax: [UInt8] = []
    private var inputShape: [Int] = []

    public init(_ kind: Kind, context: ExecutionContext) { (self.kind, self.context) = (kind, context) }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try ShapeError.check(x, rank: 4, "Pool2x2", layout: "(N, H, W, C)")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard h % 2 == 0, w % 2 == 0 else { throw ShapeError("Pool2x2: a \(h)x\(w) map does not halve") }
        inputShape = x.shape
        output.reshape([n, h / 2, w / 2, c])
        if kind == .max && argmax.count < output.count { argmax = [UInt8](repeating: 0, count: output.count) }
        let xData = x.data, yData = output.data, kind = kind
        argmax.withUnsafeMutableBufferPointer { best in
            let best = best.baseAddress
            context.forEachRowRange(n * h / 2) { range in
                for row in range {                           // row = n·H/2 + i
                    let top = xData + 2 * row * w * c, bottom = top + w * c
                    for j in 0..<w / 2 {
                        let y = yData + (row * w / 2 + j) * c
                        let a = top + 2 * j * c, b = a + c, d = bottom + 2 * j * c, e = d + c
                        for k in 0..<c {
                            if kind == .average {
                                y[k] = 0.25 * (a[k] + b[k] + d[k] + e[k])
                            } else {
                                var m = a[k], at: UInt8 = 0
                                if b[k] > m { (m, at) = (b[k], 1) }
                                if d[k] > m { (m, at) = (d[k], 2) }
                                if e[k] > m { (m, at) = (e[k], 3) }
                                y[k] = m
                                best![(row * w / 2 + j) * c + k] = at
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Average: each input pixel gets a quarter of its output's gradient; max: the maximum gets all of it.
    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        try ShapeError.check(outputGradient, sameShapeAs: output, "Pool2x2 backward")
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        inputGradient.reshape(inputShape)
        let dy = outputGradient.data, dx = inputGradient.data, kind = kind
        argmax.withUnsafeBufferPointer { best in
            let best = best.baseAddress
            context.forEachRowRange(n * h / 2) { range in
                for row in range {
                    let top = dx + 2 * row * w * c, bottom = top + w * c
                    for j in 0..<w / 2 {
                        let g = dy + (row * w / 2 + j) * c
                        let a = top + 2 * j * c, b = a + c, d = bottom + 2 * j * c, e = d + c
                        for k in 0..<c {
                            if kind == .average {
                                let quarter = 0.25 * g[k]
                                (a[k], b[k], d[k], e[k]) = (quarter, quarter, quarter, quarter)
                            } else {
                                let at = best![(row * w / 2 + j) * c + k]
                                (a[k], b[k], d[k], e[k]) = (at == 0 ? g[k] : 0, at == 1 ? g[k] : 0, at == 2 ? g[k] : 0, at == 3 ? g[k] : 0)
                            }
                        }
                    }
                }
            }
        }
        return inputGradient
    }
}
