import Foundation
import Tensor

/// Softmax cross-entropy for classification, one value per example
/// (REINFORCE needs each example's loss, not only their mean).
///
///     logits are (N, K), labels N class indices
///     loss[n] = log Σ_k exp(logits[n, k]) − logits[n, label[n]]
public final class SoftmaxCrossEntropy {
    /// The loss of each example after `forward`.
    public private(set) var losses: [Float] = []
    /// softmax(logits) after `forward`.
    public let probabilities = Tensor(shape: [0])
    private let logitGradient = Tensor(shape: [0])
    private var labels: [Int32] = []

    public init() {}

    /// Returns the per-example losses. Labels must lie in 0..<K.
    @discardableResult
    public func forward(_ logits: Tensor, labels: [Int32]) throws -> [Float] {
        try ShapeError.check(logits, rank: 2, "SoftmaxCrossEntropy", layout: "(N, classes)")
        let (n, k) = (logits.shape[0], logits.shape[1])
        guard labels.count == n else { throw ShapeError("SoftmaxCrossEntropy: \(labels.count) labels for \(n) examples") }
        if let bad = labels.first(where: { $0 < 0 || Int($0) >= k }) {
            throw ShapeError("SoftmaxCrossEntropy: label \(bad) outside 0..<\(k)")
        }
        self.labels = labels
        probabilities.reshape(logits.shape)
        if losses.count != n { losses = [Float](repeating: 0, count: n) }
        for row in 0..<n {
            losses[row] = softmaxRow(logits.data + row * k, into: probabilities.data + row * k, count: k, label: Int(labels[row]))
        }
        return losses
    }

    /// Gradient of Σ_n weights[n] · loss[n] with respect to the logits:
    /// weights[n] · (softmax − onehot). Use weights 1/N for the batch mean.
    public func backward(weights: [Float]) throws -> Tensor {
        let (n, k) = (probabilities.shape[0], probabilities.shape[1])
        guard weights.count == n else { throw ShapeError("SoftmaxCrossEntropy backward: \(weights.count) weights for \(n) examples") }
        logitGradient.reshape(probabilities.shape)
        for row in 0..<n {
            let p = probabilities.data + row * k, g = logitGradient.data + row * k
            for j in 0..<k { g[j] = weights[row] * p[j] }
            g[Int(labels[row])] -= weights[row]
        }
        return logitGradient
    }

    /// Gradient of the batch mean of the losses.
    public func backwardMean() throws -> Tensor {
        try backward(weights: meanWeights.weights(probabilities.shape[0]))
    }

    private var meanWeights = MeanWeights()
}

/// Per-pixel softmax cross-entropy for segmentation, averaged over each
/// example's labelled pixels: one value per example. Pixels labelled −1 are
/// ignored (padding).
///
///     logits are (N, H, W, K) (NHWC), labels N·H·W class indices
///     loss[n] = mean over labelled pixels p of n of (log Σ_k exp(z_pk) − z_p,label)
public final class PixelCrossEntropy {
    public private(set) var losses: [Float] = []
    /// Per-pixel softmax after `forward`, (N, H, W, K).
    public let probabilities = Tensor(shape: [0])
    private let logitGradient = Tensor(shape: [0])
    private var labels: [Int32] = []
    private var labelledPixels: [Int] = []

    public init() {}

    @discardableResult
    public func forward(_ logits: Tensor, labels: [Int32]) throws -> [Float] {
        try ShapeError.check(logits, rank: 4, "PixelCrossEntropy", layout: "(N, H, W, classes)")
        let (n, k) = (logits.shape[0], logits.shape[3])
        let pixels = logits.shape[1] * logits.shape[2]
        guard labels.count == n * pixels else {
            throw ShapeError("PixelCrossEntropy: \(labels.count) labels for \(n)x\(logits.shape[1])x\(logits.shape[2]) pixels")
        }
        if let bad = labels.first(where: { $0 < -1 || Int($0) >= k }) {
            throw ShapeError("PixelCrossEntropy: label \(bad) outside 0..<\(k) (−1 = ignored)")
        }
        self.labels = labels
        probabilities.reshape(logits.shape)
        if losses.count != n { losses = [Float](repeating: 0, count: n) }
        if labelledPixels.count != n { labelledPixels = [Int](repeating: 0, count: n) }
        for image in 0..<n {
            var total: Double = 0, labelled = 0
            for p in image * pixels..<(image + 1) * pixels {
                let label = Int(labels[p])
                let loss = softmaxRow(logits.data + p * k, into: probabilities.data + p * k, count: k, label: max(label, 0))
                if label >= 0 { total += Double(loss); labelled += 1 }
            }
            labelledPixels[image] = labelled
            losses[image] = labelled > 0 ? Float(total / Double(labelled)) : 0
        }
        return losses
    }

    /// Gradient of Σ_n weights[n] · loss[n] with respect to the logits.
    public func backward(weights: [Float]) throws -> Tensor {
        let (n, k) = (probabilities.shape[0], probabilities.shape[3])
        guard weights.count == n else { throw ShapeError("PixelCrossEntropy backward: \(weights.count) weights for \(n) examples") }
        let pixels = probabilities.count / (n * k)
        logitGradient.reshape(probabilities.shape)
        for image in 0..<n {
            let scale = labelledPixels[image] > 0 ? weights[image] / Float(labelledPixels[image]) : 0
            for p in image * pixels..<(image + 1) * pixels {
                let prob = probabilities.data + p * k, g = logitGradient.data + p * k
                let label = Int(labels[p])
                if label < 0 {
                    g.update(repeating: 0, count: k)
                    continue
                }
                for j in 0..<k { g[j] = scale * prob[j] }
                g[label] -= scale
            }
        }
        return logitGradient
    }

    public func backwardMean() throws -> Tensor {
        try backward(weights: meanWeights.weights(probabilities.shape[0]))
    }

    private var meanWeights = MeanWeights()
}

/// The weights 1/N of a batch mean, kept between calls.
struct MeanWeights {
    private var cached: [Float] = []
    mutating func weights(_ n: Int) -> [Float] {
        if cached.count != n { cached = [Float](repeating: 1 / Float(max(n, 1)), count: n) }
        return cached
    }
}

/// Writes softmax(z) and returns −log softmax(z)[label], stably (max shifted).
@inline(__always)
func softmaxRow(_ z: UnsafePointer<Float>, into p: UnsafeMutablePointer<Float>, count k: Int, label: Int) -> Float {
    var top = z[0]
    for j in 1..<k { top = max(top, z[j]) }
    var sum: Float = 0
    for j in 0..<k { p[j] = Foundation.exp(z[j] - top); sum += p[j] }
    let inverse = 1 / sum
    for j in 0..<k { p[j] *= inverse }
    return Foundation.log(sum) + top - z[label]
}
