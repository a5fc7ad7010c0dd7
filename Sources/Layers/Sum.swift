import Tensor

/// Sum of N inputs of the same shape (the aggregation of a super network).
/// Its backward is the identity for every input: each receives dy itself.
public final class Sum {
    private let output = Tensor(shape: [0])

    public let context: ExecutionContext

    public init(context: ExecutionContext) { self.context = context }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        guard let first = inputs.first else { throw ShapeError("Sum: no inputs") }
        for x in inputs.dropFirst() { try ShapeError.check(x, sameShapeAs: first, "Sum") }
        output.copy(from: first)
        for x in inputs.dropFirst() { Elementwise.add(output.data, x.data, count: x.count, threads: context.threads) }
        return output
    }

    /// The gradient with respect to every input: `outputGradient` itself.
    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        try ShapeError.check(outputGradient, sameShapeAs: output, "Sum backward")
        return outputGradient
    }
}
