import Foundation
import Layers
import Tensor
import TestSupport
import XCTest

/// The measured convolution choice: cached per CPU, pinned by sessions, robust to bad cache files.
final class ConvolutionChoicesTests: XCTestCase {
    private let shape = "k3 s1 p1 8>8 4x4"
    /// As files write a choice's key: the shape, then the threads.
    private var key: String { shape + " t2" }
    private let gemm = ConvolutionAlgorithms.named("gemm")!, direct = ConvolutionAlgorithms.named("direct")!

    func testAChoiceIsMeasuredOnceThenReadFromTheCache() throws {
        let file = try temporaryFolder(self).appendingPathComponent("c/conv-choices.json")
        var measurements = 0
        let first = ConvolutionChoices(file: file).algorithm(for: shape, threads: 2, .forward) { measurements += 1; return [(gemm, 2e-3), (direct, 1e-3)] }
        XCTAssertEqual(first.name, "direct")
        XCTAssertEqual(measurements, 1)
        // Each pass has its own choice.
        let backward = ConvolutionChoices(file: file).algorithm(for: shape, threads: 2, .weightGradient) { measurements += 1; return [(gemm, 1e-3), (direct, 2e-3)] }
        XCTAssertEqual(backward.name, "gemm")
        XCTAssertEqual(measurements, 2)
        // A new process (a new instance) reads the file and measures nothing.
        let again = ConvolutionChoices(file: file)
        XCTAssertEqual(again.algorithm(for: shape, threads: 2, .forward) { XCTFail("measured again"); return [] }.name, "direct")
        XCTAssertEqual(again.used, [key + " forward": "direct"])
        // A session's recorded choice wins over the cache; one recorded without a pass (earlier versions) pins every pass.
        again.pin([key + " forward": "gemm"])
        XCTAssertEqual(again.algorithm(for: shape, threads: 2, .forward) { XCTFail("measured again"); return [] }.name, "gemm")
        let old = ConvolutionChoices(file: file)
        old.pin([key: "direct"])
        for pass in ConvolutionPass.allCases {
            XCTAssertEqual(old.algorithm(for: shape, threads: 2, pass) { XCTFail("measured again"); return [] }.name, "direct", "\(pass)")
        }
        XCTAssertEqual(old.used.count, 3)
    }

    func testAPinnedChoiceHoldsAtAnotherThreadCountOverTheCache() throws {
        // A sweep's child runs on 1 thread where its parent chose on 2: it computes as the parent chose,
        // whatever this CPU's cache or a new measurement would say.
        let file = try temporaryFolder(self).appendingPathComponent("c/conv-choices.json")
        _ = ConvolutionChoices(file: file).algorithm(for: "k3 s1 p1 8>8 4x4", threads: 1, .forward) { [(gemm, 1e-3), (direct, 2e-3)] }
        let child = ConvolutionChoices(file: file)
        child.pin(["k3 s1 p1 8>8 4x4 t2 forward": "direct"])
        XCTAssertEqual(child.algorithm(for: "k3 s1 p1 8>8 4x4", threads: 1, .forward) { XCTFail("measured"); return [] }.name, "direct")
        XCTAssertEqual(child.used["k3 s1 p1 8>8 4x4 t1 forward"], "direct", "recorded as used")
        // Another shape, or another pass, is not pinned by it.
        XCTAssertEqual(child.algorithm(for: "k3 s1 p1 8>8 8x8", threads: 1, .forward) { [(gemm, 1e-3), (direct, 2e-3)] }.name, "gemm")
        XCTAssertEqual(child.algorithm(for: "k3 s1 p1 8>8 4x4", threads: 1, .weightGradient) { [(gemm, 1e-3), (direct, 2e-3)] }.name, "gemm")
    }

    func testTheCacheIsKeyedByEveryAlgorithmAndItsOwnVersion() {
        // A new algorithm, or a bumped version of one, makes another key: the cache is measured again, with no global bump.
        for a in ConvolutionAlgorithms.all { XCTAssertTrue(ConvolutionChoices.version.contains("\(a.name) \(a.version)"), ConvolutionChoices.version) }
    }

    func testADamagedOrForeignCacheIsIgnoredAndRewritten() throws {
        let file = try temporaryFolder(self).appendingPathComponent("conv-choices.json")
        let foreign = #"{"format": "bsn-conv-choices", "version": "\#(ConvolutionChoices.version)", "cpu": "a CPU from elsewhere", "choices": {"\#(key)": "direct"}}"#
        for content in ["{ not json", "[1, 2, 3]", #"{"format": "bsn-conv-choices", "version": "x", "cpu": "y", "choices": {"k": "quantum"}}"#, foreign] {
            try content.write(to: file, atomically: true, encoding: .utf8)
            var measured = false
            let choice = ConvolutionChoices(file: file).algorithm(for: shape, threads: 2, .forward) { measured = true; return [(gemm, 1e-3), (direct, 2e-3)] }
            XCTAssertTrue(measured, "\(content): not trusted, measured")
            XCTAssertEqual(choice.name, "gemm")
            let rewritten = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
            XCTAssertEqual(rewritten?["cpu"] as? String, ConvolutionChoices.cpu, content)
            XCTAssertEqual((rewritten?["choices"] as? [String: String])?[key + " forward"], "gemm", content)
        }
    }

    func testAMeasuredLayerUsesTheCachedChoiceAndComputesTheSameAsThatAlgorithm() throws {
        // A layer left to the measured choice computes exactly what that algorithm computes.
        var rng = RNG(seed: 4)
        let measured = Conv2d(8, 8, kernel: 3, rng: &rng, context: makeContext())
        let x = randomTensor([2, 4, 4, 8], seed: 9)
        let y = try measured.forward(x, training: false).values
        let chosen = measured.algorithms(height: 4, width: 4)[.forward]!
        rng = RNG(seed: 4)
        let fixed = Conv2d(8, 8, kernel: 3, rng: &rng, context: makeContext())
        fixed.algorithm = chosen
        XCTAssertEqual(try fixed.forward(x, training: false).values, y)
    }
}
