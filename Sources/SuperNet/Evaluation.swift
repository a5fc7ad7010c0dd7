import Foundation
import Tensor

/// Evaluation results with the confusion matrix (rows: true class, columns:
/// predicted), from which accuracy, per-class accuracy and mean IoU follow.
/// For segmentation the counts are pixels with a label (≥ 0).
public struct EvaluationResult: Codable, Equatable, Sendable {
    public var examples: Int
    public var loss: Double
    public var confusion: [[Int]]

    public var accuracy: Double {
        let total = confusion.joined().reduce(0, +)
        return total == 0 ? 0 : Double(confusion.indices.reduce(0) { $0 + confusion[$1][$1] }) / Double(total)
    }
    /// Per class: right / labelled (nil for a class with no labels).
    public var classAccuracy: [Double?] {
        confusion.indices.map { k in
            let row = confusion[k].reduce(0, +)
            return row == 0 ? nil : Double(confusion[k][k]) / Double(row)
        }
    }
    /// Per class: |pred ∩ true| / |pred ∪ true|, and their mean over classes present.
    public var meanIoU: Double {
        let ious: [Double] = confusion.indices.compactMap { k in
            let row = confusion[k].reduce(0, +), column = confusion.reduce(0) { $0 + $1[k] }
            let union = row + column - confusion[k][k]
            return union == 0 ? nil : Double(confusion[k][k]) / Double(union)
        }
        return ious.isEmpty ? 0 : ious.reduce(0, +) / Double(ious.count)
    }
}

/// The index of the largest of `count` scores (the first one on ties).
public func argmax(_ scores: UnsafePointer<Float>, count k: Int) -> Int {
    var best = 0
    for j in 1..<max(k, 1) where scores[j] > scores[best] { best = j }
    return best
}

extension Trainer {
    /// Loss and confusion matrix of the deterministic architecture (or, with
    /// `sampling`, of architectures sampled per example) over `batches`, with
    /// batch norm in inference mode. `classes` defaults to the logits' width.
    public func evaluateInDetail<Batches: Sequence>(_ batches: Batches, classes: Int? = nil, sampling: Bool = false) throws -> EvaluationResult
    where Batches.Element == (images: Tensor, labels: [Int32]) {
        let deterministic = network.deterministicArchitecture
        let probabilities = network.keepProbabilities
        var result = EvaluationResult(examples: 0, loss: 0, confusion: [])
        var lossSum = 0.0
        for (images, labels) in batches {
            let architectures = sampling
                ? (0..<images.shape[0]).map { _ in network.sampleArchitecture(probabilities, rng: &rng) }
                : [deterministic]
            let logits = try executor.forward(images, architectures: architectures, training: false, inferenceOnly: true)
            lossSum += Double(try computeLosses(logits, labels: labels).reduce(0, +))
            let k = logits.dim(-1), n = classes ?? k
            if result.confusion.isEmpty { result.confusion = Array(repeating: Array(repeating: 0, count: n), count: n) }
            for r in 0..<(logits.count / k) where labels[r] >= 0 && Int(labels[r]) < n {
                result.confusion[Int(labels[r])][min(argmax(logits.data + r * k, count: k), n - 1)] += 1
            }
            result.examples += images.shape[0]
        }
        result.loss = lossSum / Double(max(result.examples, 1))
        return result
    }
}
