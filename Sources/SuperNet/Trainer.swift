import Foundation
import Layers
import Tensor

/// When architectures are drawn.
public enum Sampling: String, Codable, CaseIterable, Sendable {
    /// One architecture per example (the reference code's choice).
    case perExample = "example"
    /// One architecture per mini-batch. The batch-mean baseline would cancel the
    /// REINFORCE signal, so the baseline is a running mean of past batches.
    case perBatch = "batch"
}

/// What one training step measured.
public struct StepMetrics: Codable, Equatable, Sendable {
    public var step: Int
    public var sampling: Bool
    public var learningRate: Float
    public var loss: Double
    public var accuracy: Double
    /// Mean optimised cost of the architectures used in the step.
    public var sampledCost: Double
    /// Optimised cost of the deterministic architecture after the step.
    public var deterministicCost: Double
    public var gateEntropy: Double
    /// Fraction of sampled architectures with an input → output path.
    public var consistent: Double
}

/// A training step that would have made the state non-finite; the state is that of the step before.
public struct TrainingDiverged: Error, CustomStringConvertible, Equatable {
    /// The step that diverged (1 = the first).
    public let step: Int
    /// What became non-finite: "loss nan", "gradient norm inf", "weights overflow", …
    public let quantity: String
    public var description: String {
        "training diverged at step \(step) (\(quantity)); weights of step \(step - 1) kept; lower lr (set lr, or schedule)"
    }
}

/// Trains weights θ and gate parameters a together (seed, "Learning procedure"):
/// warm-up steps with every gate on and no sampling, then gate logits set to
/// 3 and architectures sampled; weights get SGD on the loss of the modules
/// each example used, gates get REINFORCE on loss + budget penalty with
/// their own learning rate (no momentum, no decay).
public final class Trainer {
    public let network: SuperNetwork
    public let executor: Executor
    public let task: LearningTask
    public let optimizer: SGD
    /// The optimizer's one group: every weight of the network (the gates have REINFORCE's update of their own).
    public let weights: ParameterGroup
    /// Learning rate of the weights, by epoch.
    public var schedule: PiecewiseConstantSchedule
    /// Steps per epoch of the data in use (turns steps into epochs for the schedule).
    public var stepsPerEpoch: Int = 1
    /// Learning rate of the gate parameters.
    public var pathLearningRate: Float = 1e-3
    public var sampling: Sampling = .perExample
    /// The cost the budget applies to (the first of `costs` by default).
    public var optimisedCost: any Cost
    public var budget: Budget?
    /// False reproduces the reference implementation: the optimised cost is that
    /// of every sampled module, connected or not, instead of the pruned architecture.
    public var costsPrunedArchitecture = true
    /// Steps with all gates on before sampling starts.
    public var warmupSteps: Int = 0
    public var rng: RNG

    public internal(set) var step = 0
    public internal(set) var samplingStarted = false
    /// The architectures used in the last step (for cost reports).
    public private(set) var lastArchitectures: [Architecture] = []

    /// Running sums of the epoch in progress (saved with the trainer, so that
    /// an epoch split across sessions gives the same row as one run).
    public internal(set) var epochTotals = EpochTotals()

    /// Threads, workspace and the ranks a step's batch is split across
    /// (data-parallel training when the communicator has more than one).
    public let context: ExecutionContext
    /// What a step changes before it is known to be finite (forward updates
    /// the batch-norm statistics; sampling may reset the gate logits), and
    /// their copy taken before each step (allocated once).
    private let guarded: [Tensor]
    private let guardedBackup: [Tensor]
    /// The batch-norm running statistics, which the ranks average after each step.
    private let statistics: [Tensor]
    /// The weight gradients summed across ranks, in buckets overlapped with
    /// backward (`allreduceBucket` bytes each; nil: `GradientBuckets.automaticBytes`),
    /// or in one all-reduce after it (0).
    public var allreduceBucket: Int? {
        didSet { if allreduceBucket != oldValue { buckets = makeBuckets() } }
    }
    public private(set) lazy var buckets = makeBuckets()
    /// Seconds the last step spent in forward and in backward (for benchmarks).
    public private(set) var lastPasses = (forward: 0.0, backward: 0.0)
    private let classification = SoftmaxCrossEntropy()
    private let pixels = PixelCrossEntropy()
    var runningBaseline: Double?

    public init(network: SuperNetwork, task: LearningTask, optimisedCost: any Cost, seed: UInt64,
                learningRate: Float = 0.1, momentum: Float = 0.9, weightDecay: Float = 1e-4, nesterov: Bool = false,
                mode: ExecutionMode = .subBatch, context: ExecutionContext) {
        self.network = network
        self.task = task
        self.optimisedCost = optimisedCost
        self.context = context
        executor = Executor(network, mode: mode, context: context)
        weights = ParameterGroup(name: "weights", parameters: network.weights, learningRate: learningRate,
                                 momentum: momentum, weightDecay: weightDecay, nesterov: nesterov)
        optimizer = SGD(groups: [weights])
        schedule = PiecewiseConstantSchedule(initial: learningRate)
        rng = RNG(seed: seed)
        statistics = network.nodes.flatMap { $0.module?.buffers ?? [] }
        guarded = statistics + [network.gateLogits.value]
        guardedBackup = guarded.map { Tensor(shape: $0.shape) }
    }

    private func makeBuckets() -> GradientBuckets {
        GradientBuckets(groups: network.nodes.map { $0.module?.parameters.map(\.gradient) ?? [] },
                        bucketBytes: allreduceBucket, communicator: context.communicator)
    }

    public var epoch: Int { step / max(stepsPerEpoch, 1) }
    public var isWarmingUp: Bool { step < warmupSteps }

    /// Starts sampling now, with every gate logit set to `logit` (3 in the
    /// paper's protocol; benchmarks use other values to fix the distribution).
    public func startSampling(logit: Float = 3) {
        network.gateLogits.value.fill(logit)
        samplingStarted = true
        warmupSteps = min(warmupSteps, step)
    }

    /// One step on a batch: `images` are (N, H, W, C) NHWC; `labels` one class
    /// per example (classification) or per pixel, −1 ignored (segmentation).
    /// With more than one rank, `images` are this rank's rows of the global
    /// batch (`Communicator.shard`), and every rank steps alike.
    ///
    /// A step that would put a non-finite value into the state (the loss, the
    /// gradients, an updated weight, velocity or gate logit, a batch-norm
    /// statistic) throws `TrainingDiverged` and changes nothing: weights,
    /// gates, optimizer, batch-norm statistics, generator and counters stay
    /// those of the last finite step.
    @discardableResult
    public func trainStep(images: Tensor, labels: [Int32]) throws -> StepMetrics {
        let snapshot = takeSnapshot()
        do {
            if !isWarmingUp && !samplingStarted { startSampling() }
            let batch = sample(rowsHere: images.shape[0])
            weights.learningRate = schedule.value(at: epoch)
            let start = DispatchTime.now().uptimeNanoseconds
            let logits = try executor.forward(images, architectures: batch.here, training: true)
            let forwardEnd = DispatchTime.now().uptimeNanoseconds
            let loss = try losses(logits, labels: labels, batch)
            try check(loss)
            let backwardStart = DispatchTime.now().uptimeNanoseconds
            try backward(batch)
            lastPasses = (Double(forwardEnd - start) / 1e9, Double(DispatchTime.now().uptimeNanoseconds - backwardStart) / 1e9)
            reduceGradients()
            try checkUpdate()
            let update = try gateUpdate(loss, batch)
            return commit(update, loss, batch)
        } catch let diverged as TrainingDiverged {
            restore(snapshot)
            throw diverged
        }
    }

    /// The scalar state a step changes before it is known to be finite; the
    /// tensors among it (`guarded`) are copied beside it.
    private struct Snapshot {
        let rng: RNG, samplingStarted: Bool, warmupSteps: Int, baseline: Double?, architectures: [Architecture]
    }

    private func takeSnapshot() -> Snapshot {
        copy(guarded, into: guardedBackup)
        return Snapshot(rng: rng, samplingStarted: samplingStarted, warmupSteps: warmupSteps, baseline: runningBaseline,
                        architectures: lastArchitectures)
    }

    private func restore(_ s: Snapshot) {
        (rng, samplingStarted, warmupSteps, runningBaseline, lastArchitectures) = (s.rng, s.samplingStarted, s.warmupSteps, s.baseline, s.architectures)
        copy(guardedBackup, into: guarded)
    }

    /// The architectures of a step's global batch of `total` examples, and
    /// those of this rank's rows [offset, offset + count).
    private struct Batch {
        let total: Int, offset: Int, count: Int
        let probabilities: [Float]
        /// One per example of the global batch, or one for all.
        let all: [Architecture]
        var here: [Architecture] { all.count == 1 ? all : Array(all[offset..<offset + count]) }
    }

    /// Draws the step's architectures for the whole batch on every rank (the
    /// same generator), as one process would.
    private func sample(rowsHere n: Int) -> Batch {
        var counts = [Double(n)]
        context.communicator.sum(&counts)
        let total = Int(counts[0]), offset = context.communicator.shard(of: total).lowerBound
        let probabilities = network.keepProbabilities
        let all: [Architecture]
        if !samplingStarted || network.gateCount == 0 {
            all = [network.fullArchitecture]
        } else if sampling == .perBatch {
            all = [network.sampleArchitecture(probabilities, rng: &rng)]
        } else {
            all = (0..<total).map { _ in network.sampleArchitecture(probabilities, rng: &rng) }
        }
        let batch = Batch(total: total, offset: offset, count: n, probabilities: probabilities, all: all)
        lastArchitectures = batch.here
        return batch
    }

    /// The per-example losses of the global batch and the accuracy counts,
    /// every rank's, so that every rank decides alike.
    private struct Losses {
        let perExample: [Float], right: Int, counted: Int, statisticsOverflow: Bool
        let mean: Double
    }

    private func losses(_ logits: Tensor, labels: [Int32], _ batch: Batch) throws -> Losses {
        let local = try computeLosses(logits, labels: labels)
        let (right, counted) = accuracyCounts(logits, labels: labels)
        let overflow = !guarded.allSatisfy({ Elementwise.allFinite($0.data, count: $0.count) })
        let all = context.communicator.gather(local.map(Double.init), at: batch.offset, total: batch.total).map(Float.init)
        var shared = [Double(right), Double(counted), overflow ? 1 : 0]
        context.communicator.sum(&shared)
        return Losses(perExample: all, right: Int(shared[0]), counted: Int(shared[1]), statisticsOverflow: shared[2] > 0,
                      mean: Double(all.reduce(0, +)) / Double(batch.total))
    }

    private func check(_ loss: Losses) throws {
        guard loss.mean.isFinite else { throw diverged("loss \(nonFinite(loss.mean))") }
        guard !loss.statisticsOverflow else { throw diverged("batch-norm statistics overflow") }
    }

    /// The weight gradients of this rank's rows of the global batch's mean
    /// loss: the loss gradient of the rows here weighs count / total (it is a mean over them).
    private func backward(_ batch: Batch) throws {
        optimizer.zeroGradients()
        let outputGradient = try lossGradient()
        let share = Float(batch.count) / Float(batch.total)
        if share != 1 { for k in 0..<outputGradient.count { outputGradient.data[k] *= share } }
        if buckets.communicator !== context.communicator { buckets = makeBuckets() }
        buckets.begin()
        try executor.backward(outputGradient, passed: buckets.backwardPassed)
    }

    /// The global batch's gradients: every rank's part summed across ranks
    /// (the buckets started during backward, then the rest).
    private func reduceGradients() {
        buckets.finish()
    }

    private func checkUpdate() throws {
        let update = optimizer.inspectUpdate()
        guard update.gradientSquaredNorm.isFinite else { throw diverged("gradient norm \(nonFinite(update.gradientSquaredNorm))") }
        guard update.finite else { throw diverged("weights overflow") }
    }

    /// The gate logits after REINFORCE's step, and the optimised cost of every
    /// sampled architecture; nil logits when no gate is learned.
    private func gateUpdate(_ loss: Losses, _ batch: Batch) throws -> (logits: [Float]?, costs: [Double]) {
        let costs = batch.all.map(optimisedCostOf)
        guard samplingStarted && network.gateCount > 0 else { return (nil, costs) }
        let logits = gateLogits(losses: loss.perExample, costs: costs, architectures: batch.all, probabilities: batch.probabilities)
        guard logits.allSatisfy(\.isFinite) else { throw diverged("gate logits overflow") }
        return (logits, costs)
    }

    /// Applies the step, now known to be finite: weights, gate logits, and
    /// batch-norm statistics averaged across ranks (each computed them on
    /// its own rows), so that every rank holds the same state.
    private func commit(_ update: (logits: [Float]?, costs: [Double]), _ loss: Losses, _ batch: Batch) -> StepMetrics {
        optimizer.step()
        if let logits = update.logits { for k in logits.indices { network.gateLogits.value[k] = logits[k] } }
        context.communicator.sum(statistics, scale: 1 / Float(context.communicator.count))
        step += 1
        let costs = update.costs, all = batch.all
        let perExampleCosts = all.count == 1 ? [Double](repeating: costs[0], count: batch.total) : costs
        let metrics = StepMetrics(step: step, sampling: samplingStarted, learningRate: weights.learningRate,
                                  loss: loss.mean, accuracy: loss.counted == 0 ? 0 : Double(loss.right) / Double(loss.counted),
                                  sampledCost: perExampleCosts.reduce(0, +) / Double(batch.total),
                                  deterministicCost: optimisedCost.cost(of: network.deterministicArchitecture),
                                  gateEntropy: meanGateEntropy(network.keepProbabilities),
                                  consistent: Double(all.filter(\.isConsistent).count) / Double(all.count))
        epochTotals.add(metrics)
        return metrics
    }

    private func diverged(_ what: String) -> TrainingDiverged { TrainingDiverged(step: step + 1, quantity: what) }

    /// Examples (or labelled pixels) predicted right, and how many were counted.
    private func accuracyCounts(_ logits: Tensor, labels: [Int32]) -> (right: Int, counted: Int) {
        let k = logits.dim(-1), rows = logits.count / k
        var right = 0, counted = 0
        for r in 0..<rows where labels[r] >= 0 {
            if argmax(logits.data + r * k, count: k) == Int(labels[r]) { right += 1 }
            counted += 1
        }
        return (right, counted)
    }

    /// "nan", "inf" or "-inf" (Swift prints a NaN with its sign bit as "-nan").
    private func nonFinite(_ x: Double) -> String { x.isNaN ? "nan" : x > 0 ? "inf" : "-inf" }

    private func copy(_ sources: [Tensor], into targets: [Tensor]) {
        for (s, t) in zip(sources, targets) { Elementwise.copy(t.data, s.data, count: s.count, threads: context.threads) }
    }

    /// The optimised cost of a sampled architecture, with the inconsistent-sample
    /// penalty where the budget puts it.
    public func optimisedCostOf(_ architecture: Architecture) -> Double {
        let costed = costsPrunedArchitecture ? architecture : network.unprunedArchitecture(gates: architecture.gates)
        let cost = costed.active.isEmpty ? 0 : optimisedCost.cost(of: costed)
        guard let budget, budget.inconsistentPenalty != 0 else { return cost }
        return architecture.isConsistent == budget.penaltyOnConsistentSamples ? cost + budget.inconsistentPenalty : cost
    }

    /// D_i = loss_i + budget penalty of C(H_i); returns a − path lr · REINFORCE gradient
    /// (the caller applies it once the whole step is known to be finite).
    private func gateLogits(losses: [Float], costs: [Double], architectures: [Architecture], probabilities: [Float]) -> [Float] {
        let meanCost = costs.reduce(0, +) / Double(max(costs.count, 1))
        let penalty = { (c: Double) -> Double in
            self.budget?.penalty(cost: c, meanCost: meanCost) ?? 0
        }
        var objectives: [Double], gates: [[Bool]], baseline: Double?
        if architectures.count == 1 {
            // One architecture for the batch: its objective is the batch mean.
            let d = Double(losses.reduce(0, +)) / Double(losses.count) + penalty(costs[0])
            objectives = [d]
            gates = [architectures[0].gates]
            baseline = runningBaseline ?? d
            runningBaseline = 0.9 * (runningBaseline ?? d) + 0.1 * d
        } else {
            objectives = zip(losses, costs).map { Double($0) + penalty($1) }
            gates = architectures.map(\.gates)
            baseline = nil
        }
        let gradient = Reinforce.gateGradient(objectives: objectives, gates: gates, probabilities: probabilities, baseline: baseline)
        return gradient.indices.map { network.gateLogits.value[$0] - pathLearningRate * Float(gradient[$0]) }
    }

    func computeLosses(_ logits: Tensor, labels: [Int32]) throws -> [Float] {
        switch task {
        case .classification: try classification.forward(logits, labels: labels)
        case .segmentation: try pixels.forward(logits, labels: labels)
        }
    }

    private func lossGradient() throws -> Tensor {
        switch task {
        case .classification: try classification.backwardMean()
        case .segmentation: try pixels.backwardMean()
        }
    }

    /// Fraction of examples (classification) or labelled pixels (segmentation) predicted right.
    public func accuracy(_ logits: Tensor, labels: [Int32]) -> Double {
        let (right, counted) = accuracyCounts(logits, labels: labels)
        return counted == 0 ? 0 : Double(right) / Double(counted)
    }

    /// Loss and accuracy of the deterministic architecture (batch norm in
    /// inference mode) over `batches`; with `sampling`, of architectures
    /// sampled per example instead (the reference code's evaluation).
    public func evaluate<Batches: Sequence>(_ batches: Batches, sampling: Bool = false) throws -> (loss: Double, accuracy: Double)
    where Batches.Element == (images: Tensor, labels: [Int32]) {
        let r = try evaluateInDetail(batches, sampling: sampling)
        return (r.loss, r.accuracy)
    }
}
