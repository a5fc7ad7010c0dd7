import Tensor

/// The three computations of a convolution layer. Each may use its own algorithm.
public enum ConvolutionPass: String, CaseIterable, Sendable {
    case forward
    case inputGradient = "input-gradient"
    case weightGradient = "weight-gradient"
}

/// A convolution layer at one input size: what an algorithm needs to know.
public struct ConvolutionShape: Equatable, Sendable {
    public let geometry: ConvGeometry
    public let outChannels: Int
    public init(_ geometry: ConvGeometry, outChannels: Int) {
        self.geometry = geometry
        self.outChannels = outChannels
    }
    public var inChannels: Int { geometry.channels }
    /// Floats of the weight tensor, [Cout][k][k][Cin].
    public var weightCount: Int { outChannels * geometry.patchSize }
}

/// One way to compute a convolution: gemm, the direct kernels, ... Each is
/// one type in its own file, listed once in `ConvolutionAlgorithms.all`;
/// the measured choice, `bsn bench conv --algorithm`, `bsn info` and the
/// tests read that list.
public protocol ConvolutionAlgorithm: Sendable {
    /// Its name in `BSN_CONV_ALGORITHM`, `bench conv --algorithm=`, caches and sessions.
    var name: String { get }
    /// Bumped when its arithmetic or its speed changes: the measured choices' cache is then measured again.
    var version: Int { get }
    /// What it is, for reports.
    var summary: String { get }
    /// This CPU can run it.
    var isAvailable: Bool { get }
    /// The measured choice times it (false for a twin kept to test shared code).
    var isMeasured: Bool { get }
    /// Whether it computes this pass of this shape.
    func supports(_ pass: ConvolutionPass, _ shape: ConvolutionShape) -> Bool
    /// Floats of workspace a pass over one chunk of `images` images uses on one
    /// worker, buffers shared by the workers (packed weights) included.
    func workspace(_ pass: ConvolutionPass, _ shape: ConvolutionShape, images: Int) -> Int
    /// Its plan for this shape, made once per input size and kept by the layer.
    func plan(_ shape: ConvolutionShape) -> any ConvolutionPlan
    /// Floats of a worker's partial weight gradient in its own layout (default: the weights' count).
    func partialFloats(_ shape: ConvolutionShape) -> Int
}

extension ConvolutionAlgorithm {
    public var version: Int { 1 }
    public func partialFloats(_ shape: ConvolutionShape) -> Int { shape.weightCount }
}

/// An algorithm's computation of one shape. The layer splits a pass into
/// chunks of whole images spread over the workers; `worker` names the
/// scratch buffers a chunk may use. Pointers are to NHWC tensors of the
/// whole batch; a chunk covers images `first ..< first + count`.
public protocol ConvolutionPlan: AnyObject {
    /// True when `forward` adds into or writes over its target and applies
    /// the ReLU itself; otherwise the layer computes into its own output and does that after.
    var fusesOutput: Bool { get }
    /// Once per pass, before its chunks (packing weights into shared workspace), on up to `threads` threads.
    func prepare(_ pass: ConvolutionPass, weights: UnsafePointer<Float>, workspace: Workspace, threads: Int)
    /// y = conv(x) + bias (added to y when `accumulate`, then ReLU when `relu`; both only when `fusesOutput`).
    func forward(x: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                 accumulate: Bool, relu: Bool, first: Int, count: Int, worker: Int, workspace: Workspace)
    /// dx (written, not added) from dy.
    func inputGradient(dy: UnsafePointer<Float>, weights: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                       first: Int, count: Int, worker: Int, workspace: Workspace)
    /// Adds this chunk's weight gradient into a worker's partial sum (`partialFloats` floats, in the plan's own layout).
    func weightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, partial: UnsafeMutablePointer<Float>,
                        first: Int, count: Int, worker: Int, workspace: Workspace)
    /// Adds a partial sum into the weight gradient, [Cout][k][k][Cin].
    func addWeightGradient(_ partial: UnsafePointer<Float>, into gradient: UnsafeMutablePointer<Float>)
}

extension ConvolutionPlan {
    public var fusesOutput: Bool { false }
    public func prepare(_ pass: ConvolutionPass, weights: UnsafePointer<Float>, workspace: Workspace, threads: Int) {}
}

/// The registered algorithms: adding one is its file and a line here.
public enum ConvolutionAlgorithms {
    public static let all: [any ConvolutionAlgorithm] = [
        GemmConvolution(),
        DirectConvolution(),
        Direct512Convolution(),
        Direct256Convolution(),
        Winograd512Convolution(),
        Winograd256Convolution(),
        DenseMap512Convolution(),
        DenseMap256Convolution(),
    ]

    /// The one that computes every shape, the fallback of the others.
    public static let gemm: any ConvolutionAlgorithm = GemmConvolution()

    /// The algorithms this CPU can run.
    public static var available: [any ConvolutionAlgorithm] { all.filter(\.isAvailable) }

    /// The algorithm of this name, if one is registered.
    public static func named(_ name: String) -> (any ConvolutionAlgorithm)? { all.first { $0.name == name } }

    /// The registered names, for messages.
    public static var names: [String] { all.map(\.name) }
}

/// Workspace slots of the convolution (per worker unless noted).
enum ConvSlot {
    static let columns = slot(0), columnGradient = slot(1), weightGradient = slot(2), paddedInput = slot(3)
    static let packedWeights = slot(4)      // worker 0 only, shared read-only by all workers
    static let paddedOutputGradient = slot(5)
    static let winogradInput = slot(6), winogradProducts = slot(7)
    static let denseWeights = slot(8)       // worker 0 only, shared: a small map's whole layer as one matrix

    private static func slot(_ index: Int) -> WorkspaceSlot { WorkspaceSlot(ConvSlot.self, index) }
}
