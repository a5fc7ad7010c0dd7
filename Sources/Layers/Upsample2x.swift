import Tensor

/// Nearest-neighbour 2x upsampling.
///
///     x is (N, H, W, C), y is (N, 2H, 2W, C), y[n, 2i+a, 2j+b, :] = x[n, i, j, :]
public final class Upsample2x: Layer {
    private var output = Tensor(shape: [0])
    private var inputGradient = Tensor(shape: [0])
    private var inputShape: [Int] = []
    public let context: ExecutionContext

    public init(context: ExecutionContext) { self.context = context }

    /// Writes the output and/or the input gradient into these tensors from now
    /// on, instead of the layer's own: a network shares one tensor among
    /// layers whose results are consumed at once, to save memory.
    public func useSharedBuffers(output: Tensor? = nil, inputGradient: Tensor? = nil) {
        if let output { self.output = output }
        if let inputGradient { self.inputGradient = inputGradient }
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try ShapeError.check(x, rank: 4, "Upsample2x", layout: "(N, H, W, C)")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        inputShape = x.shape
        output.reshape([n, 2 * h, 2 * w, c])
        let xData = x.data, yData = output.data
        context.forEachRowRange(n * h) { range in
            for row in range {                      // row = n·H + i
                let source = xData + row * w * c
                let target = yData + 2 * row * 2 * w * c
                for j in 0..<w {
                    (target + 2 * j * c).update(from: source + j * c, count: c)
                    (target + (2 * j + 1) * c).update(from: source + j * c, count: c)
                }
                (target + 2 * w * c).update(from: target, count: 2 * w * c)
            }
        }
        return output
    }

    /// dx[n, i, j, :] = Σ of the four dy pixels it was copied to.
    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        try ShapeError.check(outputGradient, sameShapeAs: output, "Upsample2x backward")
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        inputGradient.reshape(inputShape)
        let dy = outputGradient.data, dx = inputGradient.data
        context.forEachRowRange(n * h) { range in
            for row in range {
                let top = dy + 2 * row * 2 * w * c, bottom = top + 2 * w * c
                let target = dx + row * w * c
                for j in 0..<w {
                    let t = target + j * c
                    let a = top + 2 * j * c, b = bottom + 2 * j * c
                    for k in 0..<c { t[k] = a[k] + a[c + k] + b[k] + b[c + k] }
                }
            }
        }
        return inputGradient
    }
}
