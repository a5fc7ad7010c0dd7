import Foundation
import Layers
import Tensor
import TestSupport
import XCTest

final class LossTests: XCTestCase {
    func testSoftmaxCrossEntropyEqualsHandComputedValues() throws {
        let loss = SoftmaxCrossEntropy()
        let logits = Tensor(shape: [3, 3], values: [1, 2, 3, 0, 0, 0, 5, 1, -2])
        let values = try loss.forward(logits, labels: [2, 0, 1])
        XCTAssertEqual(values[0], 0.40760596, accuracy: 1e-6)          // log(e + e² + e³) − 3
        XCTAssertEqual(values[1], 1.0986123, accuracy: 1e-6)           // log 3
        XCTAssertEqual(values[2], Float(log(exp(5.0) + exp(1.0) + exp(-2.0)) - 1), accuracy: 1e-5)
        // gradient of the mean: (softmax − onehot)/N; rows sum to zero
        let g = try loss.backwardMean()
        XCTAssertEqual(g[0], Float(exp(1.0) / (exp(1.0) + exp(2.0) + exp(3.0)) / 3), accuracy: 1e-6)
        XCTAssertEqual(g[3], (1.0 / 3 - 1) / 3, accuracy: 1e-6)
        for row in 0..<3 { XCTAssertEqual(g[3 * row] + g[3 * row + 1] + g[3 * row + 2], 0, accuracy: 1e-6) }
        XCTAssertThrowsError(try loss.forward(logits, labels: [0, 3, 1]))
        XCTAssertThrowsError(try loss.forward(logits, labels: [0, 1]))
    }

    func testPerExampleLossesSumToTheBatchTotal() throws {
        let loss = SoftmaxCrossEntropy()
        let logits = randomTensor([6, 10], seed: 1)
        let labels: [Int32] = [0, 3, 9, 2, 2, 7]
        let perExample = try loss.forward(logits, labels: labels)
        var total = 0.0
        for row in 0..<6 {
            let z = (0..<10).map { Double(logits[row * 10 + $0]) }
            total += log(z.map(exp).reduce(0, +)) - z[Int(labels[row])]
        }
        XCTAssertEqual(Double(perExample.reduce(0, +)), total, accuracy: 1e-4)
    }

    func testSoftmaxCrossEntropyGradientMatchesFiniteDifferences() throws {
        let loss = SoftmaxCrossEntropy()
        let logits = randomTensor([4, 5], seed: 2)
        let labels: [Int32] = [1, 4, 0, 2]
        let weights: [Float] = [0.5, -1, 2, 0.25]
        try loss.forward(logits, labels: labels)
        let analytic = try loss.backward(weights: weights).clone()
        try checkGradient("logits", of: logits, analytic: analytic, epsilon: 1e-2) {
            zip(try loss.forward(logits, labels: labels), weights).reduce(0) { $0 + Double($1.0 * $1.1) }
        }
    }

    func testPixelCrossEntropyAveragesLabelledPixelsPerExample() throws {
        let loss = PixelCrossEntropy()
        // 2 images of 1x2 pixels, 2 classes (NHWC).
        let logits = Tensor(shape: [2, 1, 2, 2], values: [0, 0, 2, 0, 1, 3, 0, 0])
        let values = try loss.forward(logits, labels: [0, 1, 1, -1])
        let l0 = log(2.0), l1 = log(exp(2.0) + 1), l2 = log(exp(1.0) + exp(3.0)) - 3
        XCTAssertEqual(Double(values[0]), (l0 + l1) / 2, accuracy: 1e-6)
        XCTAssertEqual(Double(values[1]), l2, accuracy: 1e-6, "the ignored pixel does not count")
        let g = try loss.backwardMean()
        XCTAssertEqual(g[6], 0)
        XCTAssertEqual(g[7], 0)
        let labels: [Int32] = [0, 2, 1, -1, 2, 0, 1, 1, 0, 2, 2, 1]
        let z = randomTensor([2, 2, 3, 3], seed: 3)
        try loss.forward(z, labels: labels)
        let weights: [Float] = [0.7, -0.3]
        let analytic = try loss.backward(weights: weights).clone()
        try checkGradient("pixel logits", of: z, analytic: analytic) {
            zip(try loss.forward(z, labels: labels), weights).reduce(0) { $0 + Double($1.0 * $1.1) }
        }
    }
}
