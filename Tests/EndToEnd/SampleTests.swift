import Foundation
import TestSupport
import XCTest

/// The sample scripts, run as a user runs them.
final class SampleTests: XCTestCase {
    private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func run(_ sample: String, _ extra: [String] = []) throws -> (BinaryRun, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-sample-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let script = repository.appendingPathComponent("samples/\(sample)").path
        let result = try runBSN(["run", script] + extra, environment: ["BSN_SESSIONS": folder.appendingPathComponent("sessions").path],
                                workingDirectory: folder.path)
        return (result, folder)
    }

    private func pngSize(_ url: URL) throws -> (Int, Int) {
        let bytes = [UInt8](try Data(contentsOf: url))
        XCTAssertEqual(Array(bytes.prefix(8)), [137, 80, 78, 71, 13, 10, 26, 10], "\(url.lastPathComponent) is a PNG")
        let be = { (i: Int) in Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        return (be(16), be(20))
    }

    func testQuickstartSearchesWritesPicturesAndSaves() throws {
        let (r, folder) = try run("quickstart.bsn")
        XCTAssertEqual(r.status, 0, r.stderr)
        for name in ["quickstart-graph.png", "quickstart-arch.png", "quickstart-history.png"] {
            let (w, h) = try pngSize(folder.appendingPathComponent(name))
            XCTAssertEqual(w, 1200)
            XCTAssertGreaterThan(h, 200)
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("sessions/quickstart/\(name)").path))
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("sessions/quickstart/session.json").path))
        // The search meets the budget (4M, within 10%) far below the full network (23.09M), and learns.
        let test = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("test (1000 images") }, r.stdout)
        let numbers = test.split(whereSeparator: { " ;,".contains($0) })
        let accuracy = try XCTUnwrap(numbers.firstIndex(of: "accuracy").flatMap { Double(numbers[$0 + 1]) })
        XCTAssertGreaterThan(accuracy, 0.8, String(test))
        let flops = try XCTUnwrap(test.components(separatedBy: "flops ").last.flatMap { Double($0.dropLast()) })
        XCTAssertLessThan(flops, 4.4, String(test))
        XCTAssertFalse(r.stdout.contains("the search is not moving"), "the quick start searches")
    }

    func testSweepSampleWritesTheParetoTableAndPicture() throws {
        let (r, folder) = try run("sweep.bsn")
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        XCTAssertTrue(r.stdout.contains("warming up 'sweep' once"), r.stdout)
        XCTAssertTrue(r.stdout.contains("12 children of 'sweep'") && r.stdout.contains("3 children of 'sweep'"), r.stdout)
        XCTAssertTrue(r.stdout.contains("halving η=3: rungs at epoch 1, 3, 9; children 12 → "), r.stdout)
        XCTAssertTrue(r.stdout.contains("Pareto front of val accuracy against flops"), r.stdout)
        // The markdown table lists the models that trained in full (the searches halving kept, the 3 baselines), the front marked.
        // "halving η=3: rungs at epoch 1, 3, 9; children 12 → 4 → 2; 32 of 108 child-epochs trained (30%)": the last count trained in full.
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.contains("child-epochs trained") }, r.stdout)
        let counts = line.split(separator: ";")
        XCTAssertEqual(counts.count, 3, String(line))
        let kept = try XCTUnwrap(counts[1].split(separator: "→").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }, String(line))
        let rows = r.stdout.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| model") && !$0.hasPrefix("| ---") }
        XCTAssertEqual(rows.count, kept + 3, r.stdout)
        XCTAssertFalse(rows.filter { $0.hasSuffix("| * |") }.isEmpty)
        XCTAssertTrue(r.stdout.contains("\(12 - kept) stopped by halving"), r.stdout)
        XCTAssertEqual(try pngSize(folder.appendingPathComponent("sweep-pareto.png")).0, 1200)
        let children = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("sessions").path).filter { $0.hasPrefix("sweep.") }
        XCTAssertEqual(children.count, 15, "\(children)")
    }

    func testOwnDataSampleExportsLoadsSearchesAndInfers() throws {
        let (r, folder) = try run("own-data.bsn", [])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("own-data-shapes/classes.txt").path))
        XCTAssertTrue(r.stdout.contains("loaded images in own-data-shapes/: 2000 train, 400 validation, 400 test images"), r.stdout)
        let test = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("test (400 images") }, r.stdout)
        XCTAssertTrue(test.contains("accuracy"), String(test))
        XCTAssertTrue(r.stdout.contains("own-data-shapes/test/circle/00000.png (32x32, as in the test pipeline)"), r.stdout)
    }

    func testFacesSegmentationWritesMasks() throws {
        let (r, folder) = try run("faces-segmentation.bsn")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertGreaterThan(try pngSize(folder.appendingPathComponent("faces-masks.png")).1, 400)
        XCTAssertTrue(r.stdout.contains("mean IoU"), r.stdout)
    }

    func testRealDataSamplesNameTheMissingFolder() throws {
        for sample in ["cifar10-bcnf.bsn", "cifar100-bresnet.bsn", "partlabels-bcnf.bsn"] {
            let (r, _) = try run(sample, ["--set", "data=/nonexistent/data"])
            XCTAssertEqual(r.status, 1, sample)
            XCTAssertTrue(r.stderr.contains("\(sample):") && r.stderr.contains("/nonexistent/data"), "\(sample): \(r.stderr)")
            let (unset, _) = try run(sample)
            XCTAssertTrue(unset.stderr.contains("unknown variable $data") && unset.stderr.contains("--set data="), unset.stderr)
        }
    }
}
