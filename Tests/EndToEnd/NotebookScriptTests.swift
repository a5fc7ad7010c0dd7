import Foundation
import Interface
import Session
import TestSupport
import XCTest

/// Scripts through the real binary: outputs, files, exit codes, faults.
final class NotebookScriptTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func bsn(_ arguments: [String], input: String? = nil, environment: [String: String?] = [:]) throws -> BinaryRun {
        var env = environment
        env["BSN_SESSIONS"] = folder.appendingPathComponent("sessions").path
        env["BSN_HISTORY"] = folder.appendingPathComponent("history").path
        if env["BSN_CACHE"] == nil { env["BSN_CACHE"] = folder.appendingPathComponent("cache").path }
        return try runBSN(arguments, environment: env, input: input, workingDirectory: folder.path)
    }

    static let search = """
    # a small budgeted search on the embedded shapes
    set n 3
    load shapes train=192 val=64 test=64 seed=$n
    set batch 32
    build cnf W=3 S=3 C=8
    budget flops 1M lambda=1e-6
    warmup 1 epochs
    set path-lr 0.05
    train 3 epochs
    eval test --json
    inspect
    sample 4
    export arch found.json
    save small
    """

    func testAScriptTrainsSavesAndExports() throws {
        let script = try write("small.bsn", Self.search)
        let run = try bsn(["run", script, "--echo"])
        XCTAssertEqual(run.status, 0, run.stderr + run.stdout)
        XCTAssertTrue(run.stdout.contains("[1]> set n 3"), run.stdout)
        XCTAssertTrue(run.stdout.contains("loaded shapes (synthetic, seed 3): 192 train, 64 validation, 64 test"), run.stdout)
        XCTAssertTrue(run.stdout.contains("trained 18 steps"), run.stdout)
        // The test accuracy is a number in [0, 1].
        let json = { (s: String) in s.split(separator: "\n").first { $0.hasPrefix("{\"accuracy\"") }.map(String.init) }
        let evaluation = try XCTUnwrap(json(run.stdout), run.stdout)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(evaluation.utf8)) as? [String: Any])
        let accuracy = try XCTUnwrap(object["accuracy"] as? Double)
        XCTAssertTrue((0...1).contains(accuracy), evaluation)
        XCTAssertEqual(object["examples"] as? Int, 64)
        XCTAssertFalse(run.stdout.contains("\r"), "no progress redraws in scripts")
        let sessions = folder.appendingPathComponent("sessions/small")
        XCTAssertTrue(FileManager.default.fileExists(atPath: sessions.appendingPathComponent("session.json").path))
        let arch = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("found.json"))) as? [String: Any]
        XCTAssertEqual(arch?["format"] as? String, "bsn-architecture")

        // The same script and seed give the same numbers.
        let again = try bsn(["run", script])
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(json(again.stdout), evaluation)

        // stdin works as a script too; sessions lists the saved one.
        let listed = try bsn([], input: "sessions\n")
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("small"), listed.stdout)
    }

    /// `sessions` shows each session's own latest validation accuracy and its test accuracy in columns of their own:
    /// an earlier `eval val --sampled` (as a sweep child inherits from its parent) is not its validation accuracy.
    func testSessionsShowsTheLatestValidationAndTestAccuracyBySplit() throws {
        let script = try write("acc.bsn", """
        load shapes train=128 val=32 test=32
        set batch 32
        build cnf W=2 S=3 C=4
        train 4 steps
        eval val --sampled
        eval test
        train 8 steps
        save acc
        """)
        XCTAssertEqual(try bsn(["run", script]).status, 0)
        let listed = try bsn([], input: "sessions\nsessions --json\n")
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("val acc") && listed.stdout.contains("test acc"), listed.stdout)
        let store = SessionStore(root: folder.appendingPathComponent("sessions"))
        let session = try store.open("acc", access: .read)
        let listing = try XCTUnwrap(store.list().first { $0.name == "acc" })
        let lastEpoch = try XCTUnwrap(session.epochs.last?.validationAccuracy)
        XCTAssertEqual(listing.validationAccuracy, lastEpoch, "the last epoch (step 12), not the sampled evaluation at step 4")
        XCTAssertEqual(listing.testAccuracy, session.evaluations.first { $0.split == .test }?.accuracy)
        let row = try XCTUnwrap(listed.stdout.split(separator: "\n").first { $0.hasPrefix("acc ") })
        XCTAssertTrue(row.contains(Format.fixed(lastEpoch, 3)), String(row))
    }

    /// arch, export model, inspect and summary count the same modules; a fixed network's epoch table has one cost column.
    func testModuleCountsAgreeAndAFixedNetworkHasNoSamplingColumns() throws {
        let script = try write("counts.bsn", """
        load shapes train=128 val=32 test=32
        set batch 32
        build cnf W=2 S=3 C=8
        budget flops 600k lambda=1e-5
        set path-lr 0.1
        train 3 epochs
        arch
        inspect
        summary
        export model m.bsnmodel
        export arch a.json
        build from a.json
        inspect
        arch
        summary
        train 1 epochs
        """)
        let run = try bsn(["run", script])
        XCTAssertEqual(run.status, 0, run.stderr)
        let counts = run.stdout.split(separator: "\n").compactMap { line -> String? in
            guard let r = line.range(of: #"\d+ of \d+ modules"#, options: .regularExpression) else { return nil }
            return String(line[r])
        }
        XCTAssertEqual(counts.count, 7, run.stdout)
        XCTAssertEqual(Set(counts).count, 1, "every count agrees: \(counts)\n" + run.stdout)
        let found = try XCTUnwrap(counts.first.flatMap { Int($0.split(separator: " ")[0]) })
        XCTAssertLessThan(found, 12, "the search dropped modules")
        XCTAssertTrue(run.stdout.contains("fixed (built from an architecture file)"), run.stdout)
        // The epoch tables: the search's has sampled cost and entropy, the fixed network's one cost column.
        let headers = run.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }
        XCTAssertEqual(headers.count, 2, run.stdout)
        XCTAssertTrue(headers[0].contains("(sampled)") && headers[0].contains("entropy"), String(headers[0]))
        XCTAssertFalse(headers[1].contains("(sampled)") || headers[1].contains("entropy"), String(headers[1]))
    }

    /// Segmentation: the epoch table, the metrics files and render history carry the validation's mean IoU.
    func testSegmentationShowsMeanIoUWhileTraining() throws {
        let script = try write("seg.bsn", "load faces train=32 val=16 test=16\nset batch 16\nbuild cnf-seg W=2 S=3 C=4\ntrain 2 epochs\neval val --json\nrender history h.png\nsave\n")
        let run = try bsn(["run", script])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.first { $0.hasPrefix("epoch ") })
        XCTAssertTrue(header.contains("val IoU"), header)
        let eval = try XCTUnwrap(lines.first { $0.hasPrefix("{") })
        let evaluated = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(eval.utf8)) as? [String: Any])?["meanIoU"] as? Double)
        let session = try SessionStore(root: folder.appendingPathComponent("sessions")).open("seg", access: .read)
        let epochs = session.epochs.compactMap(\.validationMeanIoU)
        XCTAssertEqual(epochs.count, 2, "each epoch's validation mean IoU is in the metrics file")
        XCTAssertEqual(epochs[1], evaluated, accuracy: 1e-12, "the last epoch's validation is eval val's, at the same step")
        XCTAssertEqual(session.evaluations.last?.meanIoU ?? -1, evaluated, accuracy: 1e-12)
        // The table row shows it.
        let row = try XCTUnwrap(lines.first { $0.hasPrefix("2 ") })
        XCTAssertTrue(row.contains(Format.fixed(epochs[1], 3)), row)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("h.png").path))
    }

    func testASearchWhoseGatesCannotMoveSaysSo() throws {
        let script = try write("stuck.bsn", "load shapes train=128 val=32 test=32\nset batch 32\nbuild cnf W=2 S=3 C=8\nbudget flops 1M lambda=1e-6\nset path-lr 0\ntrain 3 epochs\ninspect\n")
        let run = try bsn(["run", script])
        XCTAssertEqual(run.status, 0, run.stderr)
        let hints = run.stdout.split(separator: "\n").filter { $0.hasPrefix("the search is not moving") }
        XCTAssertEqual(hints.count, 2, "train and inspect say it: \(run.stdout)")
        XCTAssertTrue(hints.allSatisfy { $0.contains("path-lr is 0") }, run.stdout)
        // Before two epochs of sampling nothing is said.
        let early = try bsn(["run", try write("early.bsn", "load shapes train=128 val=32 test=32\nset batch 32\nbuild cnf W=2 S=3 C=8\nbudget flops 1M lambda=1e-6\nset path-lr 0\ntrain 1 epochs\ninspect\n")])
        XCTAssertFalse(early.stdout.contains("the search is not moving"), early.stdout)
    }

    func testAnExportedScriptReplaysTheSession() throws {
        let script = try write("orig.bsn", "load shapes train=96 val=32 test=32\nset batch 32\nbuild cnf W=2 S=3 C=8\ninspect\ntrain 4 steps\neval test --json\nexport script replay.bsn\n")
        let first = try bsn(["run", script])
        XCTAssertEqual(first.status, 0, first.stderr)
        let replay = try String(contentsOf: folder.appendingPathComponent("replay.bsn"), encoding: .utf8)
        XCTAssertFalse(replay.contains("inspect"), "read-only commands are left out: \(replay)")
        let second = try bsn(["run", folder.appendingPathComponent("replay.bsn").path])
        XCTAssertEqual(second.status, 0, second.stderr)
        let json = { (s: String) in s.split(separator: "\n").first { $0.hasPrefix("{\"accuracy\"") } }
        XCTAssertNotNil(json(first.stdout))
        XCTAssertEqual(json(first.stdout), json(second.stdout))
    }

    func testAnErrorStopsTheScriptWithFileAndLine() throws {
        let script = try write("bad.bsn", "load shapes train=64 val=0 test=0\n# comment\nbuild cnf W=2 S=2\ndata\n")
        let run = try bsn(["run", script])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("bad.bsn:3: error: build cnf: needs W=, S= and C="), run.stderr)
        XCTAssertFalse(run.stdout.contains("shapes —"), "data (line 4) did not run")
        let goOn = try bsn(["run", script, "--keep-going"])
        XCTAssertEqual(goOn.status, 1)
        XCTAssertTrue(goOn.stdout.contains("shapes (synthetic"), goOn.stdout)
        let missing = try bsn(["run", folder.appendingPathComponent("nope.bsn").path])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("no such file"), missing.stderr)
    }

    func testHundredsOfMalformedLinesNeverCrash() throws {
        var rng = SystemRandomNumberGenerator()
        let words = ["train", "build", "load", "set", "budget", "eval", "sample", "export", "open", "save", "render", "schedule",
                     "warmup", "costs", "cnf", "W=", "S=x", "C=-1", "lambda=", "steps", "epochs", "-3", "1e999", "$", "${", "\"",
                     "'", "\\", "=", "==", "/dev/null", "../../..", "sessions", "🙂", "\u{0}", "mode=abs", "k=0", "n=1", "depth=7",
                     "parallel", "0", "999999999999999999999", "arch", "script", "from", "shapes", "faces", "cifar10", "val", "test"]
        var lines = [String]()
        for _ in 0..<300 {
            let n = Int.random(in: 1...5, using: &rng)
            lines.append((0..<n).map { _ in words.randomElement(using: &rng)! }.joined(separator: " "))
        }
        // In the wrong order too: training before anything is loaded.
        let script = try write("fuzz.bsn", (["train 2 steps", "eval test", "inspect"] + lines + ["sessions"]).joined(separator: "\n"))
        let run = try bsn(["run", script, "--keep-going"])
        XCTAssertTrue(run.status == 0 || run.status == 1, "exit \(run.status): \(run.stderr.suffix(500))")
        XCTAssertTrue(run.stderr.contains("fuzz.bsn:1: error: train: no model yet"), String(run.stderr.prefix(300)))
        XCTAssertFalse(run.stderr.contains("Fatal error"), String(run.stderr.suffix(500)))
        for line in run.stderr.split(separator: "\n") {
            XCTAssertTrue(line.contains("fuzz.bsn:"), "every error is one line with its location: \(line)")
        }
    }

    /// A save killed half-way through writing leaves the previous save loadable.
    func testACrashDuringSaveLeavesThePreviousSaveIntact() throws {
        let first = try write("first.bsn", "load shapes train=96 val=32 test=0\nset batch 32\nbuild cnf W=2 S=2 C=8\ntrain 2 steps\n")
        XCTAssertEqual(try bsn(["run", first, "--session", "crashy"]).status, 0)
        let second = try write("second.bsn", "train 3 steps\n")
        let crash = try bsn(["run", second, "--session", "crashy"], environment: ["BSN_TEST_CRASH_DURING_WRITE": "state-2.bin:5000"])
        XCTAssertEqual(crash.status, 9, "the process died mid-write: \(crash.stderr)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("sessions/crashy").path)
        XCTAssertTrue(leftovers.contains { $0.contains(".tmp") }, "the partial file is a temporary one: \(leftovers)")
        let check = try write("check.bsn", "sessions\ntrain 1 steps\n")
        let reopened = try bsn(["run", check, "--session", "crashy"])
        XCTAssertEqual(reopened.status, 0, reopened.stderr)
        XCTAssertTrue(reopened.stdout.contains(" 2 "), "the session is at step 2, as saved before the crash: \(reopened.stdout)")
        XCTAssertTrue(reopened.stdout.contains("(step 3,"), reopened.stdout)
    }

    /// N + M steps in one process = N steps, save, M steps in another process.
    func testResumingInANewProcessGivesTheSameNumbers() throws {
        let setup = "load shapes train=128 val=32 test=32\nset batch 16\nbuild cnf W=2 S=3 C=8\nbudget flops 20k lambda=1e-4\nwarmup 2 steps\nset path-lr 0.1\n"
        let straight = try write("straight.bsn", setup + "train 9 steps\neval val\n")
        let part1 = try write("part1.bsn", setup + "train 4 steps\n")
        let part2 = try write("part2.bsn", "train 5 steps\neval val\n")
        let a = try bsn(["run", straight])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(try bsn(["run", part1, "--session", "resumed"]).status, 0)
        // The resumed session computes with the convolution algorithms it recorded, whatever the cache says now.
        let cache = folder.appendingPathComponent("cache/conv-choices.json")
        let measured = try String(contentsOf: cache, encoding: .utf8)
        XCTAssertTrue(measured.contains("\"k3 s1 p1 8>8 "), measured)
        let flipped = measured.replacingOccurrences(of: "\"direct\"", with: "\"DIRECT\"").replacingOccurrences(of: "\"gemm\"", with: "\"direct\"")
            .replacingOccurrences(of: "\"DIRECT\"", with: "\"gemm\"")
        try flipped.write(to: cache, atomically: true, encoding: .utf8)
        let b = try bsn(["run", part2, "--session", "resumed"])
        XCTAssertEqual(b.status, 0, b.stderr)
        let evalLine = { (s: String) in s.split(separator: "\n").first { $0.hasPrefix("val (") }.map(String.init) }
        XCTAssertNotNil(evalLine(a.stdout))
        XCTAssertEqual(evalLine(a.stdout), evalLine(b.stdout))
        // "trained 9 steps in 1.2s (step 9, …)" vs "trained 5 steps in 0.7s (step 9, …)": the same from "(step" on.
        let lastTrain = { (s: String) -> String? in
            guard let line = s.split(separator: "\n").last(where: { $0.hasPrefix("trained") }), let r = line.range(of: "(step") else { return nil }
            return String(line[r.lowerBound...])
        }
        XCTAssertEqual(lastTrain(a.stdout), lastTrain(b.stdout))
        // Bit for bit: the saved weights, batch-norm statistics and gate logits are the same bytes.
        func state(_ session: String) throws -> Data {
            let dir = folder.appendingPathComponent("sessions/\(session)")
            let name = try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasPrefix("state-") }!
            return try CheckedFile.read(dir.appendingPathComponent(name), kind: "state")
        }
        XCTAssertEqual(try state("straight"), try state("resumed"))
    }

    /// A session on the user's folder remembers the listing it was loaded from: `open` after the folder changed says so
    /// and prints the exact command that loads the folder as it is now.
    func testOpeningASessionWhoseFolderChangedSaysSoAndOffersTheReload() throws {
        let script = try write("own.bsn", """
        load shapes train=40 val=10 test=10
        export images mine
        load images mine flip=on
        build cnf W=2 S=2 C=4
        train 2 steps
        save own
        """)
        let first = try bsn(["run", script])
        XCTAssertEqual(first.status, 0, first.stderr + first.stdout)
        let root = folder.appendingPathComponent("mine").resolvingSymlinksInPath()
        let unchanged = try bsn([], input: "open own\ndata\n")
        XCTAssertEqual(unchanged.status, 0, unchanged.stderr)
        XCTAssertFalse((unchanged.stdout + unchanged.stderr).contains("has changed"), unchanged.stdout + unchanged.stderr)

        // One more image: the saved decode still comes from the cache, and the note says how to reload.
        try FileManager.default.copyItem(at: root.appendingPathComponent("train/circle").appendingPathComponent(
            try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("train/circle").path).sorted()[0]),
                                         to: root.appendingPathComponent("train/circle/extra.png"))
        let changed = try bsn([], input: "open own\ndata\n")
        XCTAssertEqual(changed.status, 0, changed.stderr)
        let said = changed.stdout + changed.stderr
        XCTAssertTrue(said.contains("\(root.path) has changed since this session was saved; the session keeps the images it was saved with"), said)
        XCTAssertTrue(said.contains("`load images \(root.path) flip=on seed=1` loads the folder as it is now"), said)
        XCTAssertTrue(said.contains("splits: train 40,"), said)

        // Without the cache the folder is decoded as it is now, and the note says that too.
        try FileManager.default.removeItem(at: folder.appendingPathComponent("cache"))
        let recoded = try bsn([], input: "open own\ndata\n")
        XCTAssertEqual(recoded.status, 0, recoded.stderr)
        let now = recoded.stdout + recoded.stderr
        XCTAssertTrue(now.contains("its images as they are now were loaded"), now)
        XCTAssertTrue(now.contains("splits: train 41,"), now)
    }
}
