import Foundation
import TestSupport
import XCTest

/// samples/api: a Swift package that uses the BSN library product. It must
/// build against this checkout and run a real budgeted search.
final class APISampleTests: XCTestCase {
    func testTheSwiftAPISampleBuildsAndRunsABudgetedSearch() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sample = root.appendingPathComponent("samples/api")
        let lines = try String(contentsOf: sample.appendingPathComponent("Sources/main.swift"), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertLessThanOrEqual(lines.count, 41, "the example stays short")

        // Its own build folder inside ours: reused between runs, removed with .build.
        let scratch = root.appendingPathComponent(".build/api-sample")
        let arguments = ["swift", "build", "-c", "release", "--package-path", sample.path, "--scratch-path", scratch.path]
        var build = try runProgram("/usr/bin/env", arguments)
        if build.status != 0 {
            // An incremental build folder can miss files added to bsn since: build from scratch once.
            try? FileManager.default.removeItem(at: scratch)
            build = try runProgram("/usr/bin/env", arguments)
        }
        XCTAssertEqual(build.status, 0, build.output)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var search = try runProgram(scratch.appendingPathComponent("release/search").path, [], in: folder)
        if search.status > 128 {
            // Killed by a signal: an incremental build can link objects of bsn's old and new type layouts
            // (seen: a crash in the runtime's type metadata at the first call). Build from scratch once.
            try? FileManager.default.removeItem(at: scratch)
            build = try runProgram("/usr/bin/env", arguments)
            XCTAssertEqual(build.status, 0, build.output)
            search = try runProgram(scratch.appendingPathComponent("release/search").path, [], in: folder)
        }
        XCTAssertEqual(search.status, 0, search.output)
        XCTAssertTrue(search.output.contains("epoch 6: loss"), search.output)
        // Learned something under the budget: test accuracy well above chance (0.1), deterministic flops below 6M.
        let test = search.output.split(separator: "\n").first { $0.hasPrefix("test (500 images") }.map(String.init) ?? ""
        let accuracy = test.components(separatedBy: "accuracy ").last.flatMap { Double($0.prefix(6)) } ?? 0
        XCTAssertGreaterThan(accuracy, 0.3, test)
        let trained = search.output.split(separator: "\n").first { $0.hasPrefix("trained 558 steps") }.map(String.init) ?? ""
        let flops = trained.components(separatedBy: "flops deterministic ").last.flatMap { Double($0.prefix { $0 != "M" }) } ?? .infinity
        XCTAssertLessThan(flops, 6, trained.isEmpty ? search.output : trained)
        let png = try Data(contentsOf: folder.appendingPathComponent("api-sample-arch.png"))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    }

}
