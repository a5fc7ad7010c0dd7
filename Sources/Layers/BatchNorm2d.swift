import CKernels
import Tensor

/// Batch normalisation over the channels of NHWC images (or of (N, C) rows).
///
///     x, y are (N, H, W, C); statistics are per channel over the N·H·W rows
///     x̂ = (x − μ) / sqrt(σ² + eps),   y = γ · x̂ + β
///
/// Training mode uses the batch's mean and (biased) variance and updates the
/// running statistics with `momentum` (running = (1 − m)·running + m·batch,
/// the unbiased variance, as PyTorch). Inference mode uses the running ones.
/// With `rectifies`, a ReLU follows in the same passes: y = max(0, γ · x̂ + β),
/// and backward takes dy only where y > 0 (the ReLU's backward, fused).
public final class BatchNorm2d: Layer {
    /// Its workspace buffers: the folded scale and shift, the batch's sums, a worker's row accumulators (`reducePerChannel`).
    static let scaleAndShiftSlot = WorkspaceSlot(BatchNorm2d.self, 0), sumsSlot = WorkspaceSlot(BatchNorm2d.self, 1)
    static let rowSlot = WorkspaceSlot(BatchNorm2d.self, 2)

    public let channels: Int
    public let rectifies: Bool
    public let momentum: Float, epsilon: Float
    public let scale: Parameter   // γ, starts at 1
    public let shift: Parameter   // β, starts at 0
    public let runningMean: Tensor
    public let runningVariance: Tensor
    public var buffers: [Tensor] { [runningMean, runningVariance] }

    private var output = Tensor(shape: [0])
    private var inputGradient = Tensor(shape: [0])
    private let mean: Tensor, inverseStd: Tensor
    private var input: Tensor?
    private var lastForwardWasTraining = false
    /// Rows the last training statistics were taken over (all ranks' with sync).
    private var statisticsRows = 1.0
    /// Per-channel Double sums (2 per channel), reused by every call.
    private let totals: UnsafeMutablePointer<Double>
    /// Threads, workspace, and the ranks the statistics are taken over with sync-bn.
    public let context: ExecutionContext

    /// With sync-bn on more than one rank (data-parallel training): training
    /// statistics and the backward's per-channel sums are summed over all
    /// ranks, so a step equals one process's step on the whole batch. Every
    /// rank must then run every batch norm of the step, in the same order.
    private var synchronises: Bool { context.synchronisedBatchNorm && context.communicator.distributed }

    public init(_ channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5, relu: Bool = false, context: ExecutionContext) {
        self.channels = channels
        rectifies = relu
        self.context = context
        (self.momentum, self.epsilon) = (momentum, epsilon)
        scale = Parameter(name: "scale", shape: [channels])
        shift = Parameter(name: "shift", shape: [channels])
        scale.value.fill(1)
        runningMean = Tensor(shape: [channels])
        runningVariance = Tensor(shape: [channels])
        runningVariance.fill(1)
        mean = Tensor(shape: [channels])
        inverseStd = Tensor(shape: [channels])
        totals = .allocate(capacity: 2 * channels)
    }

    deinit { totals.deallocate() }

    public var parameters: [Parameter] { [scale, shift] }

    /// Writes the output and/or the input gradient into these tensors from now
    /// on, instead of the layer's own: a network shares one tensor among
    /// layers whose results are consumed at once, to save memory.
    public func useSharedBuffers(output: Tensor? = nil, inputGradient: Tensor? = nil) {
        if let output { self.output = output }
        if let inputGradient { self.inputGradient = inputGradient }
    }

    public func forward(_ x: Tensor, training: Bool) throws -> Tensor {
        output.reshape(x.shape)
        try normalise(x, training: training, into: output, accumulate: false, relu: rectifies)
        masksGradient = rectifies
        return output
    }

    /// `forward` into `target` (of x's shape): the result is added to it
    /// (`accumulate`) or written over it, then a ReLU if `relu`. Backward
    /// then takes the gradient of the result before that ReLU (the caller
    /// applies the ReLU's backward), whatever `rectifies` says.
    public func forward(_ x: Tensor, training: Bool, into target: Tensor, accumulate: Bool, relu: Bool) throws {
        try normalise(x, training: training, into: target, accumulate: accumulate, relu: relu)
        masksGradient = false
    }

    /// Whether backward applies the ReLU's backward (the output is the layer's own, rectified).
    private var masksGradient = false

    private func normalise(_ x: Tensor, training: Bool, into target: Tensor, accumulate: Bool, relu: Bool) throws {
        guard x.rank >= 2 else { throw ShapeError("BatchNorm2d: expected (N, H, W, C) or (N, C), got shape \(x.shape)") }
        try ShapeError.check(x, axis: -1, is: channels, "BatchNorm2d", what: "channels")
        input = x
        let c = channels, rows = x.count / c
        lastForwardWasTraining = training
        if training {
            guard rows > 0 else { throw ShapeError("BatchNorm2d: empty batch in training mode") }
            // One pass: sums of (x − s) and (x − s)² per channel, shifted by the first row s so
            // the variance E[(x − s)²] − E[x − s]² does not cancel catastrophically.
            let xData = x.data, mu = mean.data, sums = totals, shift = inverseStd.data
            shift.update(from: xData, count: c)
            context.reducePerChannel(rows: rows, width: 2 * c, into: sums) { range, acc in
                guard bsn_bn_sums(xData + range.lowerBound * c, shift, range.count, Int32(c), acc) == 0 else { return }
                for r in range {
                    let xr = xData + r * c
                    for j in 0..<c {
                        let d = xr[j] - shift[j]
                        acc[j] += d
                        acc[c + j] += d * d
                    }
                }
            }
            var count = Double(rows)
            if synchronises {
                // Every rank's Σx and Σx² (from its shifted sums) and row count, summed; then centred on 0.
                var all = [Double](repeating: 0, count: 2 * c + 1)
                for j in 0..<c {
                    let s = Double(shift[j]), d = sums[j], d2 = sums[c + j]
                    all[j] = d + Double(rows) * s
                    all[c + j] = d2 + 2 * s * d + Double(rows) * s * s
                }
                all[2 * c] = Double(rows)
                context.communicator.sum(&all)
                count = all[2 * c]
                for j in 0..<c { (shift[j], sums[j], sums[c + j]) = (0, all[j], all[c + j]) }
            }
            for j in 0..<c {
                let m = sums[j] / count
                mu[j] = shift[j] + Float(m)
                sums[j] = max(0, sums[c + j] / count - m * m)     // the biased variance
            }
            statisticsRows = count
            let unbiased = count > 1 ? Float(count) / Float(count - 1) : 1
            for j in 0..<c {
                let variance = Float(sums[j])
                inverseStd[j] = 1 / (variance + epsilon).squareRoot()
                runningMean[j] = (1 - momentum) * runningMean[j] + momentum * mu[j]
                runningVariance[j] = (1 - momentum) * runningVariance[j] + momentum * variance * unbiased
            }
        } else {
            for j in 0..<c {
                mean[j] = runningMean[j]
                inverseStd[j] = 1 / (runningVariance[j] + epsilon).squareRoot()
            }
        }
        try ShapeError.check(target, sameShapeAs: x, "BatchNorm2d output")
        // y = x · a + b per channel, with a = γ/σ and b = β − μ·a.
        let a = context.workspace.buffer(worker: 0, slot: Self.scaleAndShiftSlot, count: 2 * c), b = a + c
        for j in 0..<c {
            a[j] = scale.value[j] * inverseStd[j]
            b[j] = shift.value[j] - mean[j] * a[j]
        }
        let xData = x.data, yData = target.data, flags = Int32((accumulate ? 1 : 0) | (relu ? 2 : 0))
        context.forEachRowRange(rows) { range in
            guard bsn_bn_affine(xData + range.lowerBound * c, yData + range.lowerBound * c, a, b, range.count, Int32(c), flags) == 0 else { return }
            for r in range {
                let xr = xData + r * c, yr = yData + r * c
                for j in 0..<c {
                    var v = xr[j] * a[j] + b[j]
                    if accumulate { v += yr[j] }
                    yr[j] = relu && v < 0 ? 0 : v            // a NaN stays, as in the kernels
                }
            }
        }
    }

    public func backward(_ outputGradient: Tensor) throws -> Tensor {
        let x = try savedInput(input, "BatchNorm2d")
        try ShapeError.check(outputGradient, sameShapeAs: x, "BatchNorm2d backward")
        let c = channels, rows = x.count / c
        // Σ dy and Σ dy·x̂ per channel; x̂ is recomputed from x, μ and 1/σ.
        let sums = context.workspace.buffer(worker: 0, slot: Self.sumsSlot, count: 2 * c)
        sums.update(repeating: 0, count: 2 * c)
        let sumDy = sums, sumDyXhat = sums + c
        let (dyData, xData, mu, inv) = (outputGradient.data, x.data, mean.data, inverseStd.data)
        // The fused ReLU's backward: dy only where the output is positive.
        let mask: UnsafePointer<Float>? = masksGradient ? UnsafePointer(output.data) : nil
        func dy(_ i: Int) -> Float {
            if let mask, !(mask[i] > 0) { return 0 }
            return dyData[i]
        }
        let partial = totals
        context.reducePerChannel(rows: rows, width: 2 * c, into: partial) { range, acc in
            let first = range.lowerBound * c
            guard bsn_bn_backward_sums(dyData + first, xData + first, mu, inv, range.count, Int32(c), acc, mask.map { $0 + first }) == 0 else { return }
            for r in range {
                let xr = xData + r * c
                for j in 0..<c {
                    acc[j] += dy(r * c + j)
                    acc[c + j] += dy(r * c + j) * (xr[j] - mu[j]) * inv[j]
                }
            }
        }
        for j in 0..<c {
            sumDy[j] = Float(partial[j])
            sumDyXhat[j] = Float(partial[c + j])
            // The parameters' gradients are this rank's part (the trainer sums them across ranks).
            shift.gradient[j] += sumDy[j]
            scale.gradient[j] += sumDyXhat[j]
        }
        if synchronises && lastForwardWasTraining {
            // The input gradient needs the sums over the whole batch, as the statistics were.
            var all = (0..<(2 * c)).map { partial[$0] }
            context.communicator.sum(&all)
            for j in 0..<c { (sumDy[j], sumDyXhat[j]) = (Float(all[j]), Float(all[c + j])) }
        }
        inputGradient.reshape(x.shape)
        let dxData = inputGradient.data, gamma = scale.value.data
        // Training: dx = γ/σ · (dy − Σdy/M − x̂ · Σdy·x̂/M); inference: dx = γ/σ · dy.
        let centre: Float = lastForwardWasTraining ? 1 / Float(statisticsRows) : 0
        context.forEachRowRange(rows) { range in
            let first = range.lowerBound * c
            guard bsn_bn_backward_dx(dyData + first, xData + first, mu, inv, gamma, sumDy, sumDyXhat, centre, range.count, Int32(c),
                                     dxData + first, mask.map { $0 + first }) == 0 else { return }
            for r in range {
                let xr = xData + r * c, dx = dxData + r * c
                for j in 0..<c {
                    let xhat = (xr[j] - mu[j]) * inv[j]
                    dx[j] = gamma[j] * inv[j] * (dy(r * c + j) - centre * (sumDy[j] + xhat * sumDyXhat[j]))
                }
            }
        }
        return inputGradient
    }
}

extension ExecutionContext {
/// Runs `body` over row ranges of `rows` (at least 64 rows each), in parallel.
func forEachRowRange(_ rows: Int, _ body: (Range<Int>) -> Void) {
    let blocks = Parallel.ranges(rows, parts: min(threads * 4, max(1, rows / 64)))
    Parallel.forEach(blocks.count, threads: threads) { i, _ in body(blocks[i]) }
}

/// Sums per-channel values over rows into `result` (`width` Doubles):
/// `body(range, acc)` adds the rows of `range` into `acc` (Float, `width`
/// wide). Blocks of 256 rows are summed in Float and combined in Double, so
/// long batches keep their precision.
func reducePerChannel(rows: Int, width: Int, into result: UnsafeMutablePointer<Double>,
                      _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
    let blockRows = 256
    let blocks = (rows + blockRows - 1) / blockRows
    let workers = max(1, min(threads, blocks))
    // Per worker: `width` Float accumulators, then `width` Doubles (2 Floats each).
    func scratch(_ worker: Int) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Double>) {
        let buffer = workspace.buffer(worker: worker, slot: BatchNorm2d.rowSlot, count: 3 * width + 2)
        let raw = UnsafeMutableRawPointer(buffer + width + 2).alignedUp(for: Double.self)
        return (buffer, raw.bindMemory(to: Double.self, capacity: width))
    }
    for w in 0..<workers { scratch(w).1.update(repeating: 0, count: width) }
    Parallel.forEach(blocks, threads: threads) { block, worker in
        let (acc, total) = scratch(worker)
        acc.update(repeating: 0, count: width)
        body(block * blockRows..<min(rows, (block + 1) * blockRows), acc)
        for j in 0..<width { total[j] += Double(acc[j]) }
    }
    result.update(repeating: 0, count: width)
    for w in 0..<workers {
        let total = scratch(w).1
        for j in 0..<width { result[j] += total[j] }
    }
}
}
