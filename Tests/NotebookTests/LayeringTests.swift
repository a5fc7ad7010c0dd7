import Foundation
import XCTest

/// The notebook is a thin layer over the Session API: its commands parse,
/// call one verb and return an output. This test keeps it that way.
final class LayeringTests: XCTestCase {
    func testNotebookSourcesUseOnlyTheSessionAPI() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Notebook")
        let files = try FileManager.default.contentsOfDirectory(atPath: sources.path).filter { $0.hasSuffix(".swift") }
        XCTAssertFalse(files.isEmpty)
        // Engine internals and file layouts belong to the modules below.
        let forbidden = ["import Layers", "GraphView", "PNG.write", ".trainer", ".executor", ".optimizer", "session.json", "printJSON"]
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                for word in forbidden where code.contains(word) {
                    XCTFail("Sources/Notebook/\(file):\(n + 1) uses '\(word)': \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
    }
}
