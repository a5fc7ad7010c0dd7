import Foundation
import Tensor

/// 2-D convolution with a square kernel, stride and zero padding.
///
///     x is (N, H, W, Cin), y is (N, Ho, Wo, Cout), weight is (Cout, k, k, Cin)
///
/// Its three passes (forward, input gradient, weight gradient) are computed
/// by registered `ConvolutionAlgorithm`s, each pass by its own: the layer's
/// `algorithm` where it applies, else the context's forced one, else the one
/// measured fastest for the shape (`ConvolutionChoices`); gemm where the
/// chosen one does not apply. A pass is split into chunks of whole images
/// spread over the context's threads; each worker uses its own scratch space
/// in the context's `Workspace` and single-threaded kernels, which beats one
/// multi-threaded sgemm at these small M/N/K.
public final class Conv2d: Layer {
    public let inChannels: Int, outChannels: Int
    public let kernel: Int, stride: Int, padding: Int
    public let weight: Parameter
    public let bias: Parameter?
    /// Threads, workspace and convolution choices.
    public let context: ExecutionContext
    /// When false, backward skips the input gradient and returns zeros (the
    /// first layer of a network, whose input is data).
    public var computesInputGradient = true

    /// The algorithm this layer uses for every pass it applies to; nil (the
    /// default): the forced or measured one.
    public var algorithm: (any ConvolutionAlgorithm)? {
        didSet { chosen = nil }
    }

    /// The algorithms and plans of each pass for the last input size.
    private struct Chosen {
        let geometry: ConvGeometry
        let algorithms: [ConvolutionPass: any ConvolutionAlgorithm]
        let plans: [ConvolutionPass: any ConvolutionPlan]
    }
    private var chosen: Chosen?

    private var output = Tensor(shape: [0])
    private var inputGradient = Tensor(shape: [0])
    private var input: Tensor?

    /// Target rows (output pixels) per chunk: big enough for an efficient
    /// sgemm, small enough that the column matrix stays in cache.
    public static let rowsPerChunk = 2048

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int = 3, stride: Int = 1,
                padding: Int? = nil, bias: Bool = true, rng: inout RNG, context: ExecutionContext) {
        precondition(inChannels > 0 && outChannels > 0 && kernel > 0, "Conv2d sizes must be positive")
        precondition(stride >= 1, "Conv2d stride must be positive")
        (self.inChannels, self.outChannels) = (inChannels, outChannels)
        (self.kernel, self.stride, self.padding) = (kernel, stride, padding ?? kernel / 2)
        self.context = context
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

    private func shape(_ g: ConvGeometry) -> ConvolutionShape { ConvolutionShape(g, outChannels: outChannels) }

    /// Images per chunk and number of chunks: about `rowsPerChunk` rows each,
    /// and a multiple of the worker count when there are enough images, so
    /// the fixed assignment of `Parallel.forEach` keeps every core busy.
    private func chunking(images: Int, rowsPerImage: Int) -> (perChunk: Int, chunks: Int) {
        let workers = context.threads
        let target = max(1, Conv2d.rowsPerChunk / max(rowsPerImage, 1))
        var chunks = (images + target - 1) / target
        chunks = min(images, (chunks + workers - 1) / workers * workers)
        let perChunk = (images + chunks - 1) / chunks
        return (perChunk, (images + perChunk - 1) / perChunk)
    }

    /// The passes a layer computes: the input gradient only when asked for.
    private var passes: [ConvolutionPass] {
        computesInputGradient ? ConvolutionPass.allCases : [.forward, .weightGradient]
    }

    /// The algorithms and plans for inputs of geometry `g`, chosen now if the size changed.
    private func choose(_ g: ConvGeometry) -> Chosen {
        if let chosen, chosen.geometry == g { return chosen }
        var algorithms = [ConvolutionPass: any ConvolutionAlgorithm](), plans = [ConvolutionPass: any ConvolutionPlan]()
        var byName = [String: any ConvolutionPlan]()
        for pass in ConvolutionPass.allCases {
            let a = algorithm(for: pass, g)
            algorithms[pass] = a
            let plan = byName[a.name] ?? a.plan(shape(g))
            byName[a.name] = plan
            plans[pass] = plan
        }
        chosen = Chosen(geometry: g, algorithms: algorithms, plans: plans)
        return chosen!
    }

    /// This layer's algorithm for one pass at geometry `g`: its own, the
    /// forced one, or the measured choice for the shape, where it applies;
    /// gemm otherwise. The choice does not depend on how many images a pass
    /// has (sub-batches vary from step to step), so a layer computes every
    /// pass of a run with the same algorithm.
    private func algorithm(for pass: ConvolutionPass, _ g: ConvGeometry) -> any ConvolutionAlgorithm {
        let shape = shape(g)
        if let fixed = algorithm ?? context.convolutions.forced {
            return fixed.isAvailable && fixed.supports(pass, shape) ? fixed : ConvolutionAlgorithms.gemm
        }
        let candidates = ConvolutionAlgorithms.available.filter { $0.isMeasured && $0.supports(pass, shape) }
        guard candidates.count > 1, passes.contains(pass) else { return candidates.first ?? ConvolutionAlgorithms.gemm }
        return context.convolutions.algorithm(for: shapeKey(g), threads: context.threads, pass) {
            measure(pass, g, candidates, images: imagesPerPass(rowsPerImage: g.outHeight * g.outWidth))
        }
    }

    /// The images a measurement runs: a chunk for each worker, as a full batch
    /// keeps them busy (at most 64).
    private func imagesPerPass(rowsPerImage: Int) -> Int {
        min(64, max(1, Conv2d.rowsPerChunk / max(rowsPerImage, 1)) * context.threads)
    }

    /// The cache key of a shape: "k3 s1 p1 16>32 32x32" (kernel, stride, padding, channels, input size).
    public func shapeKey(_ g: ConvGeometry) -> String {
        "k\(kernel) s\(stride) p\(padding) \(inChannels)>\(outChannels) \(g.height)x\(g.width)"
    }

    /// Seconds of one pass of each candidate, on a scratch layer of this
    /// layer's shape and random data: after a warm-up pass each, five rounds
    /// that run every candidate in turn, and the best time of each.
    /// Interleaving keeps a burst of load on a shared machine from favouring
    /// whichever candidate it did not hit.
    private func measure(_ pass: ConvolutionPass, _ g: ConvGeometry, _ candidates: [any ConvolutionAlgorithm],
                         images: Int) -> [(any ConvolutionAlgorithm, Double)] {
        var rng = RNG(seed: 0xC0DE)
        let scratch = Conv2d(inChannels, outChannels, kernel: kernel, stride: stride, padding: padding, bias: bias != nil,
                             rng: &rng, context: context)
        scratch.computesInputGradient = computesInputGradient
        let x = Tensor(shape: [images, g.height, g.width, inChannels]), dy = Tensor(shape: [images, g.outHeight, g.outWidth, outChannels])
        rng.fillUniform(x, -1, 1)
        rng.fillUniform(dy, -1, 1)
        var best = [Double](repeating: .infinity, count: candidates.count)
        for round in 0..<6 {
            for (k, algorithm) in candidates.enumerated() {
                scratch.algorithm = algorithm
                guard (try? scratch.forward(x, training: true)) != nil else { continue }
                let start = DispatchTime.now().uptimeNanoseconds
                switch pass {
                case .forward: _ = try? scratch.forward(x, training: true)
                case .inputGradient: scratch.runBackward(dy, x: x, weightGradient: false, inputGradient: true)
                case .weightGradient: scratch.runBackward(dy, x: x, weightGradient: true, inputGradient: false)
                }
                if round > 0 { best[k] = min(best[k], Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
            }
        }
        return Array(zip(candidates, best))
    }

    /// The algorithm of each pass over inputs of this size (choosing them now if they were not yet).
    public func algorithms(height: Int, width: Int) -> [ConvolutionPass: any ConvolutionAlgorithm] {
        choose(geometry(height: height, width: width)).algorithms
    }

    /// The algorithms of this size in a word: "direct512", or "direct512/gemm/direct512"
    /// (forward / input gradient / weight gradient) when the passes differ.
    public func algorithmSummary(height: Int, width: Int) -> String {
        let a = algorithms(height: height, width: width)
        let names = passes.map { a[$0]!.name }
        return Set(names).count == 1 ? names[0] : ConvolutionPass.allCases.map { a[$0]!.name }.joined(separator: "/")
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
        let images = x.shape[0], rowsPerImage = g.outHeight * g.outWidth
        let outShape = [images, g.outHeight, g.outWidth, outChannels]
        if let target, target.shape != outShape {
            throw ShapeError("Conv2d: cannot add a \(outShape) result to a tensor of shape \(target.shape)")
        }
        let (perChunk, chunks) = chunking(images: images, rowsPerImage: rowsPerImage)
        let plan = choose(g).plans[.forward]!, workspace = context.workspace
        plan.prepare(.forward, weights: w, workspace: workspace, threads: context.threads)
        let fused = plan.fusesOutput
        let y = fused ? target ?? output : output
        y.reshape(outShape)
        let xData = x.data, yData = y.data
        Parallel.forEach(chunks, threads: context.threads) { chunk, worker in
            let first = chunk * perChunk
            plan.forward(x: xData, weights: w, bias: b, y: yData, accumulate: fused && target != nil && accumulate, relu: fused && relu,
                         first: first, count: min(perChunk, images - first), worker: worker, workspace: workspace)
        }
        guard !fused else { return y }
        let threads = context.threads
        if let target {
            if accumulate { Elementwise.add(target.data, output.data, count: output.count, threads: threads) }
            else { Elementwise.copy(target.data, output.data, count: output.count, threads: threads) }
            if relu { Elementwise.reluInPlace(target.data, count: target.count, threads: threads) }
        } else if relu {
            Elementwise.reluInPlace(output.data, count: output.count, threads: threads)
        }
        return target ?? output
    }

    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        let x = try savedInput(input, "Conv2d")
        try ShapeError.check(outputGradient, sameShapeAs: output, "Conv2d backward")
        inputGradient.reshape(x.shape)
        if !computesInputGradient { inputGradient.fill(0) }
        runBackward(outputGradient, x: x, weightGradient: true, inputGradient: computesInputGradient)
        return inputGradient
    }

    /// The backward passes of `dy` in one sweep over the chunks (each chunk:
    /// bias and weight gradient, then input gradient), each pass with its own
    /// plan. The weight and bias gradients are added into the parameters':
    /// each worker accumulates its own partial sums (slot weightGradient: the
    /// plan's layout, `partialFloats`, then Cout bias sums), added up in worker order,
    /// so the result does not depend on timing. The input gradient goes into
    /// `inputGradient`. (The measured choice times one pass at a time.)
    private func runBackward(_ dy: Tensor, x: Tensor, weightGradient withWeights: Bool, inputGradient withInput: Bool) {
        let g = geometry(height: x.shape[1], width: x.shape[2]), images = x.shape[0]
        let rowsPerImage = g.outHeight * g.outWidth, cout = outChannels
        let (perChunk, chunks) = chunking(images: images, rowsPerImage: rowsPerImage)
        let workers = min(context.threads, chunks)
        let chosen = choose(g), plans = chosen.plans, workspace = context.workspace, w = weight.value.data
        let weightSize = chosen.algorithms[.weightGradient]!.partialFloats(shape(g))
        let weightPlan = plans[.weightGradient]!, inputPlan = plans[.inputGradient]!
        if withInput {
            inputGradient.reshape(x.shape)
            inputPlan.prepare(.inputGradient, weights: w, workspace: workspace, threads: context.threads)
        }
        if withWeights {
            for worker in 0..<workers {
                workspace.buffer(worker: worker, slot: ConvSlot.weightGradient, count: weightSize + cout)
                    .update(repeating: 0, count: weightSize + cout)
            }
        }
        let xData = x.data, dyData = dy.data, dxData = inputGradient.data, withBias = bias != nil
        Parallel.forEach(chunks, threads: context.threads) { chunk, worker in
            let first = chunk * perChunk, count = min(perChunk, images - first)
            if withWeights {
                let partial = workspace.buffer(worker: worker, slot: ConvSlot.weightGradient, count: weightSize + cout)
                if withBias {
                    let db = partial + weightSize, chunkDy = dyData + first * rowsPerImage * cout
                    for r in 0..<count * rowsPerImage { addVectors(db, chunkDy + r * cout, count: cout) }
                }
                weightPlan.weightGradient(x: xData, dy: dyData, partial: partial, first: first, count: count, worker: worker, workspace: workspace)
            }
            if withInput {
                inputPlan.inputGradient(dy: dyData, weights: w, dx: dxData, first: first, count: count, worker: worker, workspace: workspace)
            }
        }
        guard withWeights else { return }
        for worker in 0..<workers {
            let partial = workspace.buffer(worker: worker, slot: ConvSlot.weightGradient, count: weightSize + cout)
            weightPlan.addWeightGradient(partial, into: weight.gradient.data)
            if let bias { addVectors(bias.gradient.data, partial + weightSize, count: cout) }
        }
    }
}
