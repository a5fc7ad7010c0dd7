import Layers
import Tensor
import TestSupport
import XCTest

final class PoolTests: XCTestCase {
    func testKnownValues() throws {
        // One 4x4 map, two channels: channel 1 is channel 0 negated.
        let x = Tensor(shape: [1, 4, 4, 2])
        for i in 0..<16 { (x[2 * i], x[2 * i + 1]) = (Float(i), -Float(i)) }
        let average = try Pool2x2(.average, context: makeContext()).forward(x, training: true)
        XCTAssertEqual(average.shape, [1, 2, 2, 2])
        // Top-left window: 0, 1, 4, 5.
        XCTAssertEqual((0..<4).map { average[2 * $0] }, [2.5, 4.5, 10.5, 12.5])
        let max = try Pool2x2(.max, context: makeContext()).forward(x, training: true)
        XCTAssertEqual((0..<4).map { max[2 * $0] }, [5, 7, 13, 15])
        XCTAssertEqual((0..<4).map { max[2 * $0 + 1] }, [0, -2, -8, -10])
        XCTAssertThrowsError(try Pool2x2(.max, context: makeContext()).forward(Tensor(shape: [1, 3, 4, 1]), training: true))
    }

    func testGradientsMatchFiniteDifferences() throws {
        try checkLayerGradients(Pool2x2(.average, context: makeContext()), input: randomTensor([3, 6, 4, 5], seed: 2), training: true)
        // Max: random inputs have distinct values in each window, so a small step does not change the winner.
        try checkLayerGradients(Pool2x2(.max, context: makeContext()), input: randomTensor([3, 6, 4, 5], seed: 3), training: true, epsilon: 1e-3)
    }
}
