import Layers
import Tensor
import TestSupport
import XCTest

final class ElementwiseLayerTests: XCTestCase {
    func testReLUForwardAndGradient() throws {
        let relu = ReLU(context: makeContext())
        let y = try relu.forward(Tensor(shape: [4], values: [-1, 2, 0, 3]), training: true)
        XCTAssertEqual(y.values, [0, 2, 0, 3])
        try checkLayerGradients(ReLU(context: makeContext()), input: randomTensor([2, 3, 3, 4], seed: 1, awayFromZero: true), training: true, epsilon: 1e-3)
    }

    func testUpsampleCopiesEachPixelToATwoByTwoBlock() throws {
        let up = Upsample2x(context: makeContext())
        // 1 image, 2x2, 2 channels: pixel (i, j) holds (10i + j, −(10i + j)).
        let x = Tensor(shape: [1, 2, 2, 2], values: [0, 0, 1, -1, 10, -10, 11, -11])
        let y = try up.forward(x, training: true)
        XCTAssertEqual(y.shape, [1, 4, 4, 2])
        for oy in 0..<4 { for ox in 0..<4 {
            let v = Float(10 * (oy / 2) + ox / 2)
            XCTAssertEqual(y[(oy * 4 + ox) * 2], v)
            XCTAssertEqual(y[(oy * 4 + ox) * 2 + 1], -v)
        } }
        try checkLayerGradients(Upsample2x(context: makeContext()), input: randomTensor([2, 3, 2, 3], seed: 2), training: true)
    }

    func testGlobalAveragePoolAveragesPixels() throws {
        let pool = GlobalAveragePool()
        let x = Tensor(shape: [1, 2, 2, 1], values: [1, 2, 3, 6])
        XCTAssertEqual(try pool.forward(x, training: true).values, [3])
        try checkLayerGradients(GlobalAveragePool(), input: randomTensor([3, 4, 5, 2], seed: 3), training: true)
    }

    func testLinearComputesAffineMapAndGradients() throws {
        var rng = RNG(seed: 4)
        let linear = Linear(3, 2, rng: &rng)
        linear.weight.value.copy(from: Tensor(shape: [2, 3], values: [1, 0, -1, 2, 1, 0]))
        linear.bias!.value.copy(from: Tensor(shape: [2], values: [0.5, -0.5]))
        let y = try linear.forward(Tensor(shape: [1, 3], values: [1, 2, 3]), training: true)
        XCTAssertEqual(y.values, [1 - 3 + 0.5, 2 + 2 - 0.5])
        try checkLayerGradients(Linear(5, 4, rng: &rng), input: randomTensor([3, 5], seed: 5), training: true)
    }

    func testSumAddsInputsAndPassesTheGradientToEach() throws {
        let sum = Sum(context: makeContext())
        let a = randomTensor([2, 3], seed: 1), b = randomTensor([2, 3], seed: 2), c = randomTensor([2, 3], seed: 3)
        let y = try sum.forward([a, b, c])
        for i in 0..<6 { XCTAssertEqual(y[i], a[i] + b[i] + c[i], accuracy: 1e-6) }
        let dy = randomTensor([2, 3], seed: 4)
        XCTAssertEqual(try sum.backward(dy).values, dy.values)
        XCTAssertThrowsError(try sum.forward([a, Tensor(shape: [3, 2])]))
        XCTAssertThrowsError(try sum.forward([]))
    }
}
