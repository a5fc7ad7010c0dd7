import Tensor

/// y = max(0, x), elementwise; any shape.
public final class ReLU: Layer {
    private let output = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])

    public let context: ExecutionContext

    public init(context: ExecutionContext) { self.context = context }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        output.reshape(x.shape)
        Elementwise.relu(x.data, into: output.data, count: x.count, threads: context.threads)
        return output
    }

    /// dx = dy where y > 0, else 0.
    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        try ShapeError.check(outputGradient, sameShapeAs: output, "ReLU backward")
        inputGradient.reshape(output.shape)
        Elementwise.reluBackward(outputGradient.data, output: output.data, into: inputGradient.data, count: output.count, threads: context.threads)
        return inputGradient
    }
}
