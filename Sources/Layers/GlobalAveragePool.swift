import Tensor

/// Mean over the spatial positions.
///
///     x is (N, H, W, C), y is (N, C), y[n, c] = mean over (i, j) of x[n, i, j, c]
public final class GlobalAveragePool: Layer {
    private let output = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    private var inputShape: [Int] = []

    public init() {}

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try ShapeError.check(x, rank: 4, "GlobalAveragePool", layout: "(N, H, W, C)")
        let (n, pixels, c) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        inputShape = x.shape
        output.reshape([n, c])
        output.fill(0)
        let scale = 1 / Float(pixels)
        for image in 0..<n {
            let y = output.data + image * c
            for p in 0..<pixels { addVectors(y, x.data + (image * pixels + p) * c, count: c) }
            for k in 0..<c { y[k] *= scale }
        }
        return output
    }

    /// dx[n, i, j, c] = dy[n, c] / (H·W).
    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        try ShapeError.check(outputGradient, sameShapeAs: output, "GlobalAveragePool backward")
        let (n, pixels, c) = (inputShape[0], inputShape[1] * inputShape[2], inputShape[3])
        inputGradient.reshape(inputShape)
        let scale = 1 / Float(pixels)
        for image in 0..<n {
            let dy = outputGradient.data + image * c
            for p in 0..<pixels {
                let dx = inputGradient.data + (image * pixels + p) * c
                for k in 0..<c { dx[k] = dy[k] * scale }
            }
        }
        return inputGradient
    }
}
