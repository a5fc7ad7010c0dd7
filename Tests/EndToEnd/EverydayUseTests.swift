import Foundation
import Fuzz
import TestSupport
import XCTest

/// Issue 42's findings, each through the real binary under `timeout`: a
/// closed pipe, scripts started together, a damaged cache, a planted link, a
/// loop that never ends, a huge word, CRLF, kernel ids, names in bytes, a
/// notebook run again over its trained session, a script that fails.
final class EverydayUseTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = try temporaryFolder(self)
    }

    private var environment: [String: String?] {
        ["BSN_SESSIONS": folder.appendingPathComponent("sessions").path, "BSN_CACHE": folder.appendingPathComponent("cache").path,
         "BSN_HISTORY": folder.appendingPathComponent("history").path]
    }

    private func bsn(_ arguments: [String], input: String? = nil) throws -> BinaryRun {
        try runBSN(arguments, environment: environment, input: input, workingDirectory: folder.path)
    }

    /// Runs a bash script in the test's folder with `$BSN` the binary and the
    /// sessions, cache and history in the folder; output and errors in one stream.
    private func shell(_ script: String) throws -> (status: Int32, output: String) {
        var exports = "export BSN=\(try bsnBinaryPath())\n"
        for (key, value) in environment { exports += "export \(key)=\(value!)\n" }
        return try runProgram("/bin/bash", ["-c", exports + script], in: folder)
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    private func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: folder.appendingPathComponent(path).path) }

    /// The step a saved session reopens at ("…, step 46, 3 cells"), from `bsn --session NAME`.
    private func reopenedStep(_ name: String) throws -> (step: Int, opened: String) {
        let r = try bsn(["--session", name], input: "")
        let line = (r.stdout + r.stderr).split(separator: "\n").first { $0.hasPrefix("opened '\(name)'") }.map(String.init) ?? ""
        let step = line.range(of: #"step \d+"#, options: .regularExpression).flatMap { Int(line[$0].dropFirst(5)) } ?? -1
        return (step, line)
    }

    // (1) `bsn run … | head -1` on a training script: exit 141, a line on stderr, a saved session that reopens where it stopped.
    func testAClosedPipeStopsTrainingSavesAndExits141() throws {
        try write("p.bsn", "load shapes train=3000 val=100 test=100\nbuild cnf W=2 S=3 C=8\ntrain 3 epochs\n")
        // head -1 leaves after the first line: the build's output finds the pipe closed, before training.
        var r = try shell("timeout 120 \"$BSN\" run p.bsn 2>err.txt | head -1; echo \"status ${PIPESTATUS[0]}\"; cat err.txt")
        XCTAssertTrue(r.output.contains("status 141"), r.output)
        XCTAssertTrue(r.output.contains("p.bsn: stopped by its output closing (its reader is gone) after line 2"), r.output)
        var (step, opened) = try reopenedStep("p")
        XCTAssertEqual(step, 0, opened)
        // head -4 leaves after the first epoch's row: the second's finds the pipe closed, and training stops at the next batch.
        r = try shell("timeout 120 \"$BSN\" run p.bsn 2>err.txt | head -4; echo \"status ${PIPESTATUS[0]}\"; cat err.txt")
        XCTAssertTrue(r.output.contains("status 141"), r.output)
        XCTAssertTrue(r.output.contains("p.bsn: stopped by its output closing (its reader is gone) after line 3"), r.output)
        XCTAssertFalse(r.output.contains("Fatal error"), r.output)
        (step, opened) = try reopenedStep("p")
        // 3 epochs are 141 steps; the first epoch's row is written at step 47.
        XCTAssertTrue((48..<141).contains(step), opened)
        XCTAssertTrue(opened.contains("3 cells"), "load, build and train (saved by training as it stopped): \(opened)")
    }

    // (1) The kernel server whose frames' reader goes away (the Python kernel died) stops, saves and leaves.
    func testAKernelServerWhoseFramesPipeClosesSavesAndExits() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try bsnBinaryPath())
        process.arguments = ["kernel-server", "--session", "served"]
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.currentDirectoryURL = folder
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let request = #"{"id": 1, "execute": "load shapes train=3000 val=100 test=100\nbuild cnf W=2 S=3 C=8\ntrain 20 epochs"}"# + "\n"
        input.fileHandleForWriting.write(Data(request.utf8))
        // Read until training has said something, then close the frames' pipe; standard input stays open.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("\"live\"") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        try output.fileHandleForReading.close()
        let start = Date()
        while process.isRunning && Date().timeIntervalSince(start) < 60 { usleep(20_000) }
        XCTAssertFalse(process.isRunning, "the server left")
        if process.isRunning { process.terminate() }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 141)
        XCTAssertEqual(process.terminationReason, .exit, "it exited; no signal killed it")
        let (step, opened) = try reopenedStep("served")
        XCTAssertTrue((1..<940).contains(step), opened)
    }

    // (2) 20 pairs of piped scripts started together: 40 sessions, each with its own script's data.
    func testScriptsPipedTogetherGetDistinctSessions() throws {
        let r = try shell("""
        for i in $(seq 20); do
          printf 'load shapes train=64 val=16 test=16\\nbuild cnf W=2 S=3 C=4\\n' | timeout 120 "$BSN" >/dev/null 2>>errors.txt &
          printf 'load faces train=32 val=8 test=8\\nbuild cnf-seg W=2 S=3 C=4\\n' | timeout 120 "$BSN" >/dev/null 2>>errors.txt &
        done
        wait
        cat errors.txt
        """)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertFalse(r.output.contains("error"), r.output)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("sessions").path).filter { $0.hasPrefix("notebook-") }
        XCTAssertEqual(names.count, 40, "\(names)")
        var datasets = [String: Int]()
        for name in names {
            let manifest = try String(contentsOf: folder.appendingPathComponent("sessions/\(name)/session.json"), encoding: .utf8)
            for word in ["shapes", "faces"] where manifest.contains("\"datasetName\" : \"\(word)") { datasets[word, default: 0] += 1 }
        }
        XCTAssertEqual(datasets, ["shapes": 20, "faces": 20])
    }

    // (3) The reported one-byte edits of a pack, through the binary: a warning and a rebuild, on load and on opening the session.
    func testDamagedPackBytesGiveTheWarningAndARebuild() throws {
        XCTAssertEqual(try bsn(["run", "-"], input: "load shapes train=24 val=4 test=4\nexport images img\n").status, 0)
        try write("s.bsn", "load images img size=8\nsave packsess\n")
        XCTAssertEqual(try bsn(["run", "s.bsn"]).status, 0)
        let cache = folder.appendingPathComponent("cache")
        let pack = try XCTUnwrap(try FileManager.default.contentsOfDirectory(at: cache, includingPropertiesForKeys: nil).first { $0.pathExtension == "pack" })
        let original = try Data(contentsOf: pack)
        for (field, replacement) in [("examples 32", "-4"), ("maskclasses 10", " "), ("classes 10", " ")] {
            var bytes = original
            let at = try XCTUnwrap(bytes.range(of: Data(field.utf8))).upperBound - replacement.utf8.count
            bytes.replaceSubrange(at..<at + replacement.utf8.count, with: Data(replacement.utf8))
            for run in [(["run", "s.bsn"], nil as String?), (["--session", "packsess"], "data\n")] {
                try bytes.write(to: pack)
                let r = try runBSN(run.0, environment: environment, input: run.1, workingDirectory: folder.path)
                XCTAssertEqual(r.status, 0, "\(field) → \(replacement): \(r.stderr)")
                XCTAssertTrue((r.stdout + r.stderr).contains("warning: the cached decode is damaged and was ignored; decoding again"), r.stdout + r.stderr)
                XCTAssertTrue(r.stdout.contains("24 train") || r.stdout.contains("train 24"), r.stdout)
            }
            XCTAssertEqual(try Data(contentsOf: pack).count, original.count, "rebuilt")
        }
    }

    // (3) A session whose data cannot be loaded (its folder gone, its cached decode damaged) opens without it, says how to
    // get it back, and its save stays as it was; with the folder back it opens whole.
    func testASessionWhoseDataCannotBeLoadedOpensAndKeepsItsSave() throws {
        XCTAssertEqual(try bsn(["run", "-"], input: "load shapes train=24 val=4 test=4\nexport images img\n").status, 0)
        XCTAssertEqual(try bsn(["run", "-"], input: "load images img size=8\nbuild cnf W=2 S=3 C=4\ntrain 2 steps\nsave gone\n").status, 0)
        let session = folder.appendingPathComponent("sessions/gone")
        let saved = try savedStateBytes(session)
        try FileManager.default.moveItem(at: folder.appendingPathComponent("img"), to: folder.appendingPathComponent("img.moved"))
        let cache = folder.appendingPathComponent("cache")
        let pack = try XCTUnwrap(try FileManager.default.contentsOfDirectory(at: cache, includingPropertiesForKeys: nil).first { $0.pathExtension == "pack" })
        var bytes = try Data(contentsOf: pack)
        bytes[200] ^= 0xFF
        try bytes.write(to: pack)
        let r = try bsn(["--session", "gone"], input: "history\nsave\n")
        XCTAssertTrue(r.stdout.contains("opened 'gone'") || r.stderr.contains("opened 'gone'"), r.stdout + r.stderr)
        XCTAssertTrue((r.stdout + r.stderr).contains("its data could not be loaded"), r.stdout + r.stderr)
        XCTAssertTrue((r.stdout + r.stderr).contains("bring images in img/ back"), r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("train 2 steps"), "its cells are there: \(r.stdout)")
        XCTAssertTrue(r.stderr.contains("cannot save session 'gone': it was opened without its data"), r.stderr)
        XCTAssertEqual(try savedStateBytes(session), saved, "the save is as it was")
        try FileManager.default.moveItem(at: folder.appendingPathComponent("img.moved"), to: folder.appendingPathComponent("img"))
        let (step, opened) = try reopenedStep("gone")
        XCTAssertEqual(step, 2, opened)
    }

    // (4) A link, a foreign folder or a file planted in the sessions folder is refused, and what it points to is unchanged.
    func testPlantedLinksForeignFoldersAndFilesAreRefused() throws {
        let sessions = folder.appendingPathComponent("sessions"), target = folder.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: sessions, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try "keep\n".write(to: target.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(at: sessions.appendingPathComponent("linked"), withDestinationURL: target)
        try FileManager.default.createDirectory(at: sessions.appendingPathComponent("foreign"), withIntermediateDirectories: true)
        try "mine\n".write(to: sessions.appendingPathComponent("foreign/thesis.tex"), atomically: true, encoding: .utf8)
        try "x".write(to: sessions.appendingPathComponent("afile"), atomically: true, encoding: .utf8)
        let setup = "load shapes train=64 val=16 test=16\nbuild cnf W=2 S=3 C=4\n"
        for (name, says) in [("linked", "is a symbolic link to \(target.path)"), ("foreign", "is a folder bsn did not make (it holds thesis.tex)"),
                             ("afile", "is a file, not a session folder")] {
            let r = try bsn(["run", "-"], input: setup + "save \(name)\n")
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("cannot save session '\(name)'") && r.stderr.contains(says), r.stderr)
            let opened = try bsn(["--session", name], input: "")
            XCTAssertNotEqual(opened.status, 0)
            XCTAssertTrue(opened.stderr.contains(says), opened.stderr)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target.path), ["notes.txt"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sessions.appendingPathComponent("foreign").path), ["thesis.tex"])
        XCTAssertEqual(try String(contentsOf: sessions.appendingPathComponent("afile"), encoding: .utf8), "x")
        // A session folder bsn made is saved as before.
        XCTAssertEqual(try bsn(["run", "-"], input: setup + "save mine\nsave mine\n").status, 0)
    }

    // (5) Nested loops are refused by their product, at once; the largest expansion allowed takes well under a second, and SIGTERM ends it.
    func testNestedLoopsAreRefusedAtOnceAndSIGTERMEndsAnExpansion() throws {
        func space(_ outer: Int, _ inner: String) -> String {
            """
            space: nest
            params: {C: 4}
            input: x
            body:
              - node: a0
                from: x
                op: conv k=3 relu
                out: C
              - for: a in 0..\(outer)
                do:
                  - for: b in \(inner)
                    do: []
            output: {from: a0, head: classify}
            """
        }
        try write("nest.yaml", space(99999, "0..99999"))
        try write("triangle.yaml", space(99999, "0..a"))
        try write("largest.yaml", space(499, "0..998"))
        for (file, line) in [("nest.yaml", 11), ("triangle.yaml", 11)] {
            let start = Date()
            let r = try shell("timeout 10 \"$BSN\" run - <<< $'load shapes train=64 val=16 test=16\\nbuild space \(file)'")
            XCTAssertLessThan(Date().timeIntervalSince(start), 1.0, r.output)
            XCTAssertEqual(r.status, 1, r.output)
            XCTAssertTrue(r.output.contains("\(file):\(line): for: b in") && r.output.contains("a space expands in at most 1000000 loop iterations"), r.output)
        }
        let r = try shell("""
        "$BSN" run - <<< $'load shapes train=64 val=16 test=16\\nbuild space largest.yaml\\nbuild space largest.yaml\\nbuild space largest.yaml' & pid=$!
        sleep 0.3; start=$(date +%s.%N); kill -TERM $pid; wait $pid; status=$?
        echo "status $status seconds $(echo "$(date +%s.%N) - $start" | bc)"
        """)
        let seconds = r.output.range(of: #"seconds [0-9.]+"#, options: .regularExpression).flatMap { Double(r.output[$0].dropFirst(8)) } ?? 99
        XCTAssertLessThan(seconds, 2, r.output)
        XCTAssertTrue(r.output.contains("status 143") || r.output.contains("status 0"), r.output)
    }

    // (6) A suggestion is looked for only in words of a sane length, and no command line is megabytes long: answered at once.
    func testAHugeWordIsAnsweredAtOnce() throws {
        let word = String(repeating: "x", count: 900_000), line = String(repeating: "y", count: 10_000_000)
        let start = Date()
        let r = try bsn(["run", "-", "--keep-going"], input: "help \(word)\n\(word)\n\(line)\nhelp trian\n")
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertTrue(r.stderr.contains("-:1: error: no command 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'"), String(r.stderr.prefix(300)))
        XCTAssertTrue(r.stderr.contains("-:3: error: a line of 10000000 bytes is too long for a command (at most 1048576)"), String(r.stderr.prefix(600)))
        XCTAssertLessThan(r.stderr.utf8.count, 2000, "the word is not repeated back whole")
        let small = try bsn(["run", "-"], input: "trian 3\n")
        XCTAssertTrue(small.stderr.contains("did you mean 'train'?"), small.stderr)
        // Through the kernel: a 20 MB request is one error with its id, a 900 kB word an answer.
        let k = try bsn(["kernel-server"], input: #"{"id": 4, "execute": "help "# + line + line + #""}"# + "\n" + #"{"id": 5, "execute": "help "# + word + #""}"# + "\n")
        XCTAssertTrue(k.stdout.contains(#""event":"error","id":4,"message":"bsn kernel-server: a request of 20000029 bytes; at most 16777216""#), String(k.stdout.prefix(600)))
        XCTAssertTrue(k.stdout.contains(#""event":"error","id":5"#), String(k.stdout.prefix(600)))
    }

    // (7) CRLF line endings, in scripts and kernel cells.
    func testCRLFLinesAreLinesInScriptsAndKernelCells() throws {
        try write("crlf.bsn", "load shapes train=64 val=16 test=32\r\nbuild cnf W=2 S=3 C=4\r\ndata\r\n")
        let r = try bsn(["run", "crlf.bsn"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("splits: train 64, validation 16, test 32"), r.stdout)
        let k = try bsn(["kernel-server"], input: #"{"id": 1, "execute": "load shapes train=64 val=16 test=32\r\ndata\r\n"}"# + "\r\n")
        XCTAssertTrue(k.stdout.contains("test 32") && k.stdout.contains(#""ok":true"#), k.stdout)
    }

    // (8) A kernel error carries the id its line holds, else null; never the previous request's.
    func testKernelErrorsCarryTheirOwnLinesID() throws {
        let lines = [#"{"id": 5, "complete": "bui", "cursor": 3}"#, "not json", "{\"id\": 6, \"execute\": \"data\u{0}\"", #"{"id": "seven", "execute": "set lr"#]
        let r = try bsn(["kernel-server"], input: lines.joined(separator: "\n"))
        let frames = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let errors = frames.filter { $0["event"] as? String == "error" }
        XCTAssertEqual(errors.count, 3, r.stdout)
        guard errors.count == 3 else { return }
        XCTAssertTrue(errors[0]["id"] is NSNull, "\(errors[0])")
        XCTAssertEqual(errors[1]["id"] as? Int, 6)
        XCTAssertEqual(errors[2]["id"] as? String, "seven", "EOF mid-request: the id it had")
        XCTAssertEqual(frames.first { $0["event"] as? String == "completions" }?["id"] as? Int, 5)
    }

    // (9) `set tensorboard` refuses a link as train would; (10) names are checked in bytes.
    func testTensorBoardLinksAndNamesTooLongInBytesAreRefusedWhenSet() throws {
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("logs"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("runs").path, withDestinationPath: "logs")
        let r = try bsn(["run", "-"], input: "set tensorboard runs\n")
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("tensorboard: runs is a symbolic link"), r.stderr)
        let name = String(repeating: "漢", count: 100)
        let saved = try bsn(["run", "-"], input: "load shapes train=64 val=16 test=16\nsave \(name)\n")
        XCTAssertEqual(saved.status, 1)
        XCTAssertTrue(saved.stderr.contains("300 bytes in UTF-8, a file name has at most 255"), saved.stderr)
        XCTAssertFalse(saved.stderr.contains("The file name is invalid"), saved.stderr)
    }

    // (11) A notebook run again over its trained session says what build replaces; (12) a failing script saves its cells, the failing one marked.
    func testRebuildingATrainedSessionSaysSoAndAFailedScriptKeepsItsCells() throws {
        let first = try bsn(["run", "-", "--session", "mine"], input: "load shapes train=64 val=16 test=16\nbuild cnf W=2 S=3 C=4\ntrain 3 steps\n")
        XCTAssertEqual(first.status, 0, first.stderr)
        let again = try bsn(["--session", "mine"], input: "build cnf W=2 S=3 C=8\n")
        XCTAssertTrue(again.stdout.contains("note: this replaces B-CNF W=2 S=3 C=4, trained 3 steps; the last save in"), again.stdout)

        try write("fails.bsn", "load shapes train=64 val=16 test=16\nbuild cnf W=2 S=3 C=4\ntrain 2 steps\nset lr 0.05\ncosts\ntrian 3\ndata\n")
        let failed = try bsn(["run", "fails.bsn"])
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.contains("fails.bsn:6: error: unknown command 'trian'"), failed.stderr)
        let (step, opened) = try reopenedStep("fails")
        XCTAssertEqual(step, 2, opened)
        XCTAssertTrue(opened.contains("7 cells"), "the cells up to the failing one, and the save: \(opened)")
        let cells = try bsn(["--session", "fails"], input: "history\n")
        XCTAssertTrue(cells.stdout.contains("[6]! trian 3"), cells.stdout)
    }

    // (13) The memory check's estimate is within 25% of the measured peak: the four bench configurations (every gate on)
    // and ResNet Fabrics and a CNF trained in the notebook (gates sampled per example: every module gathers its rows).
    func testTheMemoryEstimateIsWithinAQuarterOfTheMeasuredPeak() throws {
        for config in ["cnf_c32_b64", "cnf_c64_b64", "cnf_c128_b32", "resnet20_b64"] {
            let r = try bsn(["bench", "train", "--row", "\(config),sub-batch,all", "--seconds", "0.05"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let row = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((r.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any], r.stdout)
            let estimated = try XCTUnwrap(row["estimated_mb"] as? Double), measured = try XCTUnwrap(row["measured_mb"] as? Double)
            XCTAssertEqual(measured / estimated, 1, accuracy: 0.25, "\(config): estimated \(estimated) MB, measured \(measured) MB")
        }
        for build in ["resnet-fabric k=3 n=3", "resnet-fabric k=2 n=5", "cnf W=4 S=5 C=16"] {
            let r = try bsn(["run", "-"], input: "load shapes train=512 val=16 test=16\nbuild \(build)\ntrain 3 steps\nsummary --json\n")
            XCTAssertEqual(r.status, 0, r.stderr)
            let line = try XCTUnwrap(r.stdout.split(separator: "\n").last { $0.contains("\"memory\"") })
            let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let memory = try XCTUnwrap(summary["memory"] as? [String: Any])
            let estimated = try XCTUnwrap(memory["estimated"] as? Double), measured = try XCTUnwrap(memory["measured"] as? Double)
            XCTAssertEqual(memory["trained"] as? Bool, true)
            XCTAssertEqual(measured / estimated, 1, accuracy: 0.25, "\(build): estimated \(estimated), measured \(measured) bytes")
        }
    }

    // bsn fuzz: a run that outlives SIGINT and its grace is a hang, and its threads' stacks are kept (where gdb is installed).
    func testAFuzzChildThatHangsIsKilledWithItsStacksKept() throws {
        let child = Child(binary: "/bin/sh", arguments: ["-c", "trap '' INT; sleep 30"], folder: folder, memoryLimitKB: 1 << 20, deadline: 0.5, grace: 0.5)
        let start = Date()
        let result = try child.run()
        XCTAssertEqual(result.outcome, .hung)
        XCTAssertLessThan(Date().timeIntervalSince(start), 25)
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") {
            let stacks = try String(contentsOf: folder.appendingPathComponent("stacks.txt"), encoding: .utf8)
            XCTAssertTrue(stacks.contains("#0"), stacks)
        }
    }

    // (14) Under an address-space limit (ulimit -v) OpenBLAS retries for ever to map a buffer that does not fit (the long
    // fuzz run's hang: 37 threads under 4 GB). `set threads` refuses what would not fit; a session saved with more threads
    // trains under the limit with its loops on one thread where the threads do not fit: a warning, and the same numbers.
    func testThreadsThatDoNotFitTheAddressSpaceLimitAreRefusedOrRunOnOneThread() throws {
        let limitKB = 4 << 20
        try write("many.bsn", "load shapes train=256 val=16 test=16\nbuild resnet depth=8\nset threads 37\n")
        var r = try shell("ulimit -v \(limitKB); timeout 120 \"$BSN\" run many.bsn; echo \"status $?\"")
        XCTAssertTrue(r.output.contains("many.bsn:3: error: set threads: threads 37 do not fit in this process's address-space limit (ulimit -v): "
                                        + "each worker thread takes ~210 MB (its stack and OpenBLAS's buffer); at most "), r.output)
        XCTAssertTrue(r.output.contains("status 1"), r.output)

        try write("save.bsn", "load shapes train=256 val=16 test=16\nbuild resnet depth=8\nset threads 37\nsave t37\nsave t37-free\n")
        XCTAssertEqual(try bsn(["run", "save.bsn"]).status, 0)
        try write("train.bsn", "train 2 epochs\n")
        r = try shell("ulimit -v \(limitKB); BSN_CONV_ALGORITHM=gemm timeout 120 \"$BSN\" run train.bsn --session t37; echo \"status $?\"")
        XCTAssertTrue(r.output.contains("status 0"), r.output)
        XCTAssertTrue(r.output.contains(" worker threads do not fit in this process's address-space limit (ulimit -v; each takes ~210 MB): "
                                        + "loops of more workers than fit run on one thread; set threads "), r.output)
        let free = try shell("BSN_CONV_ALGORITHM=gemm timeout 120 \"$BSN\" run train.bsn --session t37-free")
        func rows(_ output: String) -> [String] {
            output.split(separator: "\n").filter { $0.hasPrefix("1 ") || $0.hasPrefix("2 ") }.map { String($0.dropLast(6)) }
        }
        XCTAssertEqual(rows(r.output).count, 2, r.output)
        XCTAssertEqual(rows(r.output), rows(free.output), "without the limit: \(free.output)")
    }
}
