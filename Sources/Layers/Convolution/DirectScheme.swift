import CKernels
import Tensor

/// The direct scheme shared by the hand-tiled kernels (CKernels): no
/// im2col; each chunk of images is copied with a zero border and the kernel
/// walks the live taps of the filter over it, in NHWC. The input gradient is
/// the same kernel over the zero-bordered output gradient with the weights
/// transposed, one job per output parity class (four for stride 2). Needs
/// output channels (and, for the input gradient, input channels) in
/// multiples of `channelMultiple`, and padding < kernel; any stride.
///
/// An algorithm of this scheme is its kernels: `DirectConvolution`,
/// `Direct512Convolution`, `Direct256Convolution`.
protocol DirectScheme: ConvolutionAlgorithm {
    var kernels: DirectKernels { get }
}

/// A set of direct kernels (CKernels.h): the job runner, the weight-gradient
/// accumulator, and their weight packing's output-channel block (the last
/// block may be half as wide, so channels must be multiples of block / 2).
struct DirectKernels {
    let run: @convention(c) (UnsafePointer<bsn_conv_job>?) -> Void
    let weightGradient: @convention(c) (UnsafePointer<bsn_conv_job>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> Void
    let block: Int
    var channelMultiple: Int { block / 2 }

    /// The kernels written once over vector extensions (wide_kernels.h), in 512- and 256-bit vectors,
    /// and whether this CPU runs them (CPUID once, not at every convolution).
    static let wide512 = DirectKernels(run: bsn_conv_run_512, weightGradient: bsn_conv_weight_gradient_512, block: 32)
    static let wide256 = DirectKernels(run: bsn_conv_run_256, weightGradient: bsn_conv_weight_gradient_256, block: 16)
    static let runs512 = bsn_kernels512_available() != 0
    static let runs256 = bsn_kernels_available() != 0
}

extension DirectScheme {
    var isMeasured: Bool { true }

    func supports(_ pass: ConvolutionPass, _ shape: ConvolutionShape) -> Bool {
        let g = shape.geometry, multiple = kernels.channelMultiple
        guard shape.outChannels % multiple == 0 && g.padding < g.kernel && !g.isPointwise else { return false }
        return pass != .inputGradient || shape.inChannels % multiple == 0
    }

    func workspace(_ pass: ConvolutionPass, _ shape: ConvolutionShape, images: Int) -> Int {
        let g = shape.geometry, padded = images * (g.height + 2 * g.padding) * (g.width + 2 * g.padding) * g.channels
        let packed = shape.weightCount                          // the packed weights, shared (forward, input gradient)
        switch pass {
        case .forward: return padded + packed
        case .weightGradient: return padded
        case .inputGradient: return images * (g.outHeight + 2 * g.kernel) * (g.outWidth + 2 * g.kernel) * shape.outChannels + packed
        }
    }

    func plan(_ shape: ConvolutionShape) -> any ConvolutionPlan { DirectPlan(shape, kernels: kernels) }
}

/// A convolution's direct-kernel plan for one input size: tap offsets and,
/// for the input gradient, the jobs of each output parity class.
final class DirectPlan: ConvolutionPlan {
    let kernels: DirectKernels
    let outChannels: Int
    /// The packed weights of the pass in progress (set by `prepare`).
    private var packed: UnsafePointer<Float>?
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

    init(_ shape: ConvolutionShape, kernels: DirectKernels) {
        let g = shape.geometry, outChannels = shape.outChannels
        self.kernels = kernels
        self.outChannels = outChannels
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

    var fusesOutput: Bool { true }
    private var inChannels: Int { geometry.channels }
    private var kk: Int { geometry.kernel * geometry.kernel }

    /// Packs the weights of the forward job, or the transposed weights of
    /// every input-gradient class one after the other (at each class's
    /// `packedStart`), into the shared workspace slot.
    func prepare(_ pass: ConvolutionPass, weights: UnsafePointer<Float>, workspace: Workspace, threads: Int) {
        let buffer = workspace.buffer(worker: 0, slot: ConvSlot.packedWeights, count: kk * inChannels * outChannels)
        switch pass {
        case .forward:
            DirectPlan.pack(weights, outChannels: outChannels, taps: kk, inChannels: inChannels, selected: liveTaps, transpose: false,
                            block: kernels.block, into: buffer, threads: threads)
        case .inputGradient:
            for c in gradientClasses {
                DirectPlan.pack(weights, outChannels: outChannels, taps: kk, inChannels: inChannels, selected: c.taps, transpose: true,
                                block: kernels.block, into: buffer + c.packedStart, threads: threads)
            }
        case .weightGradient:
            return
        }
        packed = UnsafePointer(buffer)
    }

    /// Pads `count` images from `first` into this worker's buffer and calls
    /// `body` with the forward job over them (weights, bias and output unset).
    private func withForwardJob(x: UnsafePointer<Float>, first: Int, count: Int, worker: Int, workspace: Workspace,
                                _ body: (inout bsn_conv_job) -> Void) {
        let g = geometry, cin = inChannels, cout = outChannels
        let paddedSize = paddedHeight * paddedWidth * cin
        let padded = workspace.buffer(worker: worker, slot: ConvSlot.paddedInput, count: count * paddedSize)
        DirectPlan.pad(x + first * g.height * g.width * cin, images: count, height: g.height, width: g.width,
                       channels: cin, pad: g.padding, into: padded)
        forwardOffsets.withUnsafeBufferPointer { offsets in
            var job = bsn_conv_job()
            job.input = UnsafePointer(padded)
            job.in_pixel_stride = g.stride * cin
            job.in_row_stride = g.stride * paddedWidth * cin
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

    func forward(x: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                 accumulate: Bool, relu: Bool, first: Int, count: Int, worker: Int, workspace: Workspace) {
        let g = geometry
        withForwardJob(x: x, first: first, count: count, worker: worker, workspace: workspace) { job in
            job.packed_weights = packed
            job.bias = bias
            job.accumulate = accumulate ? 1 : 0
            job.relu = relu ? 1 : 0
            job.output = y + first * g.outHeight * g.outWidth * outChannels
            kernels.run(&job)
        }
    }

    /// Adds into `partial`, laid out [live tap][Cin][Cout].
    func weightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, partial: UnsafeMutablePointer<Float>,
                        first: Int, count: Int, worker: Int, workspace: Workspace) {
        let g = geometry
        let dyChunk = dy + first * g.outHeight * g.outWidth * outChannels
        withForwardJob(x: x, first: first, count: count, worker: worker, workspace: workspace) { job in
            kernels.weightGradient(&job, dyChunk, partial)
        }
    }

    /// [live tap][Cin][Cout] → [Cout][k·k][Cin]; dead taps have no gradient.
    func addWeightGradient(_ partial: UnsafePointer<Float>, into gradient: UnsafeMutablePointer<Float>) {
        let cin = inChannels, cout = outChannels, k = geometry.patchSize
        for (j, tap) in liveTaps.enumerated() {
            bsn_transpose(partial + j * cin * cout, cout, gradient + Int(tap) * cin, k, Int32(cin), Int32(cout), 1)
        }
    }

    func inputGradient(dy: UnsafePointer<Float>, weights: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                       first: Int, count: Int, worker: Int, workspace: Workspace) {
        let g = geometry, cin = inChannels, cout = outChannels
        let dyChunk = dy + first * g.outHeight * g.outWidth * cout
        let gradientSize = gradientHeight * gradientWidth * cout
        let paddedDy = workspace.buffer(worker: worker, slot: ConvSlot.paddedOutputGradient, count: count * gradientSize)
        DirectPlan.pad(dyChunk, images: count, height: g.outHeight, width: g.outWidth, channels: cout,
                       pad: gradientPad, into: paddedDy)
        let dxChunk = dx + first * g.height * g.width * cin
        for c in gradientClasses {
            c.offsets.withUnsafeBufferPointer { offsets in
                var job = bsn_conv_job()
                job.input = UnsafePointer(paddedDy)
                job.in_pixel_stride = cout
                job.in_row_stride = gradientWidth * cout
                job.in_image_stride = gradientSize
                job.taps = Int32(offsets.count)
                job.tap_offsets = offsets.baseAddress
                job.in_channels = Int32(cout)
                job.packed_weights = packed! + c.packedStart
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

    /// bsn_pack_weights_blocked of weights [outChannels][taps][inChannels], its output-channel blocks shared out among `threads` threads.
    static func pack(_ weights: UnsafePointer<Float>, outChannels: Int, taps: Int, inChannels: Int, selected: [Int32], transpose: Bool,
                     block: Int, into packed: UnsafeMutablePointer<Float>, threads: Int) {
        let jobOut = transpose ? inChannels : outChannels, parts = max(1, min(threads, (jobOut + block - 1) / block))
        selected.withUnsafeBufferPointer { selected in
            Parallel.forEach(parts, threads: threads) { part, _ in
                bsn_pack_weights_part(weights, Int32(outChannels), Int32(taps), Int32(inChannels), selected.baseAddress, Int32(selected.count),
                                      transpose ? 1 : 0, Int32(block), packed, Int32(part), Int32(parts))
            }
        }
    }

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
}
