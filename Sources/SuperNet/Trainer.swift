import Foundation
import Layers
import Tensor

/// What the network predicts, which fixes the loss and the accuracy.
public enum Task: String, Codable, Sendable {
    /// Class scores (N, classes); softmax cross-entropy; accuracy.
    case classification
    /// Per-pixel scores (N, H, W, classes); per-pixel cross-entropy averaged per example; pixel accuracy.
    case segmentation
}

/// When architectures are drawn.
public enum Sampling: String, Codable, Sendable {
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
    public let task: Task
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

    /// What a step changes before it is known to be finite (forward updates the
    /// batch-norm statistics; sampling may reset the gate logits), and a copy
    /// taken before each step to put back if the step diverges.
    /// Under mpirun: each rank steps on its rows of the global batch, and
    /// gradients, losses and statistics are combined across ranks (set by the session).
    public var dataParallel = false
    /// With `dataParallel`: batch norm's statistics over the whole batch (sync-bn).
    public var synchronisedBatchNorm = false
    /// All-reduce buffers of the data-parallel step (allocated once).
    private var packed = Tensor(shape: [0]), packedStatistics = Tensor(shape: [0])
    private let guarded: [Tensor]
    private let guardedBackup: [Tensor]
    private let classification = SoftmaxCrossEntropy()
    private let pixels = PixelCrossEntropy()
    var runningBaseline: Double?

    public init(network: SuperNetwork, task: Task, optimisedCost: any Cost, seed: UInt64,
                learningRate: Float = 0.1, momentum: Float = 0.9, weightDecay: Float = 1e-4, nesterov: Bool = false,
                mode: ExecutionMode = .subBatch) {
        self.network = network
        self.task = task
        self.optimisedCost = optimisedCost
        executor = Executor(network, mode: mode)
        weights = ParameterGroup(name: "weights", parameters: network.weights, learningRate: learningRate,
                                 momentum: momentum, weightDecay: weightDecay, nesterov: nesterov)
        optimizer = SGD(groups: [weights])
        schedule = PiecewiseConstantSchedule(initial: learningRate)
        rng = RNG(seed: seed)
        guarded = network.nodes.flatMap { $0.module?.buffers ?? [] } + [network.gateLogits.value]
        guardedBackup = guarded.map { Tensor(shape: $0.shape) }
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
    ///
    /// A step that would put a non-finite value into the state (the loss, the
    /// gradients, an updated weight, velocity or gate logit, a batch-norm
    /// statistic) throws `TrainingDiverged` and changes nothing: weights,
    /// gates, optimizer, batch-norm statistics, generator and counters stay
    /// those of the last finite step.
    @discardableResult
    public func trainStep(images: Tensor, labels: [Int32]) throws -> StepMetrics {
        let n = images.shape[0]
        let before = (rng: rng, samplingStarted: samplingStarted, warmupSteps: warmupSteps, baseline: runningBaseline,
                      architectures: lastArchitectures)
        copy(guarded, into: guardedBackup)
        func diverged(_ what: String) -> TrainingDiverged {
            rng = before.rng
            samplingStarted = before.samplingStarted
            warmupSteps = before.warmupSteps
            runningBaseline = before.baseline
            lastArchitectures = before.architectures
            copy(guardedBackup, into: guarded)
            return TrainingDiverged(step: step + 1, quantity: what)
        }
        if !isWarmingUp && !samplingStarted { startSampling() }
        BatchNorm2d.synchronised = dataParallel && synchronisedBatchNorm && Ranks.distributed
        defer { BatchNorm2d.synchronised = false }
        // Data-parallel under mpirun: `images` are this rank's rows [offset, offset + n) of a global batch of `total`.
        let parallel = dataParallel && Ranks.distributed
        var total = n, offset = 0
        if parallel {
            var counts = [Double(n)]
            Ranks.sum(&counts)
            total = Int(counts[0])
            offset = Ranks.shard(of: total).lowerBound
        }
        let probabilities = network.keepProbabilities
        // Architectures are drawn for the whole batch on every rank (the same generator), as one process would.
        let all: [Architecture]
        if !samplingStarted || network.gateCount == 0 {
            all = [network.fullArchitecture]
        } else if sampling == .perBatch {
            all = [network.sampleArchitecture(probabilities, rng: &rng)]
        } else {
            all = (0..<total).map { _ in network.sampleArchitecture(probabilities, rng: &rng) }
        }
        let architectures = all.count == 1 ? all : Array(all[offset..<offset + n])
        lastArchitectures = architectures

        weights.learningRate = schedule.value(at: epoch)
        let logits = try executor.forward(images, architectures: architectures, training: true)
        var losses = try computeLosses(logits, labels: labels)
        var (right, counted) = accuracyCounts(logits, labels: labels)
        var statisticsOverflow = !guarded.allSatisfy({ Elementwise.allFinite($0.data, count: $0.count) })
        if parallel {
            // Every rank's losses, accuracy counts and statistics check, so that every rank decides alike.
            losses = Ranks.gather(losses.map(Double.init), at: offset, total: total).map(Float.init)
            var shared = [Double(right), Double(counted), statisticsOverflow ? 1 : 0]
            Ranks.sum(&shared)
            (right, counted, statisticsOverflow) = (Int(shared[0]), Int(shared[1]), shared[2] > 0)
        }
        let loss = Double(losses.reduce(0, +)) / Double(total)
        guard loss.isFinite else { throw diverged("loss \(nonFinite(loss))") }
        guard !statisticsOverflow else { throw diverged("batch-norm statistics overflow") }
        optimizer.zeroGradients()
        let outputGradient = try lossGradient()
        if parallel {
            // The gradient of the whole batch's mean: this rank's rows weigh n / total (they are a mean over n).
            let share = Float(n) / Float(total)
            for k in 0..<outputGradient.count { outputGradient.data[k] *= share }
        }
        try executor.backward(outputGradient)
        if parallel { sumGradients() }
        let update = optimizer.inspectUpdate()
        guard update.gradientSquaredNorm.isFinite else { throw diverged("gradient norm \(nonFinite(update.gradientSquaredNorm))") }
        guard update.finite else { throw diverged("weights overflow") }

        let costs = all.map(optimisedCostOf)
        var newLogits: [Float]?
        if samplingStarted && network.gateCount > 0 {
            newLogits = gateUpdate(losses: losses, costs: costs, architectures: all, probabilities: probabilities)
            guard newLogits!.allSatisfy(\.isFinite) else { throw diverged("gate logits overflow") }
        }
        optimizer.step()
        if let newLogits { for k in newLogits.indices { network.gateLogits.value[k] = newLogits[k] } }
        if parallel { averageStatistics() }
        step += 1
        let perExampleCosts = all.count == 1 ? [Double](repeating: costs[0], count: total) : costs
        let metrics = StepMetrics(step: step, sampling: samplingStarted, learningRate: weights.learningRate,
                                  loss: loss, accuracy: counted == 0 ? 0 : Double(right) / Double(counted),
                                  sampledCost: perExampleCosts.reduce(0, +) / Double(total),
                                  deterministicCost: optimisedCost.cost(of: network.deterministicArchitecture),
                                  gateEntropy: meanGateEntropy(network.keepProbabilities),
                                  consistent: Double(all.filter(\.isConsistent).count) / Double(all.count))
        epochTotals.add(metrics)
        return metrics
    }

    /// The weight gradients of the global batch: every rank's part summed
    /// across ranks in one all-reduce of one packed buffer.
    private func sumGradients() {
        let parameters = optimizer.groups.flatMap(\.parameters)
        let total = parameters.reduce(0) { $0 + $1.count }
        if packed.count != total { packed = Tensor(shape: [total]) }
        var at = 0
        for p in parameters {
            (packed.data + at).update(from: p.gradient.data, count: p.count)
            at += p.count
        }
        Ranks.sum(packed.data, count: total)
        at = 0
        for p in parameters {
            p.gradient.data.update(from: packed.data + at, count: p.count)
            at += p.count
        }
    }

    /// Batch-norm running statistics averaged across ranks (each computed
    /// them on its own rows), so that every rank holds the same state.
    private func averageStatistics() {
        let buffers = network.nodes.flatMap { $0.module?.buffers ?? [] }
        let total = buffers.reduce(0) { $0 + $1.count }
        guard total > 0 else { return }
        if packedStatistics.count != total { packedStatistics = Tensor(shape: [total]) }
        var at = 0
        let share = 1 / Float(Ranks.count)
        for b in buffers {
            for j in 0..<b.count { packedStatistics.data[at + j] = share * b.data[j] }
            at += b.count
        }
        Ranks.sum(packedStatistics.data, count: total)
        at = 0
        for b in buffers {
            b.data.update(from: packedStatistics.data + at, count: b.count)
            at += b.count
        }
    }

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
        for (s, t) in zip(sources, targets) { Elementwise.copy(t.data, s.data, count: s.count) }
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
    private func gateUpdate(losses: [Float], costs: [Double], architectures: [Architecture], probabilities: [Float]) -> [Float] {
        let meanCost = costs.reduce(0, +) / Double(max(costs.count, 1))
        let penalty = { (c: Double) -> Double in
            guard let budget = self.budget else { return 0 }
            // mode expected: the score-function estimate of ∇ λ·max(0, E[C] − budget) weighs each sample by λ·C while E[C] is over.
            if budget.mode == .expected { return meanCost > budget.limit ? budget.lambda * c : 0 }
            return budget.penalty(cost: c)
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
