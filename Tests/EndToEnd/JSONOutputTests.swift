import Foundation
import Notebook
import TestSupport
import XCTest

/// `--json`: every command prints exactly one JSON object, whatever it does.
final class JSONOutputTests: XCTestCase {
    func testEveryCommandPrintsExactlyOneJSONObjectWithJSON() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-json-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let lines = [
            "help", "help train", "load shapes train=64 val=16 test=16", "data", "build cnf W=2 S=3 C=4", "summary",
            "budget parallel 2 30 lambda=1e-2 allocation=critical-path", "costs --parallel=1,2", "set", "set lr 0.05", "set data here",
            "schedule 0.1 @2:0.01", "warmup 1 steps", "train 3 steps", "eval val", "sample 2", "inspect", "arch",
            "export arch a.json", "export script s.bsn", "render graph g.png --schedule=2", "export model m.bsnmodel", "export onnx m.onnx", "infer g.png",
            "sweep budget flops 100k,200k lambda=1e-6 epochs=1 --workers=2", "pareto", "budget off", "save j", "sessions",
            "history 2 --output", "clear", "new j2", "open j", "quit",
        ].map { $0 + " --json" }
        // Every command of the registry is exercised.
        let used = Set(lines.map { String($0.split(separator: " ")[0]) })
        XCTAssertEqual(Set(Registry.names).subtracting(used), [], "commands without a --json case")

        let script = folder.appendingPathComponent("json.bsn")
        try lines.joined(separator: "\n").write(to: script, atomically: true, encoding: .utf8)
        let run = try runBSN(["run", script.path], environment: ["BSN_SESSIONS": folder.appendingPathComponent("sessions").path],
                             workingDirectory: folder.path)
        XCTAssertEqual(run.status, 0, run.stderr)
        let printed = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(printed.count, lines.count, run.stdout)
        for (line, output) in zip(lines, printed) {
            let object = try? JSONSerialization.jsonObject(with: Data(output.utf8))
            XCTAssertTrue(object is [String: Any], "\(line) printed: \(output)")
        }
        // Data, not prose: a few fields checked by name.
        func object(_ k: Int) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(printed[k].utf8))) as? [String: Any] ?? [:] }
        XCTAssertEqual((object(4)["gates"] as? Int), 11)
        XCTAssertEqual(((object(6)["cost"] as? [String: Any])?["name"] as? String), "parallel-2-cp")
        XCTAssertEqual((object(13)["stepsDone"] as? Int), 3)
        XCTAssertEqual((object(13)["epochs"] as? [Any])?.count, 3, "64 images in batches of 64: one step per epoch")

        // Piped into the notebook (the REPL's standard input is not a terminal): stdout is the same stream of
        // objects, and the save at the end of input is a status line on stderr, not on stdout.
        let sessions = ["BSN_SESSIONS": folder.appendingPathComponent("sessions").path]
        let piped = lines.filter { !["quit", "new", "open", "save"].contains(String($0.split(separator: " ")[0])) }
        let notebook = try runBSN(["--session", "piped"], environment: sessions, input: piped.joined(separator: "\n") + "\n", workingDirectory: folder.path)
        XCTAssertEqual(notebook.status, 0, notebook.stderr)
        let objects = notebook.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(objects.count, piped.count, notebook.stdout)
        for (line, output) in zip(piped, objects) {
            XCTAssertTrue((try? JSONSerialization.jsonObject(with: Data(output.utf8))) is [String: Any], "\(line) printed: \(output)")
        }
        XCTAssertTrue(notebook.stderr.contains("saved session 'piped'"), "the end of input's save is a status line on stderr: " + notebook.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("sessions/piped/session.json").path))

        // A failing command's one object is its error (on stderr too).
        for (line, expected) in [("train 3 stepz --json", "expected steps or epochs after 3, got 'stepz'"), ("frobnicate --json", "unknown command 'frobnicate'"),
                                 ("load shapes tran=5 --json", "tran")] {
            let failed = try runBSN(["--session", "failing"], environment: sessions, input: line + "\n", workingDirectory: folder.path)
            XCTAssertEqual(failed.status, 1, line)
            let object = (try? JSONSerialization.jsonObject(with: Data(failed.stdout.utf8))) as? [String: Any]
            XCTAssertTrue((object?["error"] as? String)?.contains(expected) == true, "\(line) printed: \(failed.stdout)")
            XCTAssertTrue(failed.stderr.contains(expected), failed.stderr)
        }
    }
}
