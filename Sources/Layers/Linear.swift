import Tensor

/// Fully connected layer.
///
///     x is (N, in), y is (N, out), weight is (out, in):  y = x · weightᵀ + bias
public final class Linear: Layer {
    public let inFeatures: Int, outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?

    private let output = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    private var input: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RNG) {
        (self.inFeatures, self.outFeatures) = (inFeatures, outFeatures)
        weight = Parameter(name: "weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? Parameter(name: "bias", shape: [outFeatures]) : nil
        heInitialize(weight, fanIn: inFeatures, rng: &rng)
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try ShapeError.check(x, rank: 2, "Linear", layout: "(N, features)")
        try ShapeError.check(x, axis: 1, is: inFeatures, "Linear", what: "input features")
        input = x
        let n = x.shape[0]
        output.reshape([n, outFeatures])
        if let bias {
            for r in 0..<n { (output.data + r * outFeatures).update(from: bias.value.data, count: outFeatures) }
        }
        BLAS.sgemm(transposeB: true, m: n, n: outFeatures, k: inFeatures, a: x.data, lda: inFeatures,
                   b: weight.value.data, ldb: inFeatures, beta: bias == nil ? 0 : 1, c: output.data, ldc: outFeatures)
        return output
    }

    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        let x = try savedInput(input, "Linear")
        try ShapeError.check(outputGradient, sameShapeAs: output, "Linear backward")
        let n = x.shape[0], dy = outputGradient.data
        // dW (out × in) += dyᵀ · x;  db += Σ_rows dy;  dx (N × in) = dy · W
        BLAS.sgemm(transposeA: true, m: outFeatures, n: inFeatures, k: n, a: dy, lda: outFeatures,
                   b: x.data, ldb: inFeatures, beta: 1, c: weight.gradient.data, ldc: inFeatures)
        if let bias {
            for r in 0..<n { addVectors(bias.gradient.data, dy + r * outFeatures, count: outFeatures) }
        }
        inputGradient.reshape(x.shape)
        BLAS.sgemm(m: n, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures,
                   b: weight.value.data, ldb: inFeatures, c: inputGradient.data, ldc: inFeatures)
        return inputGradient
    }
}
