import CPUFeatures
import CKernels
import Foundation
import Tensor

/// How a convolution computes its products.
public enum ConvolutionAlgorithm: String, Codable, Sendable, CaseIterable {
    /// Hand-tiled AVX2/FMA kernels over zero-padded NHWC data, no im2col
    /// (CKernels). Needs output channels (and, for the input gradient, input
    /// channels) in multiples of 8 and padding < kernel; any stride.
    case direct
    /// The same direct scheme from kernels written once over vector
    /// extensions, in 512-bit vectors: AVX-512F CPUs; channels in multiples of 16.
    case direct512
    /// Those kernels in 256-bit vectors (AVX2/FMA): the twin that tests the
    /// shared source on every CPU. Not part of the measured choice.
    case direct256
    /// im2col + one sgemm per chunk of images: works for every shape.
    case gemm

    /// True when this CPU can run the algorithm.
    public var isAvailable: Bool {
        switch self {
        case .direct, .direct256: Self.hasAVX2
        case .direct512: Self.hasAVX512
        case .gemm: true
        }
    }

    // CPUID once, not at every convolution.
    private static let hasAVX2 = bsn_kernels_available() != 0
    private static let hasAVX512 = bsn_kernels512_available() != 0

    /// The algorithms this CPU can run.
    public static var available: [ConvolutionAlgorithm] { allCases.filter(\.isAvailable) }

    /// The algorithms the measured choice times.
    public static var candidates: [ConvolutionAlgorithm] { available.filter { $0 != .direct256 } }

    /// True when this CPU can run the direct kernels.
    public static var directKernelsAvailable: Bool { ConvolutionAlgorithm.direct.isAvailable }

    /// The direct kernels of this algorithm, or nil for gemm.
    var kernels: DirectKernels? {
        switch self {
        case .direct: DirectKernels(run: bsn_conv_run, weightGradient: bsn_conv_weight_gradient, block: 16)
        case .direct512: DirectKernels(run: bsn_conv_run_512, weightGradient: bsn_conv_weight_gradient_512, block: 32)
        case .direct256: DirectKernels(run: bsn_conv_run_256, weightGradient: bsn_conv_weight_gradient_256, block: 16)
        case .gemm: nil
        }
    }

    /// What the choice means, for reports.
    public var summary: String {
        switch self {
        case .direct: "direct (AVX2/FMA kernels, no im2col)"
        case .direct512: "direct512 (AVX-512 kernels, no im2col)"
        case .direct256: "direct256 (the AVX-512 kernels' source in 256 bits)"
        case .gemm: "im2col + OpenBLAS sgemm"
        }
    }
}

/// A set of direct kernels (CKernels.h): the job runner, the weight-gradient
/// accumulator, and their weight packing's output-channel block (the last
/// block may be half as wide, so channels must be multiples of block / 2).
struct DirectKernels {
    let run: @convention(c) (UnsafePointer<bsn_conv_job>?) -> Void
    let weightGradient: @convention(c) (UnsafePointer<bsn_conv_job>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> Void
    let block: Int
    var channelMultiple: Int { block / 2 }
}

/// Workspace slots of the convolution (per worker unless noted).
enum ConvSlot {
    static let columns = 0, columnGradient = 1, weightGradient = 2, paddedInput = 3
    static let packedWeights = 4      // worker 0 only, shared read-only by all workers
    static let paddedOutputGradient = 5
}

/// A convolution's direct-kernel plan for one input size: tap offsets and,
/// for the input gradient, the jobs of each output parity class.
struct DirectPlan {
    let geometry: ConvGeometry
    let paddedHeight: Int, paddedWidth: Int          // input padded by `padding`
    /// The kernel taps (ky·k + kx) that reach the image for some output
    /// pixel; the others only ever multiply padding (e.g. 8 of 9 on a 1x1 map).
    let liveTaps: [Int32]
    let forwardOffsets: [Int]                        // per live tap, in floats of the padded input
    /// Input-gradient classes (one for stride 1, four for stride 2): which
    /// kernel taps feed them, their offsets in the padded output gradient,
    /// their first pixel and grid.
    struct GradientClass {
        let taps: [Int32], offsets: [Int]
        let rowOffset: Int, columnOffset: Int, rows: Int, columns: Int
        /// Where this class's packed weights start in the packed buffer (floats).
        let packedStart: Int
    }

    let gradientClasses: [GradientClass]
    let gradientPad: Int                             // output gradient padded by this on each side
    let gradientHeight: Int, gradientWidth: Int      // padded output-gradient size

    init(_ g: ConvGeometry, outChannels: Int) {
        geometry = g
        let (k, s, p) = (g.kernel, g.stride, g.padding)
        paddedHeight = g.height + 2 * p
        paddedWidth = g.width + 2 * p
        func reaches(_ tap: Int, _ size: Int, _ outSize: Int) -> Bool {
            (0..<outSize).contains { o in (0..<size).contains(o * s - p + tap) }
        }
        let liveRows = (0..<k).filter { reaches($0, g.height, g.outHeight) }
        let liveColumns = (0..<k).filter { reaches($0, g.width, g.outWidth) }
        var taps = [Int32](), offsets = [Int]()
        for ky in liveRows { for kx in liveColumns {
            taps.append(Int32(ky * k + kx))
            offsets.append((ky * paddedWidth + kx) * g.channels)
        } }
        liveTaps = taps
        forwardOffsets = offsets

        // dx[iy, ix] = Σ dy[oy, ox] · w[ky, kx] over iy = s·oy − p + ky. For the
        // inputs of parity (py, px) the taps with ky ≡ py + p (mod s) apply, and
        // oy = m + (py + p − ky)/s where iy = s·m + py.
        let q = k
        gradientPad = q
        gradientHeight = g.outHeight + 2 * q
        gradientWidth = g.outWidth + 2 * q
        var classes = [GradientClass]()
        var packedStart = 0
        for py in 0..<s { for px in 0..<s {
            var taps = [Int32](), tapOffsets = [Int]()
            for ky in liveRows where (py + p - ky) % s == 0 { for kx in liveColumns where (px + p - kx) % s == 0 {
                taps.append(Int32(ky * k + kx))
                tapOffsets.append((((py + p - ky) / s + q) * gradientWidth + (px + p - kx) / s + q) * outChannels)
            } }
            classes.append(GradientClass(taps: taps, offsets: tapOffsets, rowOffset: py, columnOffset: px,
                                         rows: (g.height - py + s - 1) / s, columns: (g.width - px + s - 1) / s,
                                         packedStart: packedStart))
            packedStart += taps.count * g.channels * outChannels
        } }
        gradientClasses = classes
    }
}

extension Conv2d {
    /// Copies `images` NHWC images into `target` with a zero border of `pad`.
    static func pad(_ source: UnsafePointer<Float>, images: Int, height: Int, width: Int, channels c: Int,
                    pad: Int, into target: UnsafeMutablePointer<Float>) {
        let pw = width + 2 * pad, ph = height + 2 * pad
        for n in 0..<images {
            let image = target + n * ph * pw * c, input = source + n * height * width * c
            image.update(repeating: 0, count: pad * pw * c)
            for y in 0..<height {
                let line = image + (pad + y) * pw * c
                line.update(repeating: 0, count: pad * c)
                (line + pad * c).update(from: input + y * width * c, count: width * c)
                (line + (pad + width) * c).update(repeating: 0, count: pad * c)
            }
            (image + (pad + height) * pw * c).update(repeating: 0, count: pad * pw * c)
        }
    }

    /// Pads `count` images from `first` into this worker's buffer and calls
    /// `body` with the forward job over them (weights, bias and output unset).
    private func withForwardJob(_ plan: DirectPlan, x: UnsafePointer<Float>, first: Int, count: Int, worker: Int,
                                _ body: (inout bsn_conv_job) -> Void) {
        let g = plan.geometry, cin = inChannels, cout = outChannels
        let paddedSize = plan.paddedHeight * plan.paddedWidth * cin
        let padded = Workspace.shared.buffer(worker: worker, slot: ConvSlot.paddedInput, count: count * paddedSize)
        Conv2d.pad(x + first * g.height * g.width * cin, images: count, height: g.height, width: g.width,
                   channels: cin, pad: g.padding, into: padded)
        plan.forwardOffsets.withUnsafeBufferPointer { offsets in
            var job = bsn_conv_job()
            job.input = UnsafePointer(padded)
            job.in_pixel_stride = g.stride * cin
            job.in_row_stride = g.stride * plan.paddedWidth * cin
            job.in_image_stride = paddedSize
            job.taps = Int32(offsets.count)
            job.tap_offsets = offsets.baseAddress
            job.in_channels = Int32(cin)
            job.out_pixel_stride = cout
            job.out_row_stride = g.outWidth * cout
            job.out_image_stride = g.outHeight * g.outWidth * cout
            job.out_channels = Int32(cout)
            job.images = Int32(count)
            job.rows = Int32(g.outHeight)
            job.cols = Int32(g.outWidth)
            body(&job)
        }
    }

    /// Forward of `count` images starting at `first`, with the direct kernel.
    func directForward(_ plan: DirectPlan, kernels: DirectKernels, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                       packed: UnsafePointer<Float>, bias: UnsafePointer<Float>?, accumulate: Bool = false, relu: Bool = false,
                       first: Int, count: Int, worker: Int) {
        let g = plan.geometry
        withForwardJob(plan, x: x, first: first, count: count, worker: worker) { job in
            job.packed_weights = packed
            job.bias = bias
            job.accumulate = accumulate ? 1 : 0
            job.relu = relu ? 1 : 0
            job.output = y + first * g.outHeight * g.outWidth * outChannels
            kernels.run(&job)
        }
    }

    /// Packs the weights for the forward job into the shared workspace slot.
    func packForwardWeights(_ plan: DirectPlan, kernels: DirectKernels, weights: UnsafePointer<Float>) -> UnsafePointer<Float> {
        let kk = kernel * kernel
        let packed = Workspace.shared.buffer(worker: 0, slot: ConvSlot.packedWeights, count: kk * inChannels * outChannels)
        bsn_pack_weights_blocked(weights, Int32(outChannels), Int32(kk), Int32(inChannels),
                                 plan.liveTaps, Int32(plan.liveTaps.count), 0, Int32(kernels.block), packed)
        return UnsafePointer(packed)
    }

    /// Packs the transposed weights of every input-gradient class one after
    /// the other (at each class's `packedStart`).
    func packInputGradientWeights(_ plan: DirectPlan, kernels: DirectKernels) -> UnsafePointer<Float> {
        let kk = kernel * kernel
        let packed = Workspace.shared.buffer(worker: 0, slot: ConvSlot.packedWeights, count: kk * inChannels * outChannels)
        for c in plan.gradientClasses {
            bsn_pack_weights_blocked(weight.value.data, Int32(outChannels), Int32(kk), Int32(inChannels),
                                     c.taps, Int32(c.taps.count), 1, Int32(kernels.block), packed + c.packedStart)
        }
        return UnsafePointer(packed)
    }

    /// Weight gradient ([live taps][cin][cout], added into `gradient`) and, when
    /// `packed` is given, the input gradient of `count` images from `first`.
    func directBackward(_ plan: DirectPlan, kernels: DirectKernels, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                        dx: UnsafeMutablePointer<Float>, packed: UnsafePointer<Float>?, gradient: UnsafeMutablePointer<Float>,
                        first: Int, count: Int, worker: Int) {
        let g = plan.geometry, cin = inChannels, cout = outChannels
        let outputSize = g.outHeight * g.outWidth * cout
        let dyChunk = dy + first * outputSize
        withForwardJob(plan, x: x, first: first, count: count, worker: worker) { job in
            kernels.weightGradient(&job, dyChunk, gradient)
        }
        guard let packed else { return }

        let gradientSize = plan.gradientHeight * plan.gradientWidth * cout
        let paddedDy = Workspace.shared.buffer(worker: worker, slot: ConvSlot.paddedOutputGradient, count: count * gradientSize)
        Conv2d.pad(dyChunk, images: count, height: g.outHeight, width: g.outWidth, channels: cout,
                   pad: plan.gradientPad, into: paddedDy)
        let dxChunk = dx + first * g.height * g.width * cin
        for c in plan.gradientClasses {
            c.offsets.withUnsafeBufferPointer { offsets in
                var job = bsn_conv_job()
                job.input = UnsafePointer(paddedDy)
                job.in_pixel_stride = cout
                job.in_row_stride = plan.gradientWidth * cout
                job.in_image_stride = gradientSize
                job.taps = Int32(offsets.count)
                job.tap_offsets = offsets.baseAddress
                job.in_channels = Int32(cout)
                job.packed_weights = packed + c.packedStart
                job.bias = nil
                job.output = dxChunk + (c.rowOffset * g.width + c.columnOffset) * cin
                job.out_pixel_stride = g.stride * cin
                job.out_row_stride = g.stride * g.width * cin
                job.out_image_stride = g.height * g.width * cin
                job.out_channels = Int32(cin)
                job.images = Int32(count)
                job.rows = Int32(c.rows)
                job.cols = Int32(c.columns)
                kernels.run(&job)
            }
        }
    }
}
