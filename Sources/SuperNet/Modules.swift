import Layers
import Tensor

/// The size of one example's feature map (the batch dimension aside).
public struct FeatureShape: Hashable, Codable, Sendable, CustomStringConvertible {
    public var height: Int, width: Int, channels: Int
    public init(height: Int, width: Int, channels: Int) {
        (self.height, self.width, self.channels) = (height, width, channels)
    }
    public var elements: Int { height * width * channels }
    public var description: String { "\(height)x\(width)x\(channels)" }
    /// The NHWC tensor shape of `batch` examples.
    public func batch(_ n: Int) -> [Int] { [n, height, width, channels] }
}

/// A computing node's layer stack, with what the graph and the costs need to
/// know about it: its output shape, multiply-accumulates and parameters.
public protocol Module: Layer {
    /// What the module is (reports name it by its raw value: "conv", "up-conv", "block", ...).
    var kind: ModuleKind { get }
    /// The output shape for this input shape, or a `ShapeError` saying why not.
    func outputShape(for input: FeatureShape) throws -> FeatureShape
    /// Multiply-accumulates of one example's forward pass.
    func multiplyAccumulates(for input: FeatureShape) -> Int
    /// False when the module reads the data: its input gradient is never used.
    var computesInputGradient: Bool { get set }
    /// Inference-mode forward when no backward follows: may take shortcuts
    /// (batch norm folded into the convolution). Default: `forward(x, training: false)`.
    func infer(_ x: Tensor) throws -> Tensor
    /// `infer` whose result goes into `target` (of the output's shape):
    /// added to it (`accumulate`) or written over it, then a ReLU if `relu`.
    /// Returns true, or false (nothing done) when the module cannot, and the
    /// caller uses `infer(x)` itself.
    func infer(_ x: Tensor, into target: Tensor, accumulate: Bool, relu: Bool) throws -> Bool
    /// `forward` whose result goes into `target`, as `infer(_:into:…)`; backward
    /// then takes the gradient of the result before that ReLU (the caller's).
    /// False (nothing done) when the module cannot.
    func forward(_ x: Tensor, training: Bool, into target: Tensor, accumulate: Bool, relu: Bool) throws -> Bool
    /// Moves the buffers that are consumed at once (the output, internal
    /// gradients) to tensors shared with other modules. Called by an executor
    /// for modules whose output it consumes immediately.
    func shareTransientBuffers(_ buffers: TransientBuffers)
    /// What inference computes with, batch norm folded into the convolutions
    /// (the contents of a model file): new tensors, in a fixed order.
    func inferenceTensors() -> [Tensor]
    /// Makes inference compute with these tensors (as `inferenceTensors()`
    /// gives them); training would no longer match them.
    func useInferenceTensors(_ tensors: [Tensor])
}

extension Module {
    /// Trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }
    public func shareTransientBuffers(_ buffers: TransientBuffers) {}
    public func infer(_ x: Tensor) throws -> Tensor { try forward(x, training: false) }
    public func infer(_ x: Tensor, into target: Tensor, accumulate: Bool, relu: Bool) throws -> Bool { false }
    public func forward(_ x: Tensor, training: Bool, into target: Tensor, accumulate: Bool, relu: Bool) throws -> Bool { false }
}

/// The module types of the fabrics.
public enum ModuleKind: String, Sendable {
    /// ConvBN: convolution, batch norm (and a ReLU).
    case conv
    /// ConvBN after nearest 2x upsampling (the CNF's coarse-to-fine links).
    case upConv = "up-conv"
    /// A 1x1 ConvBN (a residual shortcut's projection).
    case projection
    /// A residual basic block's main path.
    case block
    /// The classification or segmentation head.
    case output
    /// 2x2 average or max pooling (a search-space file's `pool`).
    case pool
    /// A gated identity (a search-space file's gated `skip`): no weights, no compute.
    case skip
}

/// Tensors shared by all the modules of a network whose results are consumed
/// as soon as they are made: one module's output is summed into its
/// successors before the next module runs, its gradients flow on at once.
/// Only what backward needs later (conv outputs for batch norm, inputs of
/// convolutions) stays with each module.
public final class TransientBuffers {
    public let output = Tensor(shape: [0])
    public let gradientA = Tensor(shape: [0]), gradientB = Tensor(shape: [0])
    public let upsampled = Tensor(shape: [0]), upsampledGradient = Tensor(shape: [0])
    public init() {}
}

/// Shape and cost of a convolution as used inside modules.
extension Conv2d {
    func outputShape(for x: FeatureShape, _ owner: String) throws -> FeatureShape {
        guard x.channels == inChannels else {
            throw ShapeError("\(owner): expected \(inChannels) input channels, got \(x.channels)")
        }
        let g = geometry(height: x.height, width: x.width)
        guard g.outHeight > 0, g.outWidth > 0 else { throw ShapeError("\(owner): a \(kernel)x\(kernel) kernel does not fit \(x)") }
        return FeatureShape(height: g.outHeight, width: g.outWidth, channels: outChannels)
    }
}

/// Convolution, batch norm, optional ReLU (computed by the batch norm's
/// passes); optionally preceded by nearest 2x upsampling (the CNF's
/// coarse-to-fine links). The paper's "ConvBn".
public final class ConvBN: Module {
    public let upsample: Upsample2x?
    public let conv: Conv2d
    public let norm: BatchNorm2d
    public var relu: Bool { norm.rectifies }
    private let stack: Sequential

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int = 3, stride: Int = 1, relu: Bool = false,
                upsample: Bool = false, bias: Bool = true, rng: inout RNG, context: ExecutionContext) {
        self.upsample = upsample ? Upsample2x(context: context) : nil
        conv = Conv2d(inChannels, outChannels, kernel: kernel, stride: stride, bias: bias, rng: &rng, context: context)
        norm = BatchNorm2d(outChannels, relu: relu, context: context)
        stack = Sequential([self.upsample as (any Layer)?, conv, norm].compactMap { $0 })
    }

    /// The upsampled input lives in a shared buffer: backward recomputes it from `savedInput`.
    private var recomputesUpsampling = false
    private var savedInput: Tensor?

    public func shareTransientBuffers(_ buffers: TransientBuffers) {
        guard !relu else { return }                  // a ReLU's output is needed by its backward
        norm.useSharedBuffers(output: buffers.output, inputGradient: buffers.gradientA)
        conv.useSharedBuffers(inputGradient: buffers.gradientB)
        if let upsample {
            upsample.useSharedBuffers(output: buffers.upsampled, inputGradient: buffers.upsampledGradient)
            recomputesUpsampling = true
        }
    }

    public var kind: ModuleKind { upsample != nil ? .upConv : conv.kernel == 1 ? .projection : .conv }
    public var computesInputGradient: Bool {
        get { conv.computesInputGradient }
        set { conv.computesInputGradient = newValue }
    }
    public var parameters: [Parameter] { stack.parameters }
    public var buffers: [Tensor] { stack.buffers }
    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        if recomputesUpsampling { savedInput = x }
        return try stack.forward(x, training: training)
    }
    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        if recomputesUpsampling, let upsample, let savedInput { _ = try upsample.forward(savedInput, training: true) }
        return try stack.backward(outputGradient)
    }

    /// Without a ReLU of its own, the batch norm writes into the target (and applies the target's ReLU).
    public func forward(_ x: Tensor, training: Bool, into target: Tensor, accumulate: Bool, relu outputReLU: Bool) throws -> Bool {
        guard !relu else { return false }
        if recomputesUpsampling { savedInput = x }
        let input = try upsample?.forward(x, training: training) ?? x
        try norm.forward(try conv.forward(input, training: training), training: training, into: target, accumulate: accumulate, relu: outputReLU)
        return true
    }

    /// Batch norm in inference mode is y = a·z + b per channel (a = γ/σ,
    /// b = β − μ·a): folded into the convolution's weights and bias, it costs
    /// no pass over memory of its own.
    public func infer(_ x: Tensor) throws -> Tensor {
        try foldedForward(x)
    }

    /// Without a ReLU of its own, the folded convolution stores into the target.
    public func infer(_ x: Tensor, into target: Tensor, accumulate: Bool, relu outputReLU: Bool) throws -> Bool {
        guard !relu else { return false }
        _ = try foldedForward(x, into: target, accumulate: accumulate, relu: outputReLU)
        return true
    }

    private func foldedForward(_ x: Tensor, into target: Tensor? = nil, accumulate: Bool = false, relu outputReLU: Bool = false) throws -> Tensor {
        let input = try upsample?.forward(x, training: false) ?? x
        let weights: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>
        if let loaded {
            (weights, bias) = (loaded.weight.data, loaded.bias.data)
        } else {
            let perOutput = conv.kernel * conv.kernel * conv.inChannels, cout = conv.outChannels
            weights = conv.context.workspace.buffer(worker: 0, slot: WorkspaceSlot(Self.self, 0), count: cout * (perOutput + 1))
            bias = weights + cout * perOutput
            fold(into: weights, bias: bias)
        }
        // The ReLU, the module's own or the sum's, is applied by the kernel as it stores the result.
        return try conv.forward(input, weights: weights, bias: bias, addingTo: target, accumulate: accumulate,
                                relu: target == nil ? relu : outputReLU)
    }

    /// Batch norm folded into the convolution: w'[o] = a_o·w[o], b'[o] = a_o·(b[o] − μ_o) + β_o.
    private func fold(into weights: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>) {
        let perOutput = conv.kernel * conv.kernel * conv.inChannels, w = conv.weight.value.data
        for o in 0..<conv.outChannels {
            let a = norm.scale.value[o] / (norm.runningVariance[o] + norm.epsilon).squareRoot()
            for j in 0..<perOutput { weights[o * perOutput + j] = a * w[o * perOutput + j] }
            bias[o] = a * ((conv.bias?.value[o] ?? 0) - norm.runningMean[o]) + norm.shift.value[o]
        }
    }

    /// The folded weights and bias of a loaded model, which inference uses instead of folding.
    private var loaded: (weight: Tensor, bias: Tensor)?

    /// The folded convolution: weight (as the convolution's) and bias (C_out).
    public func inferenceTensors() -> [Tensor] {
        if let loaded { return [loaded.weight.clone(), loaded.bias.clone()] }
        let weight = Tensor(shape: conv.weight.value.shape), bias = Tensor(shape: [conv.outChannels])
        fold(into: weight.data, bias: bias.data)
        return [weight, bias]
    }

    public func useInferenceTensors(_ tensors: [Tensor]) { loaded = (tensors[0], tensors[1]) }

    private func convInput(_ x: FeatureShape) -> FeatureShape {
        upsample == nil ? x : FeatureShape(height: 2 * x.height, width: 2 * x.width, channels: x.channels)
    }
    public func outputShape(for input: FeatureShape) throws -> FeatureShape {
        try conv.outputShape(for: convInput(input), kind.rawValue)
    }
    public func multiplyAccumulates(for input: FeatureShape) -> Int {
        let x = convInput(input)
        return conv.multiplyAccumulates(height: x.height, width: x.width)
    }
}

/// A residual basic block's main path: ConvBN(stride) + ReLU, then ConvBN.
/// Its skip (identity or a 1x1 projection) is a separate graph node; both
/// sum into an aggregation node whose ReLU ends the block.
public final class BasicBlock: Module {
    public let first: ConvBN, second: ConvBN
    private let stack: Sequential

    public init(_ inChannels: Int, _ outChannels: Int, stride: Int, bias: Bool = true, rng: inout RNG, context: ExecutionContext) {
        first = ConvBN(inChannels, outChannels, stride: stride, relu: true, bias: bias, rng: &rng, context: context)
        second = ConvBN(outChannels, outChannels, bias: bias, rng: &rng, context: context)
        stack = Sequential([first, second])
    }

    public var kind: ModuleKind { .block }
    public func inferenceTensors() -> [Tensor] { first.inferenceTensors() + second.inferenceTensors() }
    public func useInferenceTensors(_ tensors: [Tensor]) {
        first.useInferenceTensors(Array(tensors[0..<2]))
        second.useInferenceTensors(Array(tensors[2..<4]))
    }
    public func infer(_ x: Tensor) throws -> Tensor { try second.infer(try first.infer(x)) }
    public func infer(_ x: Tensor, into target: Tensor, accumulate: Bool, relu: Bool) throws -> Bool {
        try second.infer(try first.infer(x), into: target, accumulate: accumulate, relu: relu)
    }
    public func forward(_ x: Tensor, training: Bool, into target: Tensor, accumulate: Bool, relu: Bool) throws -> Bool {
        try second.forward(try first.forward(x, training: training), training: training, into: target, accumulate: accumulate, relu: relu)
    }
    public func shareTransientBuffers(_ buffers: TransientBuffers) {
        second.shareTransientBuffers(buffers)        // the first ConvBN keeps its own: its ReLU output is the second's input
    }
    public var computesInputGradient: Bool {
        get { first.computesInputGradient }
        set { first.computesInputGradient = newValue }
    }
    public var parameters: [Parameter] { stack.parameters }
    public var buffers: [Tensor] { stack.buffers }
    public func forward(_ x: Tensor, training: Bool) throws -> Tensor { try stack.forward(x, training: training) }
    public func backward(_ outputGradient: Tensor) throws -> Tensor { try stack.backward(outputGradient) }
    public func outputShape(for input: FeatureShape) throws -> FeatureShape {
        try second.outputShape(for: first.outputShape(for: input))
    }
    public func multiplyAccumulates(for input: FeatureShape) -> Int {
        guard let middle = try? first.outputShape(for: input) else { return 0 }
        return first.multiplyAccumulates(for: input) + second.multiplyAccumulates(for: middle)
    }
}

/// Classification output: global average pooling, then a linear layer.
///     x is (N, H, W, C), logits are (N, classes)
public final class PooledLinear: Module {
    public let pool = GlobalAveragePool()
    public let linear: Linear
    private let stack: Sequential

    public init(_ channels: Int, classes: Int, rng: inout RNG) {
        linear = Linear(channels, classes, rng: &rng)
        stack = Sequential([pool, linear])
    }

    public var kind: ModuleKind { .output }
    public func inferenceTensors() -> [Tensor] { linear.parameters.map { $0.value.clone() } }
    public func useInferenceTensors(_ tensors: [Tensor]) {
        for (p, t) in zip(linear.parameters, tensors) { p.value.data.update(from: t.data, count: t.count) }
    }
    public var computesInputGradient = true
    public var parameters: [Parameter] { stack.parameters }
    public var buffers: [Tensor] { stack.buffers }
    public func forward(_ x: Tensor, training: Bool) throws -> Tensor { try stack.forward(x, training: training) }
    public func backward(_ outputGradient: Tensor) throws -> Tensor { try stack.backward(outputGradient) }
    public func outputShape(for input: FeatureShape) throws -> FeatureShape {
        guard input.channels == linear.inFeatures else {
            throw ShapeError("output: expected \(linear.inFeatures) channels, got \(input.channels)")
        }
        return FeatureShape(height: 1, width: 1, channels: linear.outFeatures)
    }
    public func multiplyAccumulates(for input: FeatureShape) -> Int { linear.inFeatures * linear.outFeatures }
}

/// A 1x1 convolution to class scores, per pixel. On a 1x1 map (the CNF's
/// classification head) the logits are returned as (N, classes); otherwise
/// as (N, H, W, classes) for per-pixel losses (segmentation).
public final class PointwiseClassifier: Module {
    public let conv: Conv2d
    private let logits = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    private var spatial = true

    public init(_ channels: Int, classes: Int, rng: inout RNG, context: ExecutionContext) {
        conv = Conv2d(channels, classes, kernel: 1, padding: 0, rng: &rng, context: context)
    }

    public var kind: ModuleKind { .output }
    public var computesInputGradient: Bool {
        get { conv.computesInputGradient }
        set { conv.computesInputGradient = newValue }
    }
    public var parameters: [Parameter] { conv.parameters }
    public func inferenceTensors() -> [Tensor] { conv.parameters.map { $0.value.clone() } }
    public func useInferenceTensors(_ tensors: [Tensor]) {
        for (p, t) in zip(conv.parameters, tensors) { p.value.data.update(from: t.data, count: t.count) }
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        let y = try conv.forward(x, training: training)
        spatial = !(y.shape[1] == 1 && y.shape[2] == 1)
        if spatial { return y }
        logits.reshape([y.shape[0], y.shape[3]])
        logits.data.update(from: y.data, count: y.count)
        return logits
    }

    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        if spatial { return try conv.backward(outputGradient) }
        inputGradient.reshape([outputGradient.shape[0], 1, 1, outputGradient.shape[1]])
        inputGradient.data.update(from: outputGradient.data, count: outputGradient.count)
        return try conv.backward(inputGradient)
    }

    public func outputShape(for input: FeatureShape) throws -> FeatureShape { try conv.outputShape(for: input, kind.rawValue) }
    public func multiplyAccumulates(for input: FeatureShape) -> Int { conv.multiplyAccumulates(height: input.height, width: input.width) }
}

/// 2x2 pooling, stride 2, average or max: the `pool avg` / `pool max` of a
/// search-space file. No weights; channels unchanged.
public final class Pool: Module {
    public let pool: Pool2x2

    public init(_ kind: Pool2x2.Kind, context: ExecutionContext) { pool = Pool2x2(kind, context: context) }

    public var kind: ModuleKind { .pool }
    public var computesInputGradient = true
    public func forward(_ x: Tensor, training: Bool) throws -> Tensor { try pool.forward(x, training: training) }
    public func backward(_ outputGradient: Tensor) throws -> Tensor { try pool.backward(outputGradient) }
    public func inferenceTensors() -> [Tensor] { [] }
    public func useInferenceTensors(_ tensors: [Tensor]) {}
    public func outputShape(for input: FeatureShape) throws -> FeatureShape {
        guard input.height % 2 == 0, input.width % 2 == 0 else { throw ShapeError("pool: a \(input) map does not halve") }
        return FeatureShape(height: input.height / 2, width: input.width / 2, channels: input.channels)
    }
    /// One operation per input element (an addition or a comparison).
    public func multiplyAccumulates(for input: FeatureShape) -> Int { input.elements }
}

/// The identity as a gated module (a search-space file's gated `skip`, one of
/// a choice block's options): the output is a copy of the input. It costs no
/// operations and no parameters, and takes no machine in the parallel cost.
public final class Skip: Module {
    private let output = Tensor(shape: [0]), inputGradient = Tensor(shape: [0])

    public init() {}

    public var kind: ModuleKind { .skip }
    public var computesInputGradient = true
    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        output.reshape(x.shape)
        output.data.update(from: x.data, count: x.count)
        return output
    }
    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        inputGradient.reshape(outputGradient.shape)
        inputGradient.data.update(from: outputGradient.data, count: outputGradient.count)
        return inputGradient
    }
    public func inferenceTensors() -> [Tensor] { [] }
    public func useInferenceTensors(_ tensors: [Tensor]) {}
    public func outputShape(for input: FeatureShape) throws -> FeatureShape { input }
    public func multiplyAccumulates(for input: FeatureShape) -> Int { 0 }
}
