import Datasets
import Layers
import Tensor
import TestSupport
import XCTest

final class SyntheticTests: XCTestCase {
    func testShapesAreDeterministicBalancedAndVaried() throws {
        var spec = Shapes(train: 200, validation: 50, test: 30)
        let a = try spec.load(), b = try spec.load()
        XCTAssertEqual(a.train.pixels, b.train.pixels)
        XCTAssertEqual(a.test.labels, b.test.labels)
        XCTAssertEqual(a.classNames.count, 10)
        XCTAssertEqual([a.train.count, a.validation.count, a.test.count], [200, 50, 30])
        for set in [a.train, a.validation, a.test] { XCTAssertEqual(Set(set.labels), Set(0..<10)) }
        XCTAssertEqual(DatasetSummary(a).splits[0].classCounts, [Int](repeating: 20, count: 10))
        spec.seed = 2
        XCTAssertNotEqual(try spec.load().train.pixels, a.train.pixels)
        // The splits hold different images, and the training set's size leaves the test set alone.
        XCTAssertNotEqual(Array(a.train.image(0)), Array(a.test.image(0)))
        spec.seed = 1
        spec.trainSize = 20
        XCTAssertEqual(try spec.load().test.pixels, a.test.pixels)
        // Every image uses a wide range of values (texture + shape), not a flat colour.
        for i in 0..<a.train.count {
            let image = a.train.image(i)
            XCTAssertGreaterThan(Int(image.max()!) - Int(image.min()!), 60)
        }
    }

    func testFacesHaveEveryClassAndAreDeterministic() throws {
        let spec = Faces(side: 48, train: 30, validation: 5, test: 5)
        let a = try spec.load(), b = try spec.load()
        XCTAssertEqual(a.train.pixels, b.train.pixels)
        XCTAssertEqual(a.train.masks, b.train.masks)
        XCTAssertTrue(a.isSegmentation)
        XCTAssertEqual(a.train.height, 48)
        XCTAssertEqual(a.classNames, ["background", "hair", "skin"])
        for i in 0..<a.train.count { XCTAssertEqual(Set(a.train.mask(i)), [0, 1, 2], "image \(i) shows background, hair and skin") }
        let counts = DatasetSummary(a).splits[0].classCounts
        XCTAssertEqual(counts.reduce(0, +), 30 * 48 * 48)
        XCTAssertTrue(counts.allSatisfy { $0 > 30 * 48 * 48 / 20 }, "each class is a sizeable share: \(counts)")
        assertThrows(try { var s = spec; s.side = 8; return try s.load() }(), mentions: ["size"])
        assertThrows(try { var s = spec; s.trainSize = 0; return try s.load() }(), mentions: ["at least one"])
    }

    /// Trains `net` on the loader's batches; returns validation accuracy.
    private func train(_ net: Sequential, flatten: Bool, loader: Loader, validation: EvaluationBatches, epochs: Int, lr: Float) throws -> Double {
        let loss = SoftmaxCrossEntropy()
        let sgd = SGD(groups: [ParameterGroup(name: "w", parameters: net.parameters, learningRate: lr, momentum: 0.9, weightDecay: 5e-4)])
        for _ in 0..<(epochs * loader.batchesPerEpoch) {
            let (x, y) = try loader.nextBatch()
            if flatten { x.reshape([x.shape[0], x.count / x.shape[0]]) }
            try loss.forward(try net.forward(x, training: true), labels: y)
            sgd.zeroGradients()
            _ = try net.backward(try loss.backwardMean())
            sgd.step()
        }
        var right = 0, total = 0
        for (x, y) in validation {
            if flatten { x.reshape([x.shape[0], x.count / x.shape[0]]) }
            let logits = try net.forward(x, training: false)
            for e in 0..<y.count {
                let row = (0..<10).map { logits[e * 10 + $0] }
                if row.firstIndex(of: row.max()!) == Int(y[e]) { right += 1 }
                total += 1
            }
        }
        return Double(right) / Double(total)
    }

    func testASmallConvNetLearnsShapesAndALinearModelDoesNot() throws {
        let spec = Shapes(train: 3000, validation: 500, test: 0)
        let data = try spec.load()
        let validation = EvaluationBatches(data.validation, augmentation: data.augmentation, batchSize: 100)
        var rng = RNG(seed: 7)
        let conv = Sequential([
            Conv2d(3, 16, kernel: 3, stride: 2, rng: &rng, context: makeContext()), BatchNorm2d(16, context: makeContext()), ReLU(context: makeContext()),
            Conv2d(16, 32, kernel: 3, rng: &rng, context: makeContext()), BatchNorm2d(32, context: makeContext()), ReLU(context: makeContext()),
            Conv2d(32, 32, kernel: 3, stride: 2, rng: &rng, context: makeContext()), BatchNorm2d(32, context: makeContext()), ReLU(context: makeContext()),
            Conv2d(32, 64, kernel: 3, stride: 2, rng: &rng, context: makeContext()), BatchNorm2d(64, context: makeContext()), ReLU(context: makeContext()),
            GlobalAveragePool(), Linear(64, 10, rng: &rng),
        ])
        let convAccuracy = try train(conv, flatten: false, loader: Loader(data.train, augmentation: data.augmentation, batchSize: 50, seed: 1),
                                     validation: validation, epochs: 6, lr: 0.05)
        let linear = Sequential([Linear(32 * 32 * 3, 10, rng: &rng)])
        let linearAccuracy = try train(linear, flatten: true, loader: Loader(data.train, augmentation: data.augmentation, batchSize: 50, seed: 1),
                                       validation: validation, epochs: 6, lr: 0.002)
        XCTAssertGreaterThan(convAccuracy, 0.5, "conv net accuracy \(convAccuracy) (chance 0.1)")
        XCTAssertLessThan(linearAccuracy, 0.3, "linear model accuracy \(linearAccuracy)")
        print("shapes: conv net \(convAccuracy), linear \(linearAccuracy)")
    }
}
