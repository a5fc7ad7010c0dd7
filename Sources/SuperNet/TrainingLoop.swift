import Foundation
import Tensor

/// Means over the steps of one epoch.
public struct EpochMetrics: Codable, Equatable, Sendable {
    public var epoch: Int
    public var steps: Int
    public var loss: Double, accuracy: Double
    public var sampledCost: Double, deterministicCost: Double
    public var gateEntropy: Double
    public var validationAccuracy: Double?
    /// Segmentation: the validation's mean IoU over classes.
    public var validationMeanIoU: Double?
    /// The optimised cost's expectation under the gate distribution after the epoch (nil in files written before it was kept).
    public var expectedCost: Double?

    /// The means of an epoch's running totals; costs and entropy as after its last step.
    public init(epoch: Int, totals: EpochTotals, last: StepMetrics?, validationAccuracy: Double? = nil) {
        let n = Double(max(totals.steps, 1))
        self.epoch = epoch
        steps = totals.steps
        loss = totals.loss / n
        accuracy = totals.accuracy / n
        sampledCost = totals.sampledCost / n
        deterministicCost = last?.deterministicCost ?? 0
        gateEntropy = last?.gateEntropy ?? 0
        self.validationAccuracy = validationAccuracy
    }
}

/// Sums over the steps of the epoch in progress.
public struct EpochTotals: Codable, Equatable, Sendable {
    public var steps = 0
    public var loss = 0.0, accuracy = 0.0, sampledCost = 0.0
    public init() {}

    mutating func add(_ m: StepMetrics) {
        steps += 1
        loss += m.loss
        accuracy += m.accuracy
        sampledCost += m.sampledCost
    }
}

extension Trainer {
    /// Runs `count` steps on batches from `source`, calling `onStep` after
    /// each (return false to stop early, at a batch boundary) and `onEpoch`
    /// with the means whenever an epoch completes. Returns the steps' metrics.
    @discardableResult
    public func train(steps count: Int, from source: any BatchSource,
                      onStep: (StepMetrics) -> Bool = { _ in true },
                      onEpoch: (EpochMetrics) -> Void = { _ in }) throws -> [StepMetrics] {
        stepsPerEpoch = max(source.batchesPerEpoch, 1)
        var all = [StepMetrics]()
        for _ in 0..<count {
            let (images, labels) = try source.nextBatch()
            let metrics = try trainStep(images: images, labels: labels)
            all.append(metrics)
            if step % stepsPerEpoch == 0 {
                onEpoch(EpochMetrics(epoch: epoch, totals: epochTotals, last: metrics))
                epochTotals = EpochTotals()
            }
            if !onStep(metrics) { break }
        }
        return all
    }

    /// Runs `count` epochs of `source`.
    @discardableResult
    public func train(epochs count: Int, from source: any BatchSource,
                      onStep: (StepMetrics) -> Bool = { _ in true },
                      onEpoch: (EpochMetrics) -> Void = { _ in }) throws -> [StepMetrics] {
        try train(steps: count * max(source.batchesPerEpoch, 1), from: source, onStep: onStep, onEpoch: onEpoch)
    }
}
