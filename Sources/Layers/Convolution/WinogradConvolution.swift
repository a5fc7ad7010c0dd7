import CKernels
import Tensor

/// Winograd F(4x4, 3x3) for stride-1 3x3 convolutions with padding 1 (the
/// CNF's same-scale and upsampling edges, ResNet's unstrided convolutions):
/// 36 multiplications per 4x4 output tile and channel pair instead of 144.
/// Forward and input gradient (the same transform with the filter turned by
/// 180° and its channels swapped), and the weight gradient as the transpose
/// of the forward algorithm in the filter (Lavin & Gray §5): the same input
/// transform, A on the output gradient's 4x4 tiles, 36 sums over tiles of
/// products, and Gᵀ · G back to 3x3 once per pass. The kernels are written
/// once over vector extensions (winograd_kernels.h): `winograd512` on AVX-512
/// CPUs, `winograd256` on AVX2.
/// Channels in multiples of the vector width (16 or 8); maps of at least 4x4.
protocol WinogradScheme: ConvolutionAlgorithm {
    var kernels: WinogradKernels { get }
}

struct WinogradKernels {
    let run: @convention(c) (UnsafePointer<bsn_winograd_job>?) -> Void
    let weights: @convention(c) (UnsafePointer<Float>?, Int32, Int32, Int32, UnsafeMutablePointer<Float>?, Int32, Int32) -> Void
    let weightGradient: @convention(c) (UnsafePointer<bsn_winograd_job>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> Void
    let addWeightGradient: @convention(c) (UnsafePointer<Float>?, Int32, Int32, UnsafeMutablePointer<Float>?) -> Void
    /// Floats a vector: channel counts must be multiples of it; weight blocks are twice it.
    let width: Int
}

struct Winograd512Convolution: WinogradScheme {
    var name: String { "winograd512" }
    var summary: String { "winograd512 (Winograd F(4x4,3x3), AVX-512 transforms and products)" }
    var isAvailable: Bool { Self.hasAVX512 }
    private static let hasAVX512 = bsn_kernels512_available() != 0
    var kernels: WinogradKernels {
        WinogradKernels(run: bsn_winograd_run_512, weights: bsn_winograd_weights_512, weightGradient: bsn_winograd_weight_gradient_512,
                        addWeightGradient: bsn_winograd_add_weight_gradient_512, width: 16)
    }
}

struct Winograd256Convolution: WinogradScheme {
    var name: String { "winograd256" }
    var summary: String { "winograd256 (Winograd F(4x4,3x3), AVX2 transforms and products)" }
    var isAvailable: Bool { Self.hasAVX2 }
    private static let hasAVX2 = bsn_kernels_available() != 0
    var kernels: WinogradKernels {
        WinogradKernels(run: bsn_winograd_run_256, weights: bsn_winograd_weights_256, weightGradient: bsn_winograd_weight_gradient_256,
                        addWeightGradient: bsn_winograd_add_weight_gradient_256, width: 8)
    }
}

extension WinogradScheme {
    var isMeasured: Bool { true }

    func supports(_ pass: ConvolutionPass, _ shape: ConvolutionShape) -> Bool {
        let g = shape.geometry, w = kernels.width
        return g.kernel == 3 && g.stride == 1 && g.padding == 1 && g.height >= 4 && g.width >= 4
            && shape.inChannels % w == 0 && shape.outChannels % w == 0
    }

    /// A block's transformed tiles and products (or output-gradient tiles), and the transformed weights (shared);
    /// the images are read in place, whatever their number.
    func workspace(_ pass: ConvolutionPass, _ shape: ConvolutionShape, images: Int) -> Int {
        36 * WinogradPlan.blockTiles * (shape.inChannels + shape.outChannels) + (pass == .weightGradient ? 0 : 36 * shape.inChannels * shape.outChannels)
    }

    /// The 36 sums of products of each channel pair, turned into 3x3 gradients once per pass.
    func partialFloats(_ shape: ConvolutionShape) -> Int { 36 * shape.inChannels * shape.outChannels }

    func plan(_ shape: ConvolutionShape) -> any ConvolutionPlan { WinogradPlan(shape, kernels: kernels) }
}

/// The Winograd computation of one input size: its tile grid and the transformed weights of the pass in progress.
final class WinogradPlan: ConvolutionPlan {
    /// Tiles transformed and multiplied at a time: their 36 input and product matrices stay in cache.
    static let blockTiles = 24

    let kernels: WinogradKernels
    let inChannels: Int, outChannels: Int
    let height: Int, width: Int
    let tilesHigh: Int, tilesWide: Int
    private var transformed: UnsafePointer<Float>?

    init(_ shape: ConvolutionShape, kernels: WinogradKernels) {
        let g = shape.geometry
        self.kernels = kernels
        (inChannels, outChannels, height, width) = (shape.inChannels, shape.outChannels, g.height, g.width)
        (tilesHigh, tilesWide) = ((g.outHeight + 3) / 4, (g.outWidth + 3) / 4)
    }

    var fusesOutput: Bool { true }

    /// Transforms the weights of the pass (U = G g Gᵀ, the input gradient's turned and transposed) into the shared
    /// slot, the output-channel blocks shared out among the threads.
    func prepare(_ pass: ConvolutionPass, weights: UnsafePointer<Float>, workspace: Workspace, threads: Int) {
        guard pass != .weightGradient else { return }
        let u = workspace.buffer(worker: 0, slot: ConvSlot.packedWeights, count: 36 * inChannels * outChannels)
        let (kernels, cout, cin) = (kernels, Int32(outChannels), Int32(inChannels)), transpose: Int32 = pass == .inputGradient ? 1 : 0
        Parallel.forEach(threads, threads: threads) { part, _ in
            kernels.weights(weights, cout, cin, transpose, u, Int32(part), Int32(threads))
        }
        transformed = UnsafePointer(u)
    }

    /// The job over `count` images of `source` (`channels` each), writing `targetChannels`.
    private func job(_ source: UnsafePointer<Float>, channels: Int, targetChannels: Int, count: Int, worker: Int, workspace: Workspace) -> bsn_winograd_job {
        var job = bsn_winograd_job()
        job.input = source
        (job.in_channels, job.out_channels) = (Int32(channels), Int32(targetChannels))
        (job.images, job.tiles_h, job.tiles_w) = (Int32(count), Int32(tilesHigh), Int32(tilesWide))
        (job.out_h, job.out_w) = (Int32(height), Int32(width))
        job.u = transformed
        job.v = workspace.buffer(worker: worker, slot: ConvSlot.winogradInput, count: 36 * Self.blockTiles * channels)
        job.m = workspace.buffer(worker: worker, slot: ConvSlot.winogradProducts, count: 36 * Self.blockTiles * targetChannels)
        job.block_tiles = Int32(Self.blockTiles)
        return job
    }

    /// Runs the job over `count` images of `source` (`channels` each) into `target` (`targetChannels`).
    private func run(_ source: UnsafePointer<Float>, channels: Int, into target: UnsafeMutablePointer<Float>, targetChannels: Int,
                     bias: UnsafePointer<Float>?, accumulate: Bool, relu: Bool, count: Int, worker: Int, workspace: Workspace) {
        var job = job(source, channels: channels, targetChannels: targetChannels, count: count, worker: worker, workspace: workspace)
        job.bias = bias
        job.output = target
        (job.accumulate, job.relu) = (accumulate ? 1 : 0, relu ? 1 : 0)
        kernels.run(&job)
    }

    func forward(x: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                 accumulate: Bool, relu: Bool, first: Int, count: Int, worker: Int, workspace: Workspace) {
        let pixels = height * width
        run(x + first * pixels * inChannels, channels: inChannels, into: y + first * pixels * outChannels, targetChannels: outChannels,
            bias: bias, accumulate: accumulate, relu: relu, count: count, worker: worker, workspace: workspace)
    }

    func inputGradient(dy: UnsafePointer<Float>, weights: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                       first: Int, count: Int, worker: Int, workspace: Workspace) {
        let pixels = height * width
        run(dy + first * pixels * outChannels, channels: outChannels, into: dx + first * pixels * inChannels, targetChannels: inChannels,
            bias: nil, accumulate: false, relu: false, count: count, worker: worker, workspace: workspace)
    }

    /// Adds into `partial`, laid out [36][Cin][Cout].
    func weightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, partial: UnsafeMutablePointer<Float>,
                        first: Int, count: Int, worker: Int, workspace: Workspace) {
        let pixels = height * width
        var job = job(x + first * pixels * inChannels, channels: inChannels, targetChannels: outChannels, count: count, worker: worker, workspace: workspace)
        kernels.weightGradient(&job, dy + first * pixels * outChannels, partial)
    }

    /// [36][Cin][Cout] → Gᵀ M G, added to [Cout][3][3][Cin].
    func addWeightGradient(_ partial: UnsafePointer<Float>, into gradient: UnsafeMutablePointer<Float>) {
        kernels.addWeightGradient(partial, Int32(outChannels), Int32(inChannels), gradient)
    }
}
