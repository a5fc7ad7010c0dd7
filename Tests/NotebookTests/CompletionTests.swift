import Foundation
import Notebook
import XCTest

/// Tab completion, shared by readline and the Jupyter kernel.
final class CompletionTests: XCTestCase {
    func testCommandsThenTheirWordsThenSessionsAfterOpen() {
        XCTAssertEqual(Completion.complete("bui", cursor: 3, sessions: { [] }).matches, ["build"])
        XCTAssertEqual(Completion.complete("train 3 ep", cursor: 10, sessions: { [] }).start, 8)
        XCTAssertEqual(Completion.complete("train 3 ep", cursor: 10, sessions: { [] }).matches, ["epochs"])
        XCTAssertEqual(Completion.complete("open qu", cursor: 7, sessions: { ["quickstart", "other", "quick"] }).matches, ["quick", "quickstart"])
        XCTAssertEqual(Completion.complete("set tens", cursor: 8, sessions: { [] }).matches, ["tensorboard"])
        XCTAssertEqual(Completion.complete("nonsense x", cursor: 10, sessions: { [] }).matches, [])
        // The cursor inside the line: the word before it.
        XCTAssertEqual(Completion.complete("bui 3 epochs", cursor: 3, sessions: { [] }).matches, ["build"])
    }

    func testAWordThatLooksLikeAPathCompletesAsOne() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-complete-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("samples"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data().write(to: folder.appendingPathComponent("samples/quick.bsn"))
        try Data().write(to: folder.appendingPathComponent("samples/.hidden"))
        let line = "export arch \(folder.path)/sam"
        XCTAssertEqual(Completion.complete(line, cursor: line.count, sessions: { [] }).matches, ["\(folder.path)/samples/"])
        let inside = "load cifar10 \(folder.path)/samples/"
        XCTAssertEqual(Completion.complete(inside, cursor: inside.count, sessions: { [] }).matches, ["\(folder.path)/samples/quick.bsn"])
    }

    func testTheCommandOfALineForItsHelp() {
        XCTAssertEqual(Completion.command(in: "  train 5 epochs")?.name, "train")
        XCTAssertEqual(Completion.command(in: "exit")?.name, "quit")
        XCTAssertNil(Completion.command(in: "trian"))
    }
}
