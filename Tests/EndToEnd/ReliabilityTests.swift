import Datasets
import Foundation
import Fuzz
import Session
import Tensor
import TestSupport
import XCTest

/// The findings of the reliability issue (F1–F8), each through the real binary,
/// and crash consistency under kill -9.
final class ReliabilityTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = try temporaryFolder(self)
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func bsn(_ arguments: [String], input: String? = nil) throws -> BinaryRun {
        try runBSN(arguments, environment: ["BSN_SESSIONS": folder.appendingPathComponent("sessions").path,
                                            "BSN_HISTORY": folder.appendingPathComponent("history").path],
                   input: input, workingDirectory: folder.path)
    }

    private func assertNoCrash(_ run: BinaryRun, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue([0, 1].contains(run.status), "\(what): exit \(run.status)\n\(run.stderr.suffix(2000))", file: file, line: line)
        XCTAssertFalse(run.stderr.contains("Fatal error") || run.stderr.contains("runtime failure"), run.stderr, file: file, line: line)
    }

    /// Learning rate 10, weight decay 1, momentum 0.99: the loss grows tenfold a step and overflows at step 43.
    static let diverging = """
    load shapes train=64 val=16 test=16
    build cnf W=2 S=3 C=4
    set lr 10
    set wd 1
    set momentum 0.99
    train 100 steps
    """

    // F1, F2, F3: a diverged run keeps the last finite state, saves it, and every command works on it.
    func testDivergedTrainingKeepsTheLastFiniteStateAndEveryCommandWorks() throws {
        let script = try write("diverge.bsn", Self.diverging + """

        inspect
        inspect --json
        sample 3
        costs --json
        summary --json
        arch
        render graph g.png
        render arch a.png
        render history h.png
        export arch empty.json
        eval test --json
        """)
        let run = try bsn(["run", script, "--keep-going"])
        assertNoCrash(run, "diverged session")
        XCTAssertEqual(run.status, 1, "the divergence is an error of the train command")
        XCTAssertTrue(run.stderr.contains("diverge.bsn:6: error: training diverged at step 43 (loss inf); weights of step 42 kept; lower lr"), run.stderr)
        XCTAssertTrue(run.stdout.contains("saved session 'diverge'"), run.stdout)
        for picture in ["g.png", "a.png", "h.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(picture).path), picture)
        }
        // The gates all closed on the way: nothing to export, and nothing written.
        XCTAssertTrue(run.stderr.contains("export arch: the deterministic architecture has no input → output path"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("empty.json").path))

        // The saved session opens in a new process at step 42, and its files hold no NaN.
        let reopened = try bsn(["--session", "diverge"], input: "inspect\ntrain 1 steps\n")
        assertNoCrash(reopened, "reopened")
        XCTAssertTrue(reopened.stdout.contains("11 gates"), reopened.stdout)
        XCTAssertTrue(reopened.stderr.contains("training diverged at step 43"), "same state, same batch: \(reopened.stderr)")
        let session = folder.appendingPathComponent("sessions/diverge")
        for name in try FileManager.default.contentsOfDirectory(atPath: session.path) where name.hasSuffix(".json") || name.hasSuffix(".jsonl") {
            let text = try String(contentsOf: session.appendingPathComponent(name), encoding: .utf8)
            XCTAssertFalse(text.lowercased().contains("nan"), "\(name) holds a NaN")
        }
        let manifest = try String(contentsOf: session.appendingPathComponent("session.json"), encoding: .utf8)
        XCTAssertTrue(manifest.contains("\"step\" : 42"), manifest)
    }

    // F2 on the segmentation fabric: graph, architecture and masks after training that diverges.
    func testSegmentationViewsAfterDivergence() throws {
        let script = try write("seg.bsn", """
        load faces train=16 val=8 test=8 size=16
        build cnf-seg W=2 S=3 C=4
        set lr 10
        set wd 1
        set momentum 0.99
        train 60 steps
        render graph g.png
        render arch a.png
        render masks m.png n=2
        inspect
        """)
        let run = try bsn(["run", script, "--keep-going"])
        assertNoCrash(run, "segmentation")
        for picture in ["g.png", "a.png", "m.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(picture).path), "\(picture): \(run.stderr)")
        }
    }

    func testLearningRatesHaveBounds() throws {
        let run = try bsn(["run", try write("lr.bsn", "set lr 1e30\nset path-lr -1\nschedule 86136246333364453242\nschedule 0.1 @99999999999:0.01\nset lr 1e-3\n"), "--keep-going"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("set lr: expected a number in [0, 10], got '1e30'"), run.stderr)
        XCTAssertTrue(run.stderr.contains("set path-lr: expected a number in [0, 100]"), run.stderr)
        XCTAssertTrue(run.stderr.contains("schedule: expected a learning rate in [0, 10], got '86136246333364453242'"), run.stderr)
        XCTAssertTrue(run.stderr.contains("lr.bsn:4: error: schedule: expected @<epoch>:<lr>"), run.stderr)
        XCTAssertTrue(run.stdout.contains("lr = 1e-3"), run.stdout)
    }

    // F3: a save that cannot complete says why, keeps the previous generation, and sets the exit status.
    func testAFailedSaveIsReportedAndLeavesThePreviousSaveIntact() throws {
        let script = try write("x.bsn", "load shapes train=64 val=16 test=16\nbuild cnf W=2 S=3 C=4\ntrain 2 steps\n")
        XCTAssertEqual(try bsn(["run", script]).status, 0)
        // A folder where the next state file goes: its rename fails.
        let session = folder.appendingPathComponent("sessions/x")
        try FileManager.default.createDirectory(at: session.appendingPathComponent("state-2.bin/keep"), withIntermediateDirectories: true)
        // The same script again: a fresh session 'x' whose save follows generation 1 (opening would clear the trap).
        let failed = try bsn(["run", script])
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.contains("the autosave failed: cannot save session 'x'"), failed.stderr)
        XCTAssertTrue(failed.stderr.contains("its previous save is intact"), failed.stderr)
        let manifest = try String(contentsOf: session.appendingPathComponent("session.json"), encoding: .utf8)
        XCTAssertTrue(manifest.contains("\"generation\" : 1"), manifest)
        let names = try FileManager.default.contentsOfDirectory(atPath: session.path)
        XCTAssertFalse(names.contains { $0.hasSuffix("-2.jsonl") || $0.contains(".tmp-") }, "\(names)")
        XCTAssertTrue(try bsn(["--session", "x"], input: "inspect\n").stdout.contains("11 gates"))

        // End of input saves the notebook; when that save fails, the exit status says so.
        let unwritable = try runBSN([], environment: ["BSN_SESSIONS": "/proc/bsn-cannot-write-here"], input: "load shapes train=64 val=16 test=16\n",
                                    workingDirectory: folder.path)
        XCTAssertEqual(unwritable.status, 1, unwritable.stdout + unwritable.stderr)
        XCTAssertTrue(unwritable.stderr.contains("end of input: error: quit: cannot save session 'notebook-"), unwritable.stderr)
    }

    // F4, F5: sizes are checked before memory is taken; under a 2 GB address-space limit nothing aborts.
    func testAbsurdSizesAreRefusedBeforeAllocating() throws {
        let script = try write("sizes.bsn", """
        build resnet-fabric k=65 n=1
        load shapes train=99999999999
        load shapes train=10000000
        load faces size=512 train=100000
        load shapes train=10M
        load shapes train=64 val=16 test=16
        build cnf W=1000 S=3 C=100000
        build cnf W=8 S=6 C=100000
        build cnf W=8 S=6 C=5000
        build cnf W=1000 S=6 C=1000
        build cnf W=1000 S=1000 C=100000
        build cnf W=2 S=63 C=4
        build resnet-fabric k=65 n=1
        build resnet-fabric k=64 n=1
        build resnet-fabric k=3 n=1000
        build cnf W=2 S=3 C=4
        set batch 100000
        """)
        let run = try runBSNMeasured(["run", script, "--keep-going"], in: folder, memoryLimitKB: 2_000_000)
        XCTAssertEqual(run.signal, 0, run.stderr)
        XCTAssertEqual(run.status, 1, run.stderr)
        let errors = run.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(errors.count, 14, run.stderr)
        for (line, expected) in [(1, "ResNet Fabric k=65 is out of bounds (1…10)"), (2, "train= must be 1…100000000 images"),
                                 (3, "shapes train=10000000 val=1000 test=1000 needs ~31 GB of images;"),
                                 (4, "faces train=100000 val=200 test=200 size=512 needs ~105 GB of images;"),
                                 (5, "shapes train=10000000"), (7, "CNF C=100000 is out of bounds"), (9, "B-CNF W=8 S=6 C=5000 needs ~329 GB of weights;"),
                                 (10, "B-CNF W=1000 S=6 C=1000 needs ~1.7 TB of weights;"), (11, "CNF S=1000 is out of bounds (1…30)"),
                                 (12, "CNF S=63 is out of bounds (1…30)"), (14, "k=64 is out of bounds"),
                                 (15, "B-ResNet Fabric k=3 n=1000 needs ~3.8 GB of weights")] {
            XCTAssertTrue(errors.contains { $0.hasPrefix("\(script):\(line): error:") && $0.contains(expected) }, "line \(line): \(expected)\n\(run.stderr)")
        }
        XCTAssertTrue(run.stdout.contains("batch = 100000"), "a batch that fits is taken: \(run.stdout)")
        XCTAssertLessThan(run.peakResidentBytes, 300_000_000)
        print("absurd sizes: refused in \(String(format: "%.2f", run.seconds)) s, peak resident \(run.peakResidentBytes / 1_000_000) MB")
    }

    // F6: a JPEG whose header claims 65500x65500 is refused from its header.
    func testAHugeJPEGHeaderIsRefusedBeforeDecoding() throws {
        let root = folder.appendingPathComponent("parts")
        try DatasetFiles.writePartLabels(root)
        let image = PartLabels.Entry(name: "Ann_Lee", number: 1).imagePath(root)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: image)))
        let sof = try XCTUnwrap((0..<(bytes.count - 9)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        for (k, b) in [0xFF, 0xDC, 0xFF, 0xDC].enumerated() { bytes[sof + 5 + k] = UInt8(b) }     // 65500 x 65500
        try Data(bytes).write(to: URL(fileURLWithPath: image))

        let stop = try runBSNMeasured(["run", try write("p.bsn", "load partlabels parts\n")], in: folder, memoryLimitKB: 4_000_000)
        XCTAssertEqual(stop.status, 1, stop.stderr)
        XCTAssertTrue(stop.stderr.contains("Ann_Lee_0001.jpg: 65500x65500 image, expected 250x250"), stop.stderr)
        XCTAssertLessThan(stop.seconds, 1.0)
        XCTAssertLessThan(stop.peakResidentBytes, 100_000_000)
        let skip = try runBSNMeasured(["run", try write("q.bsn", "load partlabels parts onerror=skip\n")], in: folder, memoryLimitKB: 4_000_000)
        XCTAssertEqual(skip.status, 0, skip.stderr)
        XCTAssertTrue(skip.stdout.contains("1 train, 1 validation, 1 test images, 1 skipped"), skip.stdout)
        XCTAssertLessThan(skip.peakResidentBytes, 100_000_000)
        print("65500x65500 JPEG: refused in \(String(format: "%.3f", stop.seconds)) s, peak resident \(stop.peakResidentBytes / 1_000_000) MB")
    }

    // F7: a manifest with a valid checksum but absurd values is refused, naming the value.
    func testAbsurdManifestValuesAreRefusedByName() throws {
        XCTAssertEqual(try bsn(["run", try write("m.bsn", "load shapes train=64 val=16 test=16\nbuild cnf W=2 S=3 C=4\nbudget parallel 2 30 lambda=1e-2\ntrain 2 steps\nsave m\n")]).status, 0)
        let manifest = folder.appendingPathComponent("sessions/m/session.json")
        let original = try Data(contentsOf: manifest)
        let cases: [([String], Any, String)] = [
            (["dataset", "trainSize"], 64_000_000_000_000, "dataset.trainSize = 64000000000000"),
            (["model", "fabric", "cnf", "columns"], 1_099_511_627_778, "model.fabric.cnf.columns = 1099511627778"),
            (["model", "fabric", "cnf", "scales"], 63, "model.fabric.cnf.scales = 63"),
            (["settings", "batch"], 0, "settings.batch = 0"),
            (["settings", "learningRate"], 1e30, "settings.learningRate"),
            (["trainer", "step"], -1, "trainer.step = -1"),
            (["trainer", "stepsPerEpoch"], 0, "trainer.stepsPerEpoch = 0"),
            (["loader", "batch"], 999_999, "loader.batch = 999999"),
            (["generation"], Int.max, "generation = 9223372036854775807"),
            (["budget", "machines"], 0, "budget.machines = 0"),
            (["files", "state"], "../../etc/passwd", "files.state = ../../etc/passwd"),
            // Values no bsn writes, found re-signed by the fault campaign.
            (["budget", "budget", "inconsistentPenalty"], 2_147_483_648, "budget.budget.inconsistentPenalty = 2147483648"),
            (["trainer", "stepsPerEpoch"], 4_294_967_295, "trainer.stepsPerEpoch = 4294967295"),
            (["rng"], ["s0": 0, "s1": 0, "s2": 0, "s3": 0], "a generator state of all zeros"),
        ]
        for (path, value, expected) in cases {
            try resign(manifest, from: original) { json in set(&json, path, value) }
            let run = try bsn(["--session", "m"], input: "inspect\n")
            XCTAssertEqual(run.status, 2, "\(path): \(run.stdout)")
            XCTAssertTrue(run.stderr.contains(expected), "\(path) → \(run.stderr)")
            XCTAssertFalse(run.stderr.contains("Fatal error"), run.stderr)
        }
        // A NaN weight in a re-signed state file is refused by the tensor's name.
        try original.write(to: manifest)
        let state = try FileManager.default.contentsOfDirectory(atPath: manifest.deletingLastPathComponent().path).first { $0.hasPrefix("state-") }!
        let stateURL = manifest.deletingLastPathComponent().appendingPathComponent(state)
        var payload = [UInt8](try CheckedFile.read(stateURL, kind: "state"))
        for k in 0..<4 { payload[payload.count - 40 + k] = [0x00, 0x00, 0xC0, 0x7F][k] }        // a NaN in the last tensor
        try CheckedFile.write(Data(payload), kind: "state", to: stateURL)
        let nan = try bsn(["--session", "m"], input: "inspect\n")
        XCTAssertEqual(nan.status, 2)
        XCTAssertTrue(nan.stderr.contains("holds a value that is not a finite number"), nan.stderr)
    }

    /// Rewrites the manifest with `edit` applied to its JSON and a valid header (length and CRC-32).
    private func resign(_ url: URL, from original: Data, _ edit: (inout [String: Any]) -> Void) throws {
        let payload = original[(original.firstIndex(of: 0x0A)! + 1)...]
        var json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
        edit(&json)
        try CheckedFile.write(try JSONSerialization.data(withJSONObject: json), kind: "session", to: url)
    }

    private func set(_ json: inout [String: Any], _ path: [String], _ value: Any) {
        if path.count == 1 { json[path[0]] = value; return }
        var inner = json[path[0]] as? [String: Any] ?? [:]
        set(&inner, Array(path.dropFirst()), value)
        json[path[0]] = inner
    }

    // F8: an epoch split across a save and a resume gives the same row as one run.
    func testResumeMidEpochGivesTheSameEpochRows() throws {
        let setup = "load shapes train=256 val=32 test=32\nset batch 32\nbuild cnf W=2 S=3 C=4\n"
        XCTAssertEqual(try bsn(["run", try write("one.bsn", setup + "train 11 steps\n")]).status, 0)
        XCTAssertEqual(try bsn(["run", try write("two.bsn", setup + "train 5 steps\n")]).status, 0)
        let resumed = try bsn(["run", try write("more.bsn", "train 6 steps\n"), "--session", "two"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        func epochs(_ name: String) throws -> [String] {
            let dir = folder.appendingPathComponent("sessions/\(name)")
            let file = try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasPrefix("epochs-") }!
            return try String(decoding: CheckedFile.read(dir.appendingPathComponent(file), kind: "epochs"), as: UTF8.self)
                .split(separator: "\n").map(String.init)
        }
        let whole = try epochs("one"), split = try epochs("two")
        XCTAssertEqual(whole.count, 1)
        XCTAssertTrue(whole[0].contains("\"steps\":8"), whole[0])
        XCTAssertEqual(split, whole)
    }

    // Ctrl-C during a script's training stops the script after that command (found by the fuzz harness).
    func testCtrlCStopsAScript() throws {
        let script = try write("long.bsn", "load shapes train=3000 val=100 test=100\nbuild cnf W=4 S=4 C=16\ntrain 40 epochs\ntrain 40 epochs\neval test\n")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try bsnBinaryPath())
        process.arguments = ["run", script]
        process.environment = ProcessInfo.processInfo.environment.merging(["BSN_SESSIONS": folder.appendingPathComponent("sessions").path]) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        sleep(3)
        process.interrupt()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(process.isRunning, "the script goes on after Ctrl-C")
        if process.isRunning { process.terminate(); return }
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 130, stderr)
        XCTAssertEqual(stdout.components(separatedBy: "interrupted after").count, 2, stdout)
        XCTAssertTrue(stderr.contains("long.bsn: stopped by Ctrl-C after line 3"), stderr)
    }

    // A metrics line with a counter no training reaches is refused by name (found by the fuzz harness).
    func testAbsurdHistoryCountersAreRefused() throws {
        XCTAssertEqual(try bsn(["run", try write("h.bsn", "load shapes train=64 val=16 test=16\nset batch 16\nbuild cnf W=2 S=3 C=4\ntrain 1 epochs\nsave h\n")]).status, 0)
        let dir = folder.appendingPathComponent("sessions/h")
        let file = dir.appendingPathComponent(try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasPrefix("epochs-") }!)
        let text = String(decoding: try CheckedFile.read(file, kind: "epochs"), as: UTF8.self)
        try CheckedFile.write(Data(text.replacingOccurrences(of: "\"epoch\":1,", with: "\"epoch\":9223372036854775807,").utf8), kind: "epochs", to: file)
        let run = try bsn(["--session", "h"], input: "render history h.png\n")
        XCTAssertEqual(run.status, 2, run.stdout)
        XCTAssertTrue(run.stderr.contains("line 1: epoch = 9223372036854775807 is out of bounds"), run.stderr)
    }

    // Housekeeping: suffixes, scripts from standard input, save as.
    func testNumbersTakeSuffixesAndScriptsComeFromStandardInput() throws {
        let run = try bsn(["run", "-"], input: "load shapes train=0.2k val=1e1 test=16\nset batch 3.2e1\nsave as-copy\n")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("200 train, 10 validation, 16 test images"), run.stdout)
        XCTAssertTrue(run.stdout.contains("batch = 3.2e1"), run.stdout)
        let piped = try runBSN(["run", "/dev/stdin"], environment: ["BSN_SESSIONS": folder.appendingPathComponent("sessions").path],
                               input: "sessions\n", workingDirectory: folder.path)
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertTrue(piped.stdout.contains("as-copy"), piped.stdout)
    }

    // Crash consistency: kill -9 at random moments of train + save, 50 times.
    func testKillDuringTrainingAndSavingNeverLosesTheSession() throws {
        let setup = try write("setup.bsn", "load shapes train=128 val=16 test=16\nset batch 16\nbuild cnf W=2 S=3 C=4\nsave k\n")
        XCTAssertEqual(try bsn(["run", setup]).status, 0)
        let loop = try write("loop.bsn", String(repeating: "train 2 steps\nsave\n", count: 40))
        let binary = try bsnBinaryPath()
        let sessions = folder.appendingPathComponent("sessions"), session = sessions.appendingPathComponent("k")
        var rng = RNG(seed: 5), lastStep = 0, kills = 0
        for round in 0..<50 {
            let process = try startProgram(binary, ["run", loop, "--session", "k"], environment: ["BSN_SESSIONS": sessions.path], in: folder)
            usleep(UInt32(50_000 + rng.integer(below: 400_000)))
            if process.isRunning { kill(process.processIdentifier, SIGKILL); kills += 1 }
            process.waitUntilExit()

            // It reopens at a saved step, never behind the last one seen.
            let open = try bsn(["--session", "k"], input: "save\n")
            XCTAssertEqual(open.status, 0, "round \(round): \(open.stderr)")
            let manifest = try String(contentsOf: session.appendingPathComponent("session.json"), encoding: .utf8)
            let step = try XCTUnwrap(manifest.range(of: "\"step\" : ").map { Int(manifest[$0.upperBound...].prefix { $0.isNumber }) ?? -1 })
            XCTAssertEqual(step % 2, 0, "round \(round): a step between saves")
            XCTAssertGreaterThanOrEqual(step, lastStep, "round \(round)")
            lastStep = step
            // After that save, only the current generation remains.
            let names = try FileManager.default.contentsOfDirectory(atPath: session.path)
            XCTAssertFalse(names.contains { $0.contains(".tmp-") }, "round \(round): \(names)")
            XCTAssertEqual(names.filter { $0.hasPrefix("state-") }.count, 1, "round \(round): \(names)")
        }
        XCTAssertGreaterThan(kills, 25, "most rounds were killed mid-run")
        XCTAssertGreaterThan(lastStep, 0)
    }

    // The fuzz harness's quick pass (CI): random scripts and mutated files, no crash, no hang.
    func testQuickFuzzPassFindsNoFailure() throws {
        let run = try runBSNMeasured(["fuzz", "--cases", "2000", "--files", "300", "--output", folder.appendingPathComponent("fuzz").path], in: folder)
        print(run.stdout)
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr.suffix(3000))
        XCTAssertTrue(run.stdout.contains("2000 command lines"), run.stdout)
        XCTAssertTrue(run.stdout.contains("300 mutated files"), run.stdout)
        XCTAssertTrue(run.stdout.contains(": 0 failures"), run.stdout)
    }
}
