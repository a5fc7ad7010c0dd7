import CKernels
import Tensor

/// Convolutions on maps of at most 2x2 pixels (input and output) as one dense
/// matrix product over the batch. Such a layer is a linear map from an
/// image's H·W·Cin values to its Ho·Wo·Cout outputs:
///
///     Y (N × Ho·Wo·Cout) = X (N × H·W·Cin) · W' (H·W·Cin × Ho·Wo·Cout)
///
/// with X and Y the NHWC images as they lie in memory, and W' block (input
/// pixel, output pixel) the filter tap that joins them (zero where none
/// does). On a 2x2 map every output pixel of a 3x3 convolution sees 4 of its
/// 9 taps, the rest padding: the direct kernels and im2col multiply those
/// zeros (2.25x the work), W' holds none. Each image is one row of the
/// register tile, so a batch's small maps fill it as a large map would.
/// The input gradient is dY · W'ᵀ, the weight gradient Xᵀ · dY with its
/// blocks summed back into their taps. All three run on the direct kernels
/// as 1x1 convolutions over the batch: `dense512` (AVX-512), `dense256` (AVX2).
protocol DenseMapScheme: ConvolutionAlgorithm {
    var kernels: DirectKernels { get }
}

struct DenseMap512Convolution: DenseMapScheme {
    var name: String { "dense512" }
    var summary: String { "dense512 (maps of at most 2x2 as one matrix product over the batch, AVX-512 kernels)" }
    var isAvailable: Bool { DirectKernels.runs512 }
    var kernels: DirectKernels { .wide512 }
}

struct DenseMap256Convolution: DenseMapScheme {
    var name: String { "dense256" }
    var summary: String { "dense256 (maps of at most 2x2 as one matrix product over the batch, AVX2 kernels)" }
    var isAvailable: Bool { DirectKernels.runs256 }
    var kernels: DirectKernels { .wide256 }
}

extension DenseMapScheme {
    var isMeasured: Bool { true }

    /// Values per image in and out: the matrix product's inner and outer sizes.
    private func sizes(_ shape: ConvolutionShape) -> (inputs: Int, outputs: Int) {
        let g = shape.geometry
        return (g.height * g.width * shape.inChannels, g.outHeight * g.outWidth * shape.outChannels)
    }

    func supports(_ pass: ConvolutionPass, _ shape: ConvolutionShape) -> Bool {
        let g = shape.geometry, (inputs, outputs) = sizes(shape), multiple = kernels.channelMultiple
        return g.height * g.width <= 4 && g.outHeight * g.outWidth <= 4 && !g.isPointwise
            && outputs % multiple == 0 && (pass != .inputGradient || inputs % multiple == 0)
    }

    /// W' and its packing (shared), and a worker's bias repeated per output pixel.
    func workspace(_ pass: ConvolutionPass, _ shape: ConvolutionShape, images: Int) -> Int {
        let (inputs, outputs) = sizes(shape)
        switch pass {
        case .forward: return 2 * inputs * outputs + outputs
        case .inputGradient: return 2 * inputs * outputs
        case .weightGradient: return 0
        }
    }

    /// The images' sums of X[k] · dY[n], [H·W·Cin][Ho·Wo·Cout], turned into taps once per pass.
    func partialFloats(_ shape: ConvolutionShape) -> Int {
        let (inputs, outputs) = sizes(shape)
        return inputs * outputs
    }

    func plan(_ shape: ConvolutionShape) -> any ConvolutionPlan { DenseMapPlan(shape, kernels: kernels) }
}

/// The dense product of one input size: which tap joins each (input pixel, output pixel) pair.
final class DenseMapPlan: ConvolutionPlan {
    let kernels: DirectKernels
    let geometry: ConvGeometry
    let inChannels: Int, outChannels: Int
    /// Values per image in (H·W·Cin) and out (Ho·Wo·Cout).
    let inputs: Int, outputs: Int
    /// The blocks of W' that a tap fills: (input pixel, output pixel, tap ky·k + kx).
    let blocks: [(input: Int, output: Int, tap: Int)]
    private var packed: UnsafePointer<Float>?
    private let zeroOffset: [Int] = [0]
    /// W' as a 1x1 convolution's weights has one tap (kept, so that packing allocates nothing).
    private let singleTap: [Int32] = [0]

    init(_ shape: ConvolutionShape, kernels: DirectKernels) {
        let g = shape.geometry
        self.kernels = kernels
        geometry = g
        (inChannels, outChannels) = (shape.inChannels, shape.outChannels)
        (inputs, outputs) = (g.height * g.width * inChannels, g.outHeight * g.outWidth * outChannels)
        var blocks = [(input: Int, output: Int, tap: Int)]()
        for oy in 0..<g.outHeight { for ox in 0..<g.outWidth {
            for iy in 0..<g.height { for ix in 0..<g.width {
                let ky = iy - oy * g.stride + g.padding, kx = ix - ox * g.stride + g.padding
                guard (0..<g.kernel).contains(ky) && (0..<g.kernel).contains(kx) else { continue }
                blocks.append((iy * g.width + ix, oy * g.outWidth + ox, ky * g.kernel + kx))
            } }
        } }
        self.blocks = blocks
    }

    var fusesOutput: Bool { true }

    /// Builds W' as a 1x1 convolution's weights, [Ho·Wo·Cout][1][H·W·Cin] (zero where no
    /// tap joins two pixels), then packs it for the forward job or, transposed, the input gradient's.
    func prepare(_ pass: ConvolutionPass, weights: UnsafePointer<Float>, workspace: Workspace, threads: Int) {
        guard pass != .weightGradient else { return }
        let dense = workspace.buffer(worker: 0, slot: ConvSlot.denseWeights, count: inputs * outputs)
        let (cin, cout, kk, pixels) = (inChannels, outChannels, geometry.kernel * geometry.kernel, geometry.outHeight * geometry.outWidth)
        let blocks = blocks
        // W' row by row (an output pixel's channels), the rows shared out among the threads.
        Parallel.forEach(pixels, threads: threads) { pixel, _ in
            (dense + pixel * cout * inputs).update(repeating: 0, count: cout * inputs)
            for b in blocks where b.output == pixel {
                for o in 0..<cout {
                    (dense + (pixel * cout + o) * inputs + b.input * cin).update(from: weights + (o * kk + b.tap) * cin, count: cin)
                }
            }
        }
        let buffer = workspace.buffer(worker: 0, slot: ConvSlot.packedWeights, count: inputs * outputs)
        DirectPlan.pack(dense, outChannels: outputs, taps: 1, inChannels: inputs, selected: singleTap, transpose: pass == .inputGradient,
                        block: kernels.block, into: buffer, threads: threads)
        packed = UnsafePointer(buffer)
    }

    /// The 1x1 job over `count` images: `width` values each in, `targetWidth` out (the weight gradient's dy has its layout).
    private func job(_ source: UnsafePointer<Float>, width: Int, into target: UnsafeMutablePointer<Float>?, targetWidth: Int, count: Int,
                     _ body: (inout bsn_conv_job) -> Void) {
        zeroOffset.withUnsafeBufferPointer { offsets in
            var job = bsn_conv_job()
            job.input = source
            (job.in_pixel_stride, job.in_row_stride, job.in_image_stride) = (width, count * width, count * width)
            job.taps = 1
            job.tap_offsets = offsets.baseAddress
            job.in_channels = Int32(width)
            job.packed_weights = packed
            job.output = target
            (job.out_pixel_stride, job.out_row_stride, job.out_image_stride) = (targetWidth, count * targetWidth, count * targetWidth)
            job.out_channels = Int32(targetWidth)
            (job.images, job.rows, job.cols) = (1, 1, Int32(count))
            body(&job)
        }
    }

    func forward(x: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                 accumulate: Bool, relu: Bool, first: Int, count: Int, worker: Int, workspace: Workspace) {
        // The bias of every output pixel.
        let repeated = bias.map { bias -> UnsafePointer<Float> in
            let buffer = workspace.buffer(worker: worker, slot: ConvSlot.columns, count: outputs)
            for p in 0..<(outputs / outChannels) { (buffer + p * outChannels).update(from: bias, count: outChannels) }
            return UnsafePointer(buffer)
        }
        job(x + first * inputs, width: inputs, into: y + first * outputs, targetWidth: outputs, count: count) { job in
            job.bias = repeated
            (job.accumulate, job.relu) = (accumulate ? 1 : 0, relu ? 1 : 0)
            kernels.run(&job)
        }
    }

    func inputGradient(dy: UnsafePointer<Float>, weights: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                       first: Int, count: Int, worker: Int, workspace: Workspace) {
        job(dy + first * outputs, width: outputs, into: dx + first * inputs, targetWidth: inputs, count: count) { kernels.run(&$0) }
    }

    /// Adds Xᵀ · dY over the chunk into `partial`, [H·W·Cin][Ho·Wo·Cout].
    func weightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, partial: UnsafeMutablePointer<Float>,
                        first: Int, count: Int, worker: Int, workspace: Workspace) {
        job(x + first * inputs, width: inputs, into: nil, targetWidth: outputs, count: count) { job in
            kernels.weightGradient(&job, dy + first * outputs, partial)
        }
    }

    /// Each block of the partial into its tap of the gradient [Cout][k·k][Cin].
    func addWeightGradient(_ partial: UnsafePointer<Float>, into gradient: UnsafeMutablePointer<Float>) {
        let (cin, cout, kk) = (inChannels, outChannels, geometry.kernel * geometry.kernel)
        for b in blocks {
            bsn_transpose(partial + b.input * cin * outputs + b.output * cout, outputs, gradient + b.tap * cin, kk * cin, Int32(cin), Int32(cout), 1)
        }
    }
}
