import Layers
import Tensor
import TestSupport
import XCTest

/// A small conv net on a toy task: is the image made of horizontal or
/// vertical stripes (random phase, period and noise)? Global pooling removes
/// position, so the convolutions must learn oriented filters.
final class ToyTrainingTests: XCTestCase {
    private func makeBatch(_ n: Int, rng: inout RNG) -> (Tensor, [Int32]) {
        let size = 12
        let x = Tensor(shape: [n, size, size, 3])
        var labels = [Int32]()
        for b in 0..<n {
            let vertical = rng.bernoulli(0.5)
            labels.append(vertical ? 1 : 0)
            let period = 2 + rng.integer(below: 3), phase = rng.integer(below: period)
            let colour = (0..<3).map { _ in rng.uniform(0.5, 1) }
            for i in 0..<size { for j in 0..<size {
                let on = ((vertical ? j : i) + phase) % period == 0
                for c in 0..<3 { x[((b * size + i) * size + j) * 3 + c] = (on ? colour[c] : -colour[c]) + 0.3 * rng.normal() }
            } }
        }
        return (x, labels)
    }

    private func makeNet(rng: inout RNG) -> Sequential {
        let first = Conv2d(3, 8, kernel: 3, rng: &rng, context: makeContext())
        first.computesInputGradient = false
        return Sequential([
            first, BatchNorm2d(8, context: makeContext()), ReLU(context: makeContext()),
            Conv2d(8, 8, kernel: 3, stride: 2, rng: &rng, context: makeContext()), BatchNorm2d(8, context: makeContext()), ReLU(context: makeContext()),
            GlobalAveragePool(), Linear(8, 2, rng: &rng),
        ])
    }

    func testSmallConvNetLearnsStripeOrientation() throws {
        var rng = RNG(seed: 2024)
        let net = makeNet(rng: &rng)
        let loss = SoftmaxCrossEntropy()
        let sgd = SGD(groups: [ParameterGroup(name: "weights", parameters: net.parameters, learningRate: 0.05, momentum: 0.9, weightDecay: 1e-4)])
        var history = [Float]()
        for _ in 0..<150 {
            let (x, y) = makeBatch(32, rng: &rng)
            let logits = try net.forward(x, training: true)
            let values = try loss.forward(logits, labels: y)
            history.append(values.reduce(0, +) / Float(values.count))
            sgd.zeroGradients()
            _ = try net.backward(try loss.backwardMean())
            sgd.step()
        }
        let first = history.prefix(3).reduce(0, +) / 3, last = history.suffix(10).reduce(0, +) / 10
        XCTAssertGreaterThan(first, 0.5, "starts near chance (ln 2 ≈ 0.69)")
        XCTAssertLessThan(last, first / 5, "loss falls at least 5x: \(first) → \(last)")

        let (x, y) = makeBatch(200, rng: &rng)
        let logits = try net.forward(x, training: false)
        let correct = (0..<200).filter { (logits[2 * $0 + 1] > logits[2 * $0]) == (y[$0] == 1) }.count
        XCTAssertGreaterThan(correct, 180, "held-out accuracy in inference mode: \(correct)/200")
    }

    func testTrainingStepAllocatesNoBuffersAfterTheFirst() throws {
        var rng = RNG(seed: 1)
        let net = makeNet(rng: &rng)
        let loss = SoftmaxCrossEntropy()
        let sgd = SGD(groups: [ParameterGroup(name: "weights", parameters: net.parameters, learningRate: 0.01, momentum: 0.9)])
        let (x, y) = makeBatch(16, rng: &rng)
        func step() throws {
            try loss.forward(try net.forward(x, training: true), labels: y)
            sgd.zeroGradients()
            _ = try net.backward(try loss.backwardMean())
            sgd.step()
        }
        try step()
        let afterFirst = Tensor.allocations
        for _ in 0..<3 { try step() }
        XCTAssertEqual(Tensor.allocations, afterFirst, "steps 2-4 allocated \(Tensor.allocations - afterFirst) buffers")
    }
}
