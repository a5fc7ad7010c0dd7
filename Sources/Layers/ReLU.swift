import Tensor

/// y = max(0, x), elementwise; any shape.
public final class ReLU: Layer {
    private let output = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])

    public init() {}

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        output.reshape(x.shape)
        let xData = x.data, yData = output.data
        Elementwise.forRanges(x.count) { range in
            for i in range { yData[i] = max(xData[i], 0) }
        }
        return output
    }

    /// dx = dy where y > 0, else 0.
    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        try ShapeError.check(outputGradient, sameShapeAs: output, "ReLU backward")
        inputGradient.reshape(output.shape)
        let y = output.data, dy = outputGradient.data, dx = inputGradient.data
        Elementwise.forRanges(output.count) { range in
            for i in range { dx[i] = y[i] > 0 ? dy[i] : 0 }
        }
        return inputGradient
    }
}
