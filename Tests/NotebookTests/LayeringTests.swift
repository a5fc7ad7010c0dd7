import Foundation
import XCTest

/// The notebook is a thin layer over the Session API: its commands parse,
/// call one verb and return an output. This test keeps it that way.
final class LayeringTests: XCTestCase {
    private let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/Notebook")

    /// Each Swift file's lines of code (comments cut), with their numbers.
    private func code() throws -> [(file: String, line: Int, code: String)] {
        let files = try FileManager.default.contentsOfDirectory(atPath: sources.path).filter { $0.hasSuffix(".swift") }.sorted()
        XCTAssertFalse(files.isEmpty)
        return try files.flatMap { file in
            try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { n, line in
                    (file, n + 1, String(line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""))
                }
        }
    }

    func testNotebookImportsOnlyTheModulesItIsMeantToUse() throws {
        // The Session API and what its values are made of; the terminal; nothing of the engine (Layers, Tensor's kernels, Files).
        let allowed: Set = ["Foundation", "Session", "Interface", "Datasets", "SuperNet", "Tensor", "Render", "CReadline"]
        for (file, n, line) in try code() where line.hasPrefix("import ") {
            let module = line.dropFirst("import ".count).trimmingCharacters(in: .whitespaces)
            XCTAssertTrue(allowed.contains(module), "Sources/Notebook/\(file):\(n) imports \(module)")
        }
    }

    func testNotebookSourcesUseOnlyTheSessionAPI() throws {
        // Engine internals and file layouts belong to the modules below.
        let forbidden = ["GraphView", "PNG.write", ".trainer", ".executor", ".optimizer", "session.json", "printJSON", "Ranks.", "ExecutionContext"]
        for (file, n, line) in try code() {
            for word in forbidden where line.contains(word) {
                XCTFail("Sources/Notebook/\(file):\(n) uses '\(word)': \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
    }

    func testCommandsAskACostRatherThanTestItsType() throws {
        // (A command cannot assign into the session: its state's setters are internal to the Session module.)
        let typeTest = try NSRegularExpression(pattern: #"\bis [A-Z][A-Za-z]*Cost\.Choice\b"#)
        for (file, n, line) in try code() where file.contains("Command") {
            if typeTest.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) != nil {
                XCTFail("Sources/Notebook/\(file):\(n) tests a cost's type (ask the cost instead): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
    }
}
