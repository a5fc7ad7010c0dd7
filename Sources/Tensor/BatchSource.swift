/// Where training batches come from: the dataset loaders implement it, the
/// trainer consumes it (it lives here so that neither module imports the other).
public protocol BatchSource: AnyObject {
    /// Batches in one pass over the training data.
    var batchesPerEpoch: Int { get }
    /// The next batch: images (N, H, W, C) NHWC and labels; wraps to a new epoch by itself.
    func nextBatch() throws -> (images: Tensor, labels: [Int32])
}
