import Foundation
import Tensor

/// 2-D convolution with a square kernel, stride and zero padding.
///
///     x is (N, H, W, Cin), y is (N, Ho, Wo, Cout), weight is (Cout, k, k, Cin)
///     y[r, o] = Σ_j col[r, j] · weight[o, j] + bias[o]     (col: im2col of x)
///
/// Two algorithms compute it (`ConvolutionAlgorithm`): direct AVX2 kernels
/// on a zero-padded copy of each chunk (no column matrix), or im2col + one
/// sgemm per chunk (no im2col at all for 1x1 stride 1). Chunks of whole
/// images are spread over the cores; each worker uses its own scratch space
/// in the shared `Workspace` and single-threaded kernels, which beats one
/// multi-threaded sgemm at these small M/N/K.
public final class Conv2d: Layer {
    public let inChannels: Int, outChannels: Int
    public let kernel: Int, stride: Int, padding: Int
    public let weight: Parameter
    public let bias: Parameter?
    /// When false, backward skips the input gradient and returns zeros (the
    /// first layer of a network, whose input is data).
    public var computesInputGradient = true

    /// The algorithm this layer uses where its shape allows; nil (the
    /// default): the one measured fastest for each shape (`ConvolutionChoices`).
    public var algorithm: ConvolutionAlgorithm?
    /// The measured choice for the last input size.
    private var measuredChoice: (geometry: ConvGeometry, algorithm: ConvolutionAlgorithm)?

    private var output = Tensor(shape: [0])
    private var plan: DirectPlan?
    /// The direct kernels of the chosen algorithm for the current plan.
    private var planKernels: DirectKernels?
    private var inputGradient = Tensor(shape: [0])
    private var input: Tensor?

    /// Target rows (output pixels) per chunk: big enough for an efficient
    /// sgemm, small enough that the column matrix stays in cache.
    public static let rowsPerChunk = 2048

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int = 3, stride: Int = 1,
                padding: Int? = nil, bias: Bool = true, rng: inout RNG) {
        precondition(inChannels > 0 && outChannels > 0 && kernel > 0, "Conv2d sizes must be positive")
        precondition(stride >= 1, "Conv2d stride must be positive")
        (self.inChannels, self.outChannels) = (inChannels, outChannels)
        (self.kernel, self.stride, self.padding) = (kernel, stride, padding ?? kernel / 2)
        weight = Parameter(name: "weight", shape: [outChannels, kernel, kernel, inChannels])
        self.bias = bias ? Parameter(name: "bias", shape: [outChannels]) : nil
        heInitialize(weight, fanIn: inChannels * kernel * kernel, rng: &rng)
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    /// Multiply-accumulates of one forward pass over an input of this size.
    public func multiplyAccumulates(height: Int, width: Int) -> Int {
        let g = geometry(height: height, width: width)
        return g.outHeight * g.outWidth * g.patchSize * outChannels
    }

    public func geometry(height: Int, width: Int) -> ConvGeometry {
        ConvGeometry(height: height, width: width, channels: inChannels, kernel: kernel, stride: stride, padding: padding)
    }

    /// Images per chunk and number of chunks: about `rowsPerChunk` rows each,
    /// and a multiple of the worker count when there are enough images, so
    /// the fixed assignment of `Parallel.forEach` keeps every core busy.
    private func chunking(images: Int, rowsPerImage: Int) -> (perChunk: Int, chunks: Int) {
        let workers = Parallel.threads
        var chunks = (images + max(1, Conv2d.rowsPerChunk / max(rowsPerImage, 1)) - 1) / max(1, Conv2d.rowsPerChunk / max(rowsPerImage, 1))
        chunks = min(images, (chunks + workers - 1) / workers * workers)
        let perChunk = (images + chunks - 1) / chunks
        return (perChunk, (images + perChunk - 1) / perChunk)
    }

    /// The direct plan and kernels for this input size, or nil when the
    /// chosen algorithm is gemm or its kernels cannot run the forward pass.
    private func directPlan(_ g: ConvGeometry) -> (plan: DirectPlan, kernels: DirectKernels)? {
        let algorithm = chosenAlgorithm(g)
        guard algorithm.isAvailable, let kernels = algorithm.kernels, fits(kernels, g) else { return nil }
        if let plan, plan.geometry == g { return (plan, kernels) }
        plan = DirectPlan(g, outChannels: outChannels)
        return (plan!, kernels)
    }

    /// Whether these direct kernels can compute the forward pass of this shape.
    private func fits(_ kernels: DirectKernels, _ g: ConvGeometry) -> Bool {
        outChannels % kernels.channelMultiple == 0 && padding < kernel && !g.isPointwise
    }

    /// The algorithms that can compute this shape on this CPU (the measured choice's candidates).
    private func candidates(_ g: ConvGeometry) -> [ConvolutionAlgorithm] {
        ConvolutionAlgorithm.candidates.filter { a in a.kernels.map { fits($0, g) } ?? true }
    }

    /// This layer's algorithm for inputs of geometry `g`: its own, the forced
    /// one, or the measured choice for the shape. The choice does not depend
    /// on how many images a pass has (sub-batches vary from step to step), so
    /// a layer computes every pass of a run with the same algorithm.
    private func chosenAlgorithm(_ g: ConvGeometry) -> ConvolutionAlgorithm {
        if let algorithm { return algorithm }
        if let forced = ConvolutionChoices.forced { return forced }
        if let known = measuredChoice, known.geometry == g { return known.algorithm }
        let candidates = candidates(g)
        let chosen = candidates.count < 2 ? candidates.first ?? .gemm
            : ConvolutionChoices.shared.algorithm(for: shapeKey(g)) { measure(g, candidates, images: imagesPerPass(rowsPerImage: g.outHeight * g.outWidth)) }
        measuredChoice = (g, chosen)
        return chosen
    }

    /// The images a measurement runs: a chunk for each worker, as a full batch
    /// keeps them busy (at most 64).
    private func imagesPerPass(rowsPerImage: Int) -> Int {
        min(64, max(1, Conv2d.rowsPerChunk / max(rowsPerImage, 1)) * Parallel.threads)
    }

    /// The cache key of a shape: "k3 s1 p1 16>32 32x32 t2" (kernel, stride, padding, channels, input size, threads).
    public func shapeKey(_ g: ConvGeometry) -> String {
        "k\(kernel) s\(stride) p\(padding) \(inChannels)>\(outChannels) \(g.height)x\(g.width) t\(Parallel.threads)"
    }

    /// Seconds of one forward + backward pass of each algorithm that fits the
    /// shape, on a scratch layer of this layer's shape and random data: after
    /// a warm-up pass each, five rounds that run every candidate in turn, and
    /// the best time of each. Interleaving keeps a burst of load on a shared
    /// machine from favouring whichever candidate it did not hit.
    private func measure(_ g: ConvGeometry, _ candidates: [ConvolutionAlgorithm], images: Int) -> [(ConvolutionAlgorithm, Double)] {
        var rng = RNG(seed: 0xC0DE)
        let scratch = Conv2d(inChannels, outChannels, kernel: kernel, stride: stride, padding: padding, bias: bias != nil, rng: &rng)
        scratch.computesInputGradient = computesInputGradient
        let x = Tensor(shape: [images, g.height, g.width, inChannels]), dy = Tensor(shape: [images, g.outHeight, g.outWidth, outChannels])
        rng.fillUniform(x, -1, 1)
        rng.fillUniform(dy, -1, 1)
        var best = [Double](repeating: .infinity, count: candidates.count)
        for round in 0..<6 {
            for (k, algorithm) in candidates.enumerated() {
                scratch.algorithm = algorithm
                let start = DispatchTime.now().uptimeNanoseconds
                guard (try? scratch.forward(x, training: true)) != nil, (try? scratch.backward(dy)) != nil else { continue }
                if round > 0 { best[k] = min(best[k], Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
            }
        }
        return Array(zip(candidates, best))
    }

    /// The algorithm a pass over inputs of this size uses (choosing it now if it was not yet).
    public func algorithm(height: Int, width: Int) -> ConvolutionAlgorithm {
        let g = geometry(height: height, width: width)
        return directPlan(g) == nil ? .gemm : chosenAlgorithm(g)
    }

    /// Writes the output and/or the input gradient into these tensors from now
    /// on, instead of the layer's own: a network shares one tensor among
    /// layers whose results are consumed at once, to save memory.
    public func useSharedBuffers(output: Tensor? = nil, inputGradient: Tensor? = nil) {
        if let output { self.output = output }
        if let inputGradient { self.inputGradient = inputGradient }
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        try forward(x, weights: weight.value.data, bias: bias?.value.data)
    }

    /// Forward with other weights ([Cout][k][k][Cin]) and bias of this layer's
    /// shape: batch norm folded into the convolution for inference.
    public func forward(_ x: Tensor, weights w: UnsafePointer<Float>, bias b: UnsafePointer<Float>?) throws -> Tensor {
        try forward(x, weights: w, bias: b, addingTo: nil)
    }

    /// Forward with other weights whose result goes into `target` (of the
    /// output's shape), added to it (`accumulate`) or written over it, with an
    /// optional ReLU after the addition; returns the target. The direct kernel
    /// does this as it stores its tiles, which saves writing the output and
    /// reading it back.
    public func forward(_ x: Tensor, weights w: UnsafePointer<Float>, bias b: UnsafePointer<Float>?, addingTo target: Tensor?,
                        accumulate: Bool = true, relu: Bool = false) throws -> Tensor {
        try ShapeError.check(x, rank: 4, "Conv2d", layout: "(N, H, W, C)")
        try ShapeError.check(x, axis: 3, is: inChannels, "Conv2d", what: "input channels")
        let g = geometry(height: x.shape[1], width: x.shape[2])
        guard g.outHeight > 0 && g.outWidth > 0 else {
            throw ShapeError("Conv2d: a \(kernel)x\(kernel) kernel does not fit a \(g.height)x\(g.width) input with padding \(padding)")
        }
        input = x
        let images = x.shape[0], rowsPerImage = g.outHeight * g.outWidth, k = g.patchSize
        let shape = [images, g.outHeight, g.outWidth, outChannels]
        if let target, target.shape != shape {
            throw ShapeError("Conv2d: cannot add a \(shape) result to a tensor of shape \(target.shape)")
        }
        let (perChunk, chunks) = chunking(images: images, rowsPerImage: rowsPerImage)
        let cout = outChannels, imageSize = g.height * g.width * g.channels

        if let (plan, kernels) = directPlan(g) {
            let y = target ?? output
            y.reshape(shape)
            let packed = packForwardWeights(plan, kernels: kernels, weights: w), xData = x.data, yData = y.data
            Parallel.forEach(chunks) { chunk, worker in
                let first = chunk * perChunk
                directForward(plan, kernels: kernels, x: xData, y: yData, packed: packed, bias: b, accumulate: target != nil && accumulate, relu: relu,
                              first: first, count: min(perChunk, images - first), worker: worker)
            }
            return y
        }
        output.reshape(shape)
        let xData = x.data, yData = output.data
        defer {
            if let target {
                if accumulate { Elementwise.add(target.data, output.data, count: output.count) }
                else { Elementwise.copy(target.data, output.data, count: output.count) }
                if relu { Elementwise.reluInPlace(target.data, count: target.count) }
            } else if relu {
                Elementwise.reluInPlace(output.data, count: output.count)
            }
        }
        Parallel.forEach(chunks) { chunk, worker in
            let first = chunk * perChunk, count = min(perChunk, images - first)
            let rows = count * rowsPerImage
            let y = yData + first * rowsPerImage * cout
            var columns = UnsafePointer(xData + first * imageSize)
            if !g.isPointwise {
                let buffer = Workspace.shared.buffer(worker: worker, slot: ConvSlot.columns, count: rows * k)
                g.im2col(columns, images: count, into: buffer)
                columns = UnsafePointer(buffer)
            }
            if let b {
                for r in 0..<rows { (y + r * cout).update(from: b, count: cout) }
            }
            BLAS.sgemm(transposeB: true, m: rows, n: cout, k: k, a: columns, lda: k,
                       b: w, ldb: k, beta: b == nil ? 0 : 1, c: y, ldc: cout)
        }
        return target ?? output
    }

    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        let x = try savedInput(input, "Conv2d")
        try ShapeError.check(outputGradient, sameShapeAs: output, "Conv2d backward")
        let g = geometry(height: x.shape[1], width: x.shape[2])
        let images = x.shape[0], rowsPerImage = g.outHeight * g.outWidth, k = g.patchSize
        let cout = outChannels, cin = inChannels, imageSize = g.height * g.width * cin
        let weightSize = cout * k
        let (perChunk, chunks) = chunking(images: images, rowsPerImage: rowsPerImage)
        let workers = min(Parallel.threads, chunks)
        let withInput = computesInputGradient, withBias = bias != nil
        inputGradient.reshape(x.shape)
        if !withInput { inputGradient.fill(0) }
        let direct = directPlan(g)
        let directInput = direct.map { !withInput || cin % $0.kernels.channelMultiple == 0 } ?? false

        // Each worker accumulates its own weight and bias gradient (slot
        // weightGradient: [Cout][K] for gemm, [K][Cout] for direct, then Cout
        // bias sums); they are added up in worker order below.
        for worker in 0..<workers {
            Workspace.shared.buffer(worker: worker, slot: ConvSlot.weightGradient, count: weightSize + cout)
                .update(repeating: 0, count: weightSize + cout)
        }
        let xData = x.data, dyData = outputGradient.data, dxData = inputGradient.data, w = weight.value.data
        let packed = directInput && withInput ? direct.map { packInputGradientWeights($0.plan, kernels: $0.kernels) } : nil
        Parallel.forEach(chunks) { chunk, worker in
            let first = chunk * perChunk, count = min(perChunk, images - first)
            let rows = count * rowsPerImage
            let dy = dyData + first * rowsPerImage * cout
            let partial = Workspace.shared.buffer(worker: worker, slot: ConvSlot.weightGradient, count: weightSize + cout)
            if withBias {
                let db = partial + weightSize
                for r in 0..<rows { addVectors(db, dy + r * cout, count: cout) }
            }
            if let direct, directInput {
                directBackward(direct.plan, kernels: direct.kernels, x: xData, dy: dyData, dx: dxData, packed: packed, gradient: partial,
                               first: first, count: count, worker: worker)
                return
            }
            var columns = UnsafePointer(xData + first * imageSize)
            if !g.isPointwise {
                let buffer = Workspace.shared.buffer(worker: worker, slot: ConvSlot.columns, count: rows * k)
                g.im2col(columns, images: count, into: buffer)
                columns = UnsafePointer(buffer)
            }
            // dW (Cout × K) += dyᵀ (Cout × rows) · col (rows × K)
            BLAS.sgemm(transposeA: true, m: cout, n: k, k: rows, a: dy, lda: cout,
                       b: columns, ldb: k, beta: 1, c: partial, ldc: k)
            guard withInput else { return }
            let dx = dxData + first * imageSize
            if g.isPointwise {
                // dx (rows × Cin) = dy (rows × Cout) · W (Cout × Cin)
                BLAS.sgemm(m: rows, n: cin, k: cout, a: dy, lda: cout, b: w, ldb: k, c: dx, ldc: cin)
            } else {
                let dcol = Workspace.shared.buffer(worker: worker, slot: ConvSlot.columnGradient, count: rows * k)
                BLAS.sgemm(m: rows, n: k, k: cout, a: dy, lda: cout, b: w, ldb: k, c: dcol, ldc: k)
                dx.update(repeating: 0, count: count * imageSize)
                g.col2im(dcol, images: count, addingInto: dx)
            }
        }
        let transposed = direct != nil && directInput
        for worker in 0..<workers {
            let partial = Workspace.shared.buffer(worker: worker, slot: ConvSlot.weightGradient, count: weightSize + cout)
            if transposed, let direct {
                // [live tap][Cin][Cout] → [Cout][k·k][Cin]; dead taps have no gradient.
                let dw = weight.gradient.data
                for (j, tap) in direct.plan.liveTaps.enumerated() {
                    for c in 0..<cin {
                        let source = partial + (j * cin + c) * cout, column = Int(tap) * cin + c
                        for o in 0..<cout { dw[o * k + column] += source[o] }
                    }
                }
            } else {
                addVectors(weight.gradient.data, partial, count: weightSize)
            }
            if let bias { addVectors(bias.gradient.data, partial + weightSize, count: cout) }
        }
        return inputGradient
    }
}
