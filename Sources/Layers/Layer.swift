import Tensor

/// One trainable tensor and its gradient. Backward passes *add* into
/// `gradient`; the optimizer or the trainer zeroes it between steps.
public final class Parameter {
    public let name: String
    public let value: Tensor
    public let gradient: Tensor

    public init(name: String, shape: [Int]) {
        self.name = name
        value = Tensor(shape: shape)
        gradient = Tensor(shape: shape)
    }

    public var count: Int { value.count }
    public func zeroGradient() { gradient.fill(0) }
}

/// The life of every single-input layer (Caffe's protocol, llm.c's pairs):
/// `forward` computes the output into a tensor the layer owns and remembers
/// what backward needs; `backward` takes the gradient of the loss with
/// respect to that output, adds the parameter gradients into
/// `Parameter.gradient` and returns the gradient with respect to the input.
/// Both reuse their buffers across calls, so only a first call (or a larger
/// batch) allocates. The returned tensors stay valid until the next call.
public protocol Layer: AnyObject {
    /// The trainable parameters, in a fixed order.
    var parameters: [Parameter] { get }
    /// State that is not trained by gradients but must be saved with the
    /// parameters (batch norm's running statistics), in a fixed order.
    var buffers: [Tensor] { get }
    /// `training` selects batch statistics (batch norm) over running ones.
    func forward(_ x: Tensor, training: Bool) throws -> Tensor
    func backward(_ outputGradient: Tensor) throws -> Tensor
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public var buffers: [Tensor] { [] }
}

/// Layers run one after the other.
public final class Sequential: Layer {
    public let layers: [any Layer]
    public init(_ layers: [any Layer]) { self.layers = layers }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var buffers: [Tensor] { layers.flatMap(\.buffers) }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        var y = x
        for layer in layers { y = try layer.forward(y, training: training) }
        return y
    }

    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        var g = outputGradient
        for layer in layers.reversed() { g = try layer.backward(g) }
        return g
    }
}

/// Throws unless a forward pass has stored its input.
func savedInput(_ input: Tensor?, _ operation: String) throws -> Tensor {
    guard let input else { throw ShapeError("\(operation): backward called before forward") }
    return input
}
