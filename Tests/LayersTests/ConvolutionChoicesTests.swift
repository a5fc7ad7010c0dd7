import Foundation
import Layers
import Tensor
import TestSupport
import XCTest

/// The measured convolution choice: cached per CPU, pinned by sessions, robust to bad cache files.
final class ConvolutionChoicesTests: XCTestCase {
    private let key = "k3 s1 p1 8>8 4x4 t2"

    func testAChoiceIsMeasuredOnceThenReadFromTheCache() throws {
        let file = try temporaryFolder(self).appendingPathComponent("c/conv-choices.json")
        var measurements = 0
        let first = ConvolutionChoices(file: file).algorithm(for: key) { measurements += 1; return [(.gemm, 2e-3), (.direct, 1e-3)] }
        XCTAssertEqual(first, .direct)
        XCTAssertEqual(measurements, 1)
        // A new process (a new instance) reads the file and measures nothing.
        let again = ConvolutionChoices(file: file)
        XCTAssertEqual(again.algorithm(for: key) { XCTFail("measured again"); return [] }, .direct)
        XCTAssertEqual(again.used, [key: "direct"])
        // A session's recorded choice wins over the cache.
        again.pin([key: "gemm"])
        XCTAssertEqual(again.algorithm(for: key) { XCTFail("measured again"); return [] }, .gemm)
    }

    func testADamagedOrForeignCacheIsIgnoredAndRewritten() throws {
        let file = try temporaryFolder(self).appendingPathComponent("conv-choices.json")
        let foreign = #"{"format": "bsn-conv-choices", "version": "\#(ConvolutionChoices.version)", "cpu": "a CPU from elsewhere", "choices": {"\#(key)": "direct"}}"#
        for content in ["{ not json", "[1, 2, 3]", #"{"format": "bsn-conv-choices", "version": "x", "cpu": "y", "choices": {"k": "quantum"}}"#, foreign] {
            try content.write(to: file, atomically: true, encoding: .utf8)
            var measured = false
            let choice = ConvolutionChoices(file: file).algorithm(for: key) { measured = true; return [(.gemm, 1e-3), (.direct, 2e-3)] }
            XCTAssertTrue(measured, "\(content): not trusted, measured")
            XCTAssertEqual(choice, .gemm)
            let rewritten = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
            XCTAssertEqual(rewritten?["cpu"] as? String, ConvolutionChoices.cpu, content)
            XCTAssertEqual((rewritten?["choices"] as? [String: String])?[key], "gemm", content)
        }
    }

    func testAMeasuredLayerUsesTheCachedChoiceAndComputesTheSameAsThatAlgorithm() throws {
        // A layer left to the measured choice computes exactly what that algorithm computes.
        var rng = RNG(seed: 4)
        let measured = Conv2d(8, 8, kernel: 3, rng: &rng)
        let x = randomTensor([2, 4, 4, 8], seed: 9)
        let y = try measured.forward(x, training: false).values
        let chosen = measured.algorithm(height: 4, width: 4)
        rng = RNG(seed: 4)
        let fixed = Conv2d(8, 8, kernel: 3, rng: &rng)
        fixed.algorithm = chosen
        XCTAssertEqual(try fixed.forward(x, training: false).values, y)
    }
}
