import Layers
import Tensor
import TestSupport
import XCTest

final class BatchNormTests: XCTestCase {
    func testTrainingModeNormalisesWithBatchStatisticsAndUpdatesRunningStatistics() throws {
        let bn = BatchNorm2d(3, context: makeContext())
        let x = randomTensor([4, 5, 6, 3], seed: 1)
        for i in 0..<x.count { x[i] = x[i] * Float(1 + i % 3) + Float(i % 3) }   // channel c: scale c+1, shift c
        let y = try bn.forward(x, training: true)
        let rows = x.count / 3
        for c in 0..<3 {
            let xs = (0..<rows).map { Double(x[$0 * 3 + c]) }, ys = (0..<rows).map { Double(y[$0 * 3 + c]) }
            let mean = xs.reduce(0, +) / Double(rows)
            let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rows)
            XCTAssertEqual(ys.reduce(0, +) / Double(rows), 0, accuracy: 1e-5)
            XCTAssertEqual(ys.map { $0 * $0 }.reduce(0, +) / Double(rows), variance / (variance + 1e-5), accuracy: 1e-4)
            XCTAssertEqual(Double(bn.runningMean[c]), 0.1 * mean, accuracy: 1e-5)
            XCTAssertEqual(Double(bn.runningVariance[c]), 0.9 + 0.1 * variance * Double(rows) / Double(rows - 1), accuracy: 1e-5)
        }
    }

    func testInferenceModeUsesRunningStatistics() throws {
        let bn = BatchNorm2d(2, context: makeContext())
        bn.runningMean[0] = 0.5; bn.runningMean[1] = -1
        bn.runningVariance[0] = 4; bn.runningVariance[1] = 0.25
        bn.scale.value[0] = 2; bn.shift.value[1] = 3
        let x = Tensor(shape: [1, 1, 2, 2], values: [1.5, 0, -0.5, -1])
        let y = try bn.forward(x, training: false)
        let e: Float = 1e-5
        XCTAssertEqual(y[0], 2 * (1.5 - 0.5) / (4 + e).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(y[1], (0 + 1) / (0.25 + e).squareRoot() + 3, accuracy: 1e-5)
        XCTAssertEqual(y[2], 2 * (-0.5 - 0.5) / (4 + e).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(y[3], 3, accuracy: 1e-6)
        XCTAssertEqual(bn.runningMean[0], 0.5, "inference leaves running statistics alone")
    }

    func testGradientsMatchFiniteDifferencesInTrainingMode() throws {
        let bn = BatchNorm2d(3, context: makeContext())
        var rng = RNG(seed: 3)
        rng.fillUniform(bn.scale.value, 0.5, 1.5)
        rng.fillUniform(bn.shift.value, -0.5, 0.5)
        try checkLayerGradients(bn, input: randomTensor([3, 4, 4, 3], seed: 4), training: true, epsilon: 1e-2, tolerance: 3e-2)
    }

    func testGradientsMatchFiniteDifferencesInInferenceMode() throws {
        let bn = BatchNorm2d(4, context: makeContext())
        var rng = RNG(seed: 5)
        rng.fillUniform(bn.scale.value, 0.5, 1.5)
        rng.fillUniform(bn.runningMean, -0.5, 0.5)
        rng.fillUniform(bn.runningVariance, 0.5, 2)
        try checkLayerGradients(bn, input: randomTensor([2, 3, 3, 4], seed: 6), training: false)
    }

    func testLongBatchesKeepPrecision() throws {
        // 65536 rows with a large offset: Float-only sums would drift.
        let bn = BatchNorm2d(1, context: makeContext())
        let x = Tensor(shape: [64, 32, 32, 1])
        var rng = RNG(seed: 8)
        for i in 0..<x.count { x[i] = 1000 + rng.normal() }
        let y = try bn.forward(x, training: true)
        var sum = 0.0, sumSquares = 0.0
        for i in 0..<y.count { sum += Double(y[i]); sumSquares += Double(y[i]) * Double(y[i]) }
        XCTAssertEqual(sum / Double(y.count), 0, accuracy: 2e-3)
        XCTAssertEqual(sumSquares / Double(y.count), 1, accuracy: 2e-3)
    }

    func testFusedReLUEqualsBatchNormThenReLUBitForBit() throws {
        for training in [true, false] {
            let fused = BatchNorm2d(16, relu: true, context: makeContext()), plain = BatchNorm2d(16, context: makeContext())
            let relu = ReLU(context: makeContext())
            var rng = RNG(seed: 12)
            rng.fillUniform(fused.scale.value, 0.5, 1.5)
            rng.fillUniform(fused.shift.value, -0.5, 0.5)
            plain.scale.value.data.update(from: fused.scale.value.data, count: 16)
            plain.shift.value.data.update(from: fused.shift.value.data, count: 16)
            let x = randomTensor([3, 5, 4, 16], seed: 13), dy = randomTensor([3, 5, 4, 16], seed: 14)
            let y = try fused.forward(x, training: training).values
            XCTAssertEqual(y, try relu.forward(try plain.forward(x, training: training), training: training).values)
            XCTAssertTrue(y.contains(0) && y.contains { $0 > 0 }, "the ReLU cuts somewhere")
            let dx = try fused.backward(dy).values
            XCTAssertEqual(dx, try plain.backward(try relu.backward(dy)).values, "training \(training)")
            XCTAssertEqual(fused.scale.gradient.values, plain.scale.gradient.values)
            XCTAssertEqual(fused.shift.gradient.values, plain.shift.gradient.values)
        }
    }

    func testFusedReLUGradientsMatchFiniteDifferences() throws {
        let bn = BatchNorm2d(3, relu: true, context: makeContext())
        var rng = RNG(seed: 15)
        rng.fillUniform(bn.scale.value, 0.5, 1.5)
        rng.fillUniform(bn.shift.value, -0.2, 0.2)
        try checkLayerGradients(bn, input: randomTensor([3, 4, 4, 3], seed: 16), training: true, epsilon: 1e-3, tolerance: 3e-2)
    }

    func testForwardIntoATargetAddsThenRectifiesAndBackwardIgnoresThatReLU() throws {
        let bn = BatchNorm2d(8, relu: true, context: makeContext()), reference = BatchNorm2d(8, context: makeContext())
        let x = randomTensor([2, 3, 3, 8], seed: 17), start = randomTensor([2, 3, 3, 8], seed: 18)
        let expected = try reference.forward(x, training: true).values
        for (accumulate, relu) in [(false, false), (true, false), (true, true), (false, true)] {
            let target = start.clone()
            try bn.forward(x, training: true, into: target, accumulate: accumulate, relu: relu)
            for i in 0..<target.count {
                var v = expected[i] + (accumulate ? start[i] : 0)
                if relu { v = max(v, 0) }
                XCTAssertEqual(target[i], v, "accumulate \(accumulate), relu \(relu), element \(i)")
            }
        }
        // The caller owns the target's ReLU: backward passes dy through unmasked, as the reference does.
        let dy = randomTensor([2, 3, 3, 8], seed: 19)
        XCTAssertEqual(try bn.backward(dy).values, try reference.backward(dy).values)
    }
}
