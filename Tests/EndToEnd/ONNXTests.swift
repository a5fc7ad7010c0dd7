import Datasets
import Foundation
import Session
import SuperNet
import Tensor
import TestSupport
import XCTest

/// `export onnx` checked against a real runtime: ONNX Runtime (Python, run by
/// Tests/ONNXCheck/onnx_check.py) computes the logits of 64 test images and
/// they must equal bsn's. `.ci/run` installs onnxruntime and onnx.
final class ONNXTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = try temporaryFolder(self)
        let probe = try runProgram("/usr/bin/env", ["python3", "-c", "import onnxruntime, onnx, numpy"])
        if probe.status != 0 {
            if ProcessInfo.processInfo.environment["BSN_SKIP_ONNX_RUNTIME"] != nil { throw XCTSkip("BSN_SKIP_ONNX_RUNTIME is set") }
            XCTFail("the ONNX checks need python3 with onnxruntime, onnx and numpy (pip install onnxruntime onnx): \(probe.output)")
            throw XCTSkip("no ONNX Runtime")
        }
    }

    /// A tensor's values as little-endian float32.
    private func write(_ t: Tensor, to name: String) throws -> String {
        let url = folder.appendingPathComponent(name)
        try t.values.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: url)
        return url.path
    }

    /// Exports `s`'s model as a model file, then as ONNX from that file; runs
    /// 64 test images through bsn and ONNX Runtime; returns the checker's report.
    private func compare(_ s: Session, name: String) throws -> [String: Any] {
        let modelFile = folder.appendingPathComponent("\(name).bsnmodel").path
        try s.exportModel(to: modelFile)
        let model = try ExportedModel(file: modelFile)
        let onnxFile = folder.appendingPathComponent("\(name).onnx").path
        let message = try model.exportONNX(to: onnxFile).text
        XCTAssertTrue(message.contains("ONNX opset 17"), message)

        let d = try XCTUnwrap(s.dataset)
        let test = d.test.subset(0..<min(64, d.test.count))
        let images = try XCTUnwrap(EvaluationBatches(test, augmentation: d.augmentation, batchSize: test.count).makeIterator().next()).images
        let logits = try model.logits(images)
        let (n, h, w, c) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let nchw = Tensor(shape: [n, c, h, w])
        for e in 0..<n { for y in 0..<h { for x in 0..<w { for k in 0..<c { nchw.data[((e * c + k) * h + y) * w + x] = images.data[((e * h + y) * w + x) * c + k] } } } }
        let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("ONNXCheck/onnx_check.py").path
        let r = try runProgram("/usr/bin/env", ["python3", checker, onnxFile, try write(nchw, to: "\(name).in.f32"), "\(n),\(c),\(h),\(w)",
                                         try write(logits, to: "\(name).logits.f32"), d.isSegmentation ? "segmentation" : "classification"])
        print(r.output.trimmingCharacters(in: .whitespacesAndNewlines))
        let line = try XCTUnwrap(r.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init), r.output)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(r.status, 0, "\(name): \(r.output)")
        XCTAssertEqual(report["images"] as? Int, 64)
        return report
    }

    func testABudgetedCNFFoundByAShortSearchRunsTheSameInONNXRuntime() throws {
        let s = Session(name: "bcnf", seed: 2)
        try s.load(Shapes(train: 512, validation: 64, test: 64))
        try s.set(.batch(32))
        try s.build(.cnf(columns: 3, scales: 4, channels: 8, segmentation: false, gated: true))
        try s.budget(FlopsCost.Choice(), Budget(limit: 1e6, lambda: 1e-6))
        try s.set(.pathLearningRate(0.1))
        try s.setWarmup(.epochs(1))
        try s.train(.epochs(4), validate: false)
        let net = try XCTUnwrap(s.network)
        XCTAssertLessThan(net.deterministicArchitecture.active.count, net.nodes.count, "the search pruned something")
        let report = try compare(s, name: "bcnf")
        XCTAssertLessThanOrEqual(try XCTUnwrap(report["relative_difference"] as? Double), 1e-4)
    }

    static func space(_ name: String, _ given: [String: Int] = [:]) throws -> Fabric {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../samples/spaces/\(name)").standardized.path
        return .space(try SpaceSource.read(path, given: given))
    }

    /// Gated 3x3, 5x5 and skip candidates, searched under a budget: the runtime's logits within 1e-4, the same classes.
    func testAModelSearchedInTheChoiceBlockSpaceRunsTheSameInONNXRuntime() throws {
        let s = Session(name: "choice", seed: 4)
        try s.load(Shapes(train: 512, validation: 64, test: 64))
        try s.set(.batch(32))
        try s.set(.learningRate(0.02))
        try s.build(try Self.space("choice-blocks.yaml", ["C": 4]))
        let full = FlopsCost(try XCTUnwrap(s.network)).cost(of: try XCTUnwrap(s.network).fullArchitecture)
        try s.budget(FlopsCost.Choice(), Budget(limit: 0.4 * full, lambda: 2 / full))
        try s.set(.pathLearningRate(0.1))
        try s.setWarmup(.epochs(1))
        try s.train(.epochs(4), validate: false)
        let net = try XCTUnwrap(s.network)
        let kept = net.deterministicArchitecture.active
        XCTAssertLessThan(kept.count, net.nodes.count, "the search pruned something")
        XCTAssertTrue(net.nodes.indices.contains { kept.contains($0) && net.nodes[$0].module?.kind == .skip }, "a skip candidate is kept")
        let report = try compare(s, name: "choice")
        XCTAssertLessThanOrEqual(try XCTUnwrap(report["max_abs_difference"] as? Double), 1e-4)
        XCTAssertEqual(try XCTUnwrap(report["argmax_agreement"] as? Double), 1)
    }

    /// Max pools, up-convolutions and skips of the U-Net space, per pixel.
    func testAUNetSpaceModelAgreesOnEveryPixelsClass() throws {
        let s = Session(name: "unet", seed: 5)
        try s.load(Faces(side: 32, train: 64, validation: 16, test: 64))
        try s.set(.batch(16))
        try s.build(try Self.space("unet.yaml", ["C": 4]))
        try s.train(.steps(6), validate: false)
        let report = try compare(s, name: "unet")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(report["argmax_agreement"] as? Double), 0.999)
        XCTAssertLessThanOrEqual(try XCTUnwrap(report["relative_difference"] as? Double), 1e-4)
    }

    func testAResNet20BaselineRunsTheSameInONNXRuntime() throws {
        let s = Session(name: "resnet", seed: 3)
        try s.load(Shapes(train: 128, validation: 32, test: 64))
        try s.set(.batch(32))
        try s.build(try XCTUnwrap(Fabric.resnet(depth: 20)))
        try s.train(.steps(6), validate: false)        // batch-norm statistics away from their start
        let report = try compare(s, name: "resnet20")
        XCTAssertLessThanOrEqual(try XCTUnwrap(report["relative_difference"] as? Double), 1e-4)
    }

    func testASegmentationCNFAgreesOnEveryPixelsClass() throws {
        let s = Session(name: "seg", seed: 4)
        try s.load(Faces(side: 32, train: 64, validation: 16, test: 64))
        try s.set(.batch(16))
        try s.build(.cnf(columns: 2, scales: 3, channels: 8, segmentation: true, gated: true))
        try s.budget(FlopsCost.Choice(), Budget(limit: 1e6, lambda: 1e-6))
        try s.set(.pathLearningRate(0.1))
        try s.train(.epochs(3), validate: false)
        let report = try compare(s, name: "seg")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(report["argmax_agreement"] as? Double), 0.999)
    }

    func testAnEmptyArchitectureIsRefusedAndNothingWritten() throws {
        let s = Session(name: "empty", seed: 1)
        try s.load(Shapes(train: 64, validation: 16, test: 16))
        try s.build(.cnf(columns: 2, scales: 3, channels: 4, segmentation: false, gated: true))
        try XCTUnwrap(s.network).gateLogits.value.fill(-30)       // every gate off
        let path = folder.appendingPathComponent("empty.onnx").path
        assertThrows(try s.exportONNX(to: path), mentions: ["no input → output path"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
