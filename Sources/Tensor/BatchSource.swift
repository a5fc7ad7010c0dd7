/// Where training batches come from: the dataset loaders implement it, the
/// trainer consumes it (it lives here so that neither module imports the other).
public protocol BatchSource: AnyObject {
    /// Batches in one pass over the training data.
    var batchesPerEpoch: Int { get }
    /// The next batch: images (N, H, W, C) NHWC and labels; wraps to a new epoch by itself.
    func nextBatch() throws -> (images: Tensor, labels: [Int32])
}

/// What a batch's labels are and the network predicts: one class per image,
/// or one per pixel. It fixes the loss, the accuracy and the reports.
public enum LearningTask: String, Codable, Sendable {
    /// Class scores (N, classes); softmax cross-entropy; accuracy.
    case classification
    /// Per-pixel scores (N, H, W, classes); per-pixel cross-entropy averaged per example; pixel accuracy.
    case segmentation
}
