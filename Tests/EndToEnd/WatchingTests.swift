import Foundation
import Session
import SuperNet
import TestSupport
import XCTest

/// Watching a run from outside: TensorBoard's own reader reads bsn's event
/// files back (Tests/Jupyter/tensorboard_dump.py), and Jupyter's own client
/// and nbclient drive the kernel (Tests/Jupyter/test_*.py). `.ci/run`
/// installs tensorboard, jupyter_client, nbclient, ipykernel, nbformat and
/// Pillow (scripts/install-deps.sh --tests).
final class WatchingTests: XCTestCase {
    private var folder: URL!
    private var store: SessionStore { SessionStore(root: folder.appendingPathComponent("sessions")) }
    private static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Jupyter")

    override func setUpWithError() throws {
        folder = try temporaryFolder(self)
        let probe = try runProgram("/usr/bin/env", ["python3", "-c", "import tensorboard, jupyter_client, nbclient, ipykernel, nbformat, PIL"])
        if probe.status != 0 {
            if ProcessInfo.processInfo.environment["BSN_SKIP_JUPYTER"] != nil { throw XCTSkip("BSN_SKIP_JUPYTER is set") }
            XCTFail("these checks need python3 with tensorboard, jupyter_client, nbclient, ipykernel, nbformat and Pillow (scripts/install-deps.sh --tests): \(probe.output)")
            throw XCTSkip("no Jupyter or TensorBoard")
        }
    }

    private var environment: [String: String?] {
        ["BSN_SESSIONS": folder.appendingPathComponent("sessions").path, "BSN_HISTORY": folder.appendingPathComponent("history").path,
         "BSN_CACHE": folder.appendingPathComponent("cache").path]
    }

    private func run(_ name: String, _ text: String) throws -> BinaryRun {
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try runBSN(["run", path], environment: environment, workingDirectory: folder.path)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        return r
    }

    /// What TensorBoard's reader finds in a run folder: scalars by tag as (step, value), images by tag as (step, width, height).
    private func readBack(_ run: URL) throws -> (scalars: [String: [(Int, Float)]], images: [String: [[Int]]]) {
        let (scalars, images, _) = try readAll(run)
        return (scalars, images)
    }

    /// readBack, and the HParams plugin's data by tag (as JSON objects).
    private func readAll(_ run: URL) throws -> (scalars: [String: [(Int, Float)]], images: [String: [[Int]]], hparams: [String: [String: Any]]) {
        let r = try runProgram("/usr/bin/env", ["python3", Self.scripts.appendingPathComponent("tensorboard_dump.py").path, run.path])
        XCTAssertEqual(r.status, 0, r.output)
        let line = try XCTUnwrap(r.output.split(separator: "\n").last { $0.hasPrefix("{") }, r.output)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let scalars = try XCTUnwrap(json["scalars"] as? [String: [[Double]]]).mapValues { $0.map { (Int($0[0]), Float($0[1])) } }
        let images = try XCTUnwrap(json["images"] as? [String: [[Int]]])
        return (scalars, images, try XCTUnwrap(json["hparams"] as? [String: [String: Any]]))
    }

    /// Every scalar written equals the session's metrics files (steps-*.jsonl, epochs-*.jsonl), step by step, from `after` on.
    private func assertScalarsEqualMetrics(_ scalars: [String: [(Int, Float)]], _ s: Session, after first: Int = 0, segmentation: Bool = false,
                                           file: StaticString = #filePath, line: UInt = #line) {
        let steps = s.steps.filter { $0.step > first }
        XCTAssertFalse(steps.isEmpty, file: file, line: line)
        let perStep: [(String, (StepMetrics) -> Double)] = [("train/loss", \.loss), ("train/accuracy", \.accuracy), ("train/learning_rate", { Double($0.learningRate) }),
                                                              ("cost/sampled", \.sampledCost), ("cost/deterministic", \.deterministicCost), ("gates/entropy", \.gateEntropy)]
        for (tag, value) in perStep {
            let read = scalars[tag] ?? []
            XCTAssertEqual(read.map(\.0), steps.map(\.step), tag, file: file, line: line)
            XCTAssertEqual(read.map(\.1), steps.map { Float(value($0)) }, tag, file: file, line: line)
        }
        let perEpoch = max(1, (s.loader?.batchesPerEpoch ?? 1))
        let epochs = s.epochs.filter { $0.epoch * perEpoch > first }
        let perEpochTags: [(String, (EpochMetrics) -> Double?)] = [(segmentation ? "val/pixel_accuracy" : "val/accuracy", \.validationAccuracy),
                                                                    ("cost/expected", \.expectedCost)] + (segmentation ? [("val/mean_iou", \.validationMeanIoU)] : [])
        for (tag, value) in perEpochTags {
            let read = scalars[tag] ?? [], expected = epochs.compactMap { e in value(e).map { (e.epoch * perEpoch, Float($0)) } }
            XCTAssertEqual(read.map(\.0), expected.map(\.0), tag, file: file, line: line)
            XCTAssertEqual(read.map(\.1), expected.map(\.1), tag, file: file, line: line)
        }
    }

    func testTensorBoardReadsBackEveryScalarEqualToTheMetricsFilesAndTheGraphPictures() throws {
        _ = try run("watched.bsn", """
        load shapes train=320 val=64 test=64
        set batch 32
        build cnf W=2 S=3 C=8
        budget flops 1M lambda=1e-6
        set path-lr 0.05
        set tensorboard runs
        warmup 1 epochs
        train 2 epochs
        train 1 epochs --no-val
        """)
        let s = try store.open("watched")
        let (scalars, images) = try readBack(folder.appendingPathComponent("runs/watched"))
        XCTAssertEqual(s.steps.count, 30)
        assertScalarsEqualMetrics(scalars, s)
        // The last epoch trained without validation: no val/accuracy at its step.
        XCTAssertEqual(scalars["val/accuracy"]?.map(\.0), [10, 20])
        XCTAssertEqual(scalars["cost/expected"]?.map(\.0), [10, 20, 30])
        // The graph, once per epoch, at the epoch's last step, 800 pixels wide.
        XCTAssertEqual(images["architecture/graph"]?.map { $0[0] }, [10, 20, 30])
        XCTAssertEqual(Set(images["architecture/graph"]?.map { $0[1] } ?? []), [800])
    }

    func testTensorBoardLogsOfASegmentationRunAndOfEverySweepChild() throws {
        _ = try run("faces.bsn", """
        load faces train=48 val=16 test=16 size=32
        set batch 16
        set threads 2
        build cnf-seg W=2 S=3 C=8
        warmup 1 epochs
        train 2 epochs
        sweep budget flops 1M,2M lambda=1e-6 epochs=1 tensorboard=runs --workers=2
        """)
        let parent = try store.open("faces")
        XCTAssertEqual(parent.settings.tensorboard, folder.appendingPathComponent("runs").standardizedFileURL.path)
        for child in ["faces.flops-1M.lambda-1e-06.abs", "faces.flops-2M.lambda-1e-06.abs"] {
            let s = try store.open(child)
            let (scalars, images) = try readBack(folder.appendingPathComponent("runs/\(child)"))
            // A child's run holds what the child trained: the steps after its parent's.
            assertScalarsEqualMetrics(scalars, s, after: 6, segmentation: true)
            XCTAssertEqual(images["architecture/graph"]?.count, 1, child)
        }
        // The parent trained before tensorboard= was given: no run of its own.
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("runs/faces").path))
    }

    func testParetoWritesEveryModelAsARowOfTensorBoardsHParamsTable() throws {
        let r = try run("front.bsn", """
        load shapes train=128 val=64 test=64
        set batch 32
        build cnf W=2 S=3 C=8
        sweep budget flops 500k,1M lambda=1e-6,1e-5 epochs=1 tensorboard=runs --workers=2
        pareto --all --json tensorboard=runs
        """)
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").last { $0.contains("\"rows\"") }, r.stdout)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertTrue((report["hparams"] as? String)?.contains("4 models") == true, "\(report["hparams"] ?? "nil")")
        let rows = try XCTUnwrap(report["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.count, 4)
        // The experiment (the table's columns) in the parent's run.
        let experiment = try readAll(folder.appendingPathComponent("runs/front")).hparams["_hparams_/experiment"]?["experiment"] as? [String: Any]
        XCTAssertEqual((experiment?["hparamInfos"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["model", "kind", "budget", "lambda", "seed"])
        XCTAssertEqual((experiment?["metricInfos"] as? [[String: Any]])?.compactMap { ($0["name"] as? [String: Any])?["tag"] as? String },
                       ["pareto/val_accuracy", "pareto/test_accuracy", "pareto/flops", "pareto/on_front"])
        for row in rows {
            let session = try XCTUnwrap(row["session"] as? String)
            let (scalars, _, hparams) = try readAll(folder.appendingPathComponent("runs/\(session)"))
            let start = try XCTUnwrap(hparams["_hparams_/session_start_info"]?["sessionStartInfo"] as? [String: Any], session)
            let values = try XCTUnwrap(start["hparams"] as? [String: Any])
            XCTAssertEqual(values["model"] as? String, row["model"] as? String)
            XCTAssertEqual(values["budget"] as? Double, row["budget"] as? Double)
            XCTAssertEqual(values["lambda"] as? Double, row["lambda"] as? Double)
            XCTAssertEqual((hparams["_hparams_/session_end_info"]?["sessionEndInfo"] as? [String: Any])?["status"] as? String, "STATUS_SUCCESS")
            // The results at the child's last step, as the report has them (32-bit floats in TensorBoard).
            let steps = try XCTUnwrap(row["steps"] as? Int)
            XCTAssertEqual(scalars["pareto/val_accuracy"]?.map(\.0), [steps])
            XCTAssertEqual(scalars["pareto/val_accuracy"]?.first?.1, Float(try XCTUnwrap(row["validationAccuracy"] as? Double)))
            XCTAssertEqual(scalars["pareto/flops"]?.first?.1, Float(try XCTUnwrap(row["cost"] as? Double)))
            XCTAssertEqual(scalars["pareto/on_front"]?.first?.1, (row["onFront"] as? Bool) == true ? 1 : 0)
            XCTAssertEqual(scalars["pareto/test_accuracy"]?.first?.1, (row["testAccuracy"] as? Double).map(Float.init))
            // Beside the child's training curves.
            XCTAssertEqual(scalars["train/loss"]?.count, 4, session)
        }
    }

    func testARunInterruptedWithCtrlCLeavesAReadableLog() throws {
        let script = folder.appendingPathComponent("long.bsn")
        try """
        load shapes train=640 val=64 test=64
        set batch 32
        build cnf W=3 S=3 C=16
        set tensorboard runs
        train 500 epochs
        """.write(to: script, atomically: true, encoding: .utf8)
        let process = try startBSN(["run", script.path], environment: environment, in: folder)
        // Interrupt once the second epoch's file is written: mid-epoch, most likely.
        let run = folder.appendingPathComponent("runs/long")
        let deadline = Date().addingTimeInterval(120)
        while ((try? FileManager.default.contentsOfDirectory(atPath: run.path))?.filter { $0.contains("tfevents") }.count ?? 0) < 2, Date() < deadline {
            usleep(50_000)
        }
        usleep(300_000)
        process.interrupt()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130)
        let s = try store.open("long")
        XCTAssertGreaterThan(s.steps.count, 40)
        XCTAssertLessThan(s.steps.count, 500 * 20)
        // Every step trained before the interrupt is in the log, as saved.
        let (scalars, _) = try readBack(run)
        assertScalarsEqualMetrics(scalars, s)
    }

    /// Jupyter's client against the kernel: start time, completion, help, errors, interrupt, restart (Tests/Jupyter/test_kernel.py).
    func testTheKernelThroughJupyterClient() throws {
        try runPython("test_kernel.py")
    }

    /// nbclient executes samples/quickstart.ipynb and samples/faces-segmentation.ipynb (Tests/Jupyter/test_notebooks.py).
    func testTheSampleNotebooksExecute() throws {
        try runPython("test_notebooks.py")
    }

    private func runPython(_ name: String) throws {
        let r = try runProgram("/usr/bin/env", ["BSN=\(try bsnBinaryPath())", "BSN_CACHE=\(folder.appendingPathComponent("cache").path)",
                                                "BSN_HISTORY=\(folder.appendingPathComponent("history").path)",
                                                "python3", Self.scripts.appendingPathComponent(name).path], in: folder)
        print(r.output.split(separator: "\n").filter { !$0.contains("Kernel is running over TCP") }.joined(separator: "\n"))
        XCTAssertEqual(r.status, 0, r.output)
    }
}

/// `bsn kernel-server`, the Jupyter kernel's side of bsn, driven directly:
/// every line it writes is one JSON frame, in the documented order.
final class KernelServerTests: XCTestCase {
    func testEveryAnswerIsOneJSONFrameInOrder() throws {
        let folder = try temporaryFolder(self)
        let requests = [
            #"{"id": 1, "execute": "load shapes train=128 val=32 test=32\nset batch 32\nbuild cnf W=2 S=3 C=8\ncosts"}"#,
            #"{"id": 2, "execute": "train 2 epochs\nrender history h.png --width=400\nsessions --json"}"#,
            #"{"id": 3, "execute": "set lr 0.07\ntrian 3\nset lr 0.09"}"#,
            #"{"id": 4, "complete": "set tens", "cursor": 8}"#,
            #"{"id": 5, "inspect": "render graph g.png", "cursor": 1}"#,
            "not json",
            #"{"id": 6, "execute": "set"}"#,
        ]
        let r = try runBSN(["kernel-server", "--session", "served"], environment: ["BSN_SESSIONS": folder.appendingPathComponent("sessions").path,
                                                                                   "BSN_CACHE": folder.appendingPathComponent("cache").path],
                           input: requests.joined(separator: "\n") + "\n", workingDirectory: folder.path)
        XCTAssertEqual(r.status, 0, r.stderr)
        let frames = try r.stdout.split(separator: "\n").map { line in
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON frame: \(line)")
        }
        func events(_ id: Int) -> [[String: Any]] { frames.filter { $0["id"] as? Int == id } }
        func kinds(_ id: Int) -> [String] { events(id).map { $0["event"] as? String ?? "?" } }

        XCTAssertEqual(frames.first?["event"] as? String, "ready")
        XCTAssertEqual(frames.first?["session"] as? String, "served")
        XCTAssertEqual(kinds(1), ["output", "output", "output", "output", "done"])
        XCTAssertTrue((events(1)[3]["html"] as? String)?.contains("<table>") == true, "costs as an HTML table")
        XCTAssertEqual(events(1).last?["ok"] as? Bool, true)

        // Training: its live display (created, then updated), its output with the epoch table; the picture's absolute path.
        let live = events(2).filter { $0["event"] as? String == "live" }
        XCTAssertGreaterThanOrEqual(live.count, 3)
        XCTAssertEqual(Set(live.compactMap { $0["key"] as? String }).count, 1)
        XCTAssertTrue((live.last?["html"] as? String)?.contains("data:image/png;base64,") == true)
        let outputs = events(2).filter { $0["event"] as? String == "output" }
        XCTAssertTrue((outputs[0]["html"] as? String)?.contains("val acc") == true)
        XCTAssertEqual(outputs[1]["pictures"] as? [String], [folder.appendingPathComponent("h.png").standardizedFileURL.path])
        XCTAssertNotNil((outputs[2]["text"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }, "--json: the output's JSON")
        XCTAssertNil(outputs[2]["html"])

        // The first failing line ends the cell: its error names the line, the line after it does not run.
        XCTAssertEqual(kinds(3), ["output", "error", "done"])
        XCTAssertEqual(events(3)[1]["line"] as? Int, 2)
        XCTAssertEqual(events(3).last?["ok"] as? Bool, false)
        XCTAssertTrue((events(6).first?["text"] as? String)?.contains("lr 0.07") == true)

        XCTAssertEqual(events(4).first?["matches"] as? [String], ["tensorboard"])
        XCTAssertEqual(events(4).first?["start"] as? Int, 4)
        XCTAssertTrue((events(5).first?["text"] as? String)?.hasPrefix("render graph|arch") == true)
        XCTAssertTrue(frames.contains { ($0["message"] as? String)?.contains("one JSON object per line") == true })
        // End of input saved the session.
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("sessions/served/session.json").path))
    }
}
