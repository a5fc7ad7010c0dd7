import Datasets
import Foundation
import Interface
import SuperNet
import Tensor

/// What `eval` reports (and records in the session's evaluations).
public struct EvaluationReport: Output, Sendable {
    public let split: String, examples: Int, loss: Double, accuracy: Double
    public let classAccuracy: [Double?], meanIoU: Double?, cost: Double, costName: String
    public let sampled: Bool
    public let classNames: [String]

    public var text: String {
        var text = String(format: "%@ (%d images, %@ architecture): loss %@, %@accuracy %.4f; %@ %@",
                          split, examples, sampled ? "sampled" : "deterministic", Format.decimal(loss), meanIoU != nil ? "pixel " : "",
                          accuracy, costName, Format.quantity(cost))
        if let meanIoU {
            text += String(format: "; mean IoU %.4f; per class: ", meanIoU)
                + zip(classNames, classAccuracy).map { "\($0) \($1.map { Format.fixed($0, 3) } ?? "-")" }.joined(separator: ", ")
        }
        return text
    }
}

extension Session {
    /// Loss and accuracy of the deterministic architecture (or of sampled
    /// ones) on a split. Recorded (under the split's word: "val" for validation) unless cancelled
    /// (then it throws and records nothing).
    @discardableResult
    public func evaluate(_ split: Split = .validation, sampled: Bool = false, cancel: Cancellation = .never,
                         progress: @escaping (Int, Int) -> Void = { _, _ in }) throws -> EvaluationReport {
        let (net, trainer) = try requireModel()
        let dataset = try requireDataset()
        let set = dataset.images(split)
        guard set.count > 0 else { throw SessionError("the \(split.rawValue) split is empty") }
        let batches = CancellableBatches(EvaluationBatches(set, augmentation: dataset.augmentation, batchSize: max(settings.batch, 32)),
                                         cancel: cancel, progress: progress)
        let r = try trainer.evaluateInDetail(batches, classes: dataset.classNames.count, sampling: sampled)
        if let stopped = batches.stoppedAfter {
            throw SessionError("interrupted after \(stopped) of \(batches.batches.count) batches; nothing recorded")
        }
        let cost = reportedCost!
        let c = cost.cost(of: net.deterministicArchitecture)
        evaluations.append(.init(step: trainer.step, split: split, loss: r.loss, accuracy: r.accuracy, cost: c, sampled: sampled ? true : nil,
                                meanIoU: dataset.isSegmentation ? r.meanIoU : nil))
        return EvaluationReport(split: split.rawValue, examples: r.examples, loss: r.loss, accuracy: r.accuracy, classAccuracy: r.classAccuracy,
                                meanIoU: dataset.isSegmentation ? r.meanIoU : nil, cost: c, costName: cost.name, sampled: sampled,
                                classNames: dataset.classNames)
    }
}
