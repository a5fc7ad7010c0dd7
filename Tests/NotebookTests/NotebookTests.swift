import Foundation
import Notebook
import Session
import SuperNet
import TestSupport
import XCTest

/// A notebook on a fresh session whose saves go to a temporary folder.
func makeNotebook(_ test: XCTestCase, name: String = "t") throws -> Notebook {
    let store = SessionStore(root: try temporaryFolder(test))
    return Notebook(session: Session(name: name), store: store, console: Console(interactive: false))
}

final class NotebookTests: XCTestCase {
    func testTokenizerQuotesVariablesAndComments() throws {
        let vars = ["data": "/d/cifar", "n": "3"]
        XCTAssertEqual(try tokenize("load cifar10 $data val=${n}00 # the data", variables: vars), ["load", "cifar10", "/d/cifar", "val=300"])
        XCTAssertEqual(try tokenize("export arch \"my file.json\" 'lit $x'", variables: vars), ["export", "arch", "my file.json", "lit $x"])
        XCTAssertEqual(try tokenize("a\\ b c", variables: [:]), ["a b", "c"])
        XCTAssertThrowsError(try tokenize("load $nope", variables: vars)) { XCTAssertTrue("\($0)".contains("unknown variable $nope")) }
        XCTAssertThrowsError(try tokenize("save \"open", variables: [:])) { XCTAssertTrue("\($0)".contains("unclosed quote")) }
    }

    func testMistakesGiveOneLineErrorsAndSuggestions() throws {
        let nb = try makeNotebook(self)
        let cases: [(String, String)] = [
            ("trian 3 steps", "did you mean 'train'?"),
            ("train 3 steps", "no model yet"),
            ("build cnf W=2 S=2 C=4", "load a dataset first"),
            ("load shapes trian=10", "did you mean 'train='?"),
            ("load cifar10 /nonexistent/folder", "no such folder"),
            ("load imagenet", "unknown dataset 'imagenet'"),
            ("set momentum 1.5", "[0, 1)"),
            ("set batch lots", "whole number"),
            ("set allreduce-bucket 12", "from 4k to 4G"),
            ("set allreduce-bucket big", "auto or off, got 'big'"),
            ("schedule 0.1 @x:0.01", "@<epoch>:<lr>"),
            ("open missing-session", "no session 'missing-session'"),
            ("budget flops 1M lambda=1e-6", "no model"),
            ("budget flops 1M", "needs lambda="),
            ("load shapes colour=red", "unknown option 'colour=' (it takes "),
            ("load shapes --fast", "unknown flag '--fast' (it takes --help, --json)"),
            ("eval test", "no model"),
        ]
        for (line, fragment) in cases {
            XCTAssertFalse(nb.execute(line), line)
            let output = nb.session.cells.last!.output
            XCTAssertTrue(output.contains(fragment), "\(line) → \(output)")
            XCTAssertEqual(output.split(separator: "\n").count, 1, "one line: \(output)")
        }
        XCTAssertTrue(nb.execute("help"))
        let listing = nb.session.cells.last!.output
        for name in Registry.names { XCTAssertTrue(listing.contains("\n  \(name) "), "help lists \(name)") }
        XCTAssertTrue(nb.execute("history 2 --output"))
        let recent = nb.session.cells.last!.output
        XCTAssertTrue(recent.contains("! eval test") && recent.contains("no model yet"), recent)
        XCTAssertTrue(nb.execute("help train"))
        XCTAssertTrue(nb.session.cells.last!.output.contains("example:"))
        XCTAssertTrue(nb.execute("train --help"))
        XCTAssertTrue(nb.session.cells.last!.output.contains("train <n> epochs|steps"))
    }

    /// `set allreduce-bucket`: bytes, auto or off, kept in the session's settings and listed by `set`.
    func testTheAllReduceBucketIsASettingSavedWithTheSession() throws {
        let nb = try makeNotebook(self)
        XCTAssertTrue(nb.execute("set allreduce-bucket 25M"))
        XCTAssertEqual(nb.session.settings.allreduceBucket, 25_000_000)
        XCTAssertTrue(nb.execute("set"))
        XCTAssertTrue(nb.session.cells.last!.output.contains("allreduce-bucket 25M bytes (under mpirun, overlapped with backward)"), nb.session.cells.last!.output)
        XCTAssertTrue(nb.execute("set allreduce-bucket off"))
        XCTAssertEqual(nb.session.settings.allreduceBucket, 0)
        XCTAssertTrue(nb.execute("save b"))
        XCTAssertEqual(try nb.store.open("b").settings.allreduceBucket, 0, "saved and reopened")
        XCTAssertTrue(nb.execute("set allreduce-bucket auto"))
        XCTAssertNil(nb.session.settings.allreduceBucket)
        XCTAssertTrue(nb.execute("set"))
        XCTAssertFalse(nb.session.cells.last!.output.contains("allreduce-bucket"))
    }

    func testASmallSearchRunsThroughTheCommands() throws {
        let nb = try makeNotebook(self)
        for line in ["load shapes train=256 val=64 test=64", "set batch 32", "build cnf W=3 S=3 C=8",
                     "budget flops 100k lambda=1e-5", "warmup 1 epochs", "set path-lr 0.05", "train 3 epochs",
                     "eval val", "inspect", "sample 3", "arch", "costs", "summary", "data"] {
            XCTAssertTrue(nb.execute(line), "\(line): \(nb.session.cells.last!.output)")
        }
        let trainer = try XCTUnwrap(nb.session.trainer)
        XCTAssertEqual(trainer.step, 24)
        XCTAssertEqual(nb.session.epochs.count, 3)
        XCTAssertTrue(trainer.samplingStarted)
        XCTAssertTrue(nb.session.steps.allSatisfy { $0.loss.isFinite && $0.accuracy >= 0 && $0.accuracy <= 1 })
        XCTAssertEqual(nb.session.evaluations.last?.split, .validation)
        // The session was saved by train; the JSON outputs parse.
        XCTAssertTrue(FileManager.default.fileExists(atPath: nb.store.folder("t").appendingPathComponent("session.json").path))
        for command in ["costs --json", "inspect --json", "sample 2 --json", "eval test --json", "summary --json", "data --json", "sessions --json"] {
            XCTAssertTrue(nb.execute(command), command)
            let text = nb.session.cells.last!.output
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(text.utf8)), "\(command): \(text)")
            XCTAssertEqual(text.split(separator: "\n").count, 1, "one JSON object: \(command)")
        }
    }

    /// Train N + M steps at once, or N, save, open, M: the same numbers.
    func testSaveAndOpenContinueExactly() throws {
        let setup = ["load shapes train=200 val=40 test=40", "set batch 20", "build cnf W=2 S=3 C=8",
                     "budget params 2k lambda=1e-4", "warmup 3 steps", "set path-lr 0.1"]
        let straight = try makeNotebook(self, name: "a")
        for l in setup + ["train 13 steps"] { XCTAssertTrue(straight.execute(l), l) }

        let first = try makeNotebook(self, name: "b")
        for l in setup + ["train 6 steps", "save"] { XCTAssertTrue(first.execute(l), l) }
        first.session.close()               // as if its process had ended: the folder is free to write
        let reopened = try first.store.open("b")
        XCTAssertNil(reopened.readOnlyBecause)
        let second = Notebook(session: reopened, store: first.store, console: Console(interactive: false))
        reopened.applySettings()
        XCTAssertTrue(second.execute("train 7 steps"))

        let a = straight.session.trainer!, b = second.session.trainer!
        XCTAssertEqual(a.step, b.step)
        for ((na, ta), (nb, tb)) in zip(a.stateTensors, b.stateTensors) {
            XCTAssertEqual(na, nb)
            XCTAssertEqual(ta.values, tb.values, na)
        }
        XCTAssertEqual(straight.session.steps, second.session.steps)
        XCTAssertEqual(a.state, b.state)
        XCTAssertEqual(second.session.cells.map(\.command), setup + ["train 6 steps", "save", "train 7 steps"])
    }

    /// A session on a space file: every command that reads the model works; the session saves the
    /// file's text, reopens after the file is deleted (and says so) and continues bit-identically.
    func testASpaceFileSessionReopensWithoutItsFileAndContinuesExactly() throws {
        let folder = try temporaryFolder(self)
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../samples/spaces/choice-blocks.yaml").standardized
        let space = folder.appendingPathComponent("my-space.yaml")
        try FileManager.default.copyItem(at: sample, to: space)
        let setup = ["load shapes train=200 val=40 test=40", "set batch 20", "set lr 0.02", "build space \(space.path) C=4 layers=2",
                     "budget flops 500k lambda=2e-6", "warmup 3 steps", "set path-lr 0.1"]
        let straight = try makeNotebook(self, name: "a")
        for l in setup + ["train 13 steps"] { XCTAssertTrue(straight.execute(l), "\(l): \(straight.session.cells.last!.output)") }
        XCTAssertTrue(straight.session.modelSpec!.fabric.summary.hasPrefix("space choice-blocks C=4 layers=2 stages=3"))

        let first = try makeNotebook(self, name: "b")
        for l in setup + ["train 6 steps", "save"] { XCTAssertTrue(first.execute(l), l) }
        let out = folder.path
        for l in ["inspect", "arch", "sample 3", "costs", "summary", "render graph \(out)/g.png", "render arch \(out)/a.png",
                  "export arch \(out)/arch.json", "export model \(out)/m.bsnmodel", "export onnx \(out)/m.onnx",
                  "export images \(out)/images split=test"] {
            XCTAssertTrue(first.execute(l), "\(l): \(first.session.cells.last!.output)")
        }
        let image = try XCTUnwrap(FileManager.default.enumerator(atPath: "\(out)/images")?.compactMap { $0 as? String }.first { $0.hasSuffix(".png") })
        XCTAssertTrue(first.execute("infer \(out)/images/\(image)"), first.session.cells.last!.output)
        XCTAssertTrue(first.execute("infer \(out)/images/\(image) --model=\(out)/m.bsnmodel"), first.session.cells.last!.output)
        for file in ["g.png", "a.png", "arch.json", "m.bsnmodel", "m.onnx"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), file)
        }
        first.session.close()
        // Edited, then gone: each reopening says so and builds from the saved copy.
        try (try String(contentsOf: space, encoding: .utf8) + "\n# edited\n").write(to: space, atomically: true, encoding: .utf8)
        var (reopened, report) = try first.store.reopen("b")
        XCTAssertTrue(report.text.contains("my-space.yaml has changed"), report.text)
        reopened.close()
        try FileManager.default.removeItem(at: space)
        (reopened, report) = try first.store.reopen("b")
        XCTAssertTrue(report.text.contains("my-space.yaml is gone"), report.text)
        reopened.close()
        // A FIFO put in its place is never opened (reading it would block): the note and build space say what it is.
        XCTAssertEqual(mkfifo(space.path, 0o600), 0)
        (reopened, report) = try first.store.reopen("b")
        XCTAssertTrue(report.text.contains("not a regular file"), report.text)
        XCTAssertThrowsError(try SpaceSource.read(space.path)) { XCTAssertTrue("\($0)".contains("FIFO"), "\($0)") }
        try FileManager.default.removeItem(at: space)
        let second = Notebook(session: reopened, store: first.store, console: Console(interactive: false))
        reopened.applySettings()
        XCTAssertTrue(second.execute("train 7 steps"), second.session.cells.last!.output)

        let a = straight.session.trainer!, b = second.session.trainer!
        XCTAssertEqual(a.step, b.step)
        for ((na, ta), (nb, tb)) in zip(a.stateTensors, b.stateTensors) {
            XCTAssertEqual(na, nb)
            XCTAssertEqual(ta.values, tb.values, na)
        }
        XCTAssertEqual(straight.session.steps, second.session.steps)
        // The exported architecture and the model file carry the space too: they build and run without the file.
        XCTAssertTrue(second.execute("build from \(out)/arch.json"), second.session.cells.last!.output)
        XCTAssertTrue(second.execute("eval test"), second.session.cells.last!.output)
        XCTAssertTrue(second.execute("export onnx \(out)/again.onnx --model=\(out)/m.bsnmodel"), second.session.cells.last!.output)
        // Mistakes in the command name their cause.
        XCTAssertFalse(second.execute("build space \(space.path)"))
        XCTAssertTrue(second.session.cells.last!.output.contains("no such space file"), second.session.cells.last!.output)
        XCTAssertFalse(second.execute("build space \(sample.path) C=four"))
        XCTAssertTrue(second.session.cells.last!.output.contains("C=four is not a whole number"), second.session.cells.last!.output)
        XCTAssertFalse(second.execute("build space \(sample.path) depth=3"))
        XCTAssertTrue(second.session.cells.last!.output.contains("no parameter 'depth'"), second.session.cells.last!.output)
    }

    func testDamagedSessionFilesAreRefusedByName() throws {
        let nb = try makeNotebook(self, name: "d")
        for l in ["load shapes train=100 val=20 test=20", "build cnf W=2 S=2 C=8", "train 2 steps"] { XCTAssertTrue(nb.execute(l), l) }
        let folder = nb.store.folder("d")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().filter { $0 != ".lock" }
        XCTAssertEqual(files, ["cells-1.jsonl", "epochs-1.jsonl", "session.json", "state-1.bin", "steps-1.jsonl"])
        for name in files {
            let url = folder.appendingPathComponent(name)
            let saved = try Data(contentsOf: url)
            try saved.prefix(saved.count / 2).write(to: url)
            assertThrows(try nb.store.open("d"), mentions: [name])
            var flipped = saved
            flipped[flipped.count - 2] ^= 1
            try flipped.write(to: url)
            assertThrows(try nb.store.open("d"), mentions: [name])
            try saved.write(to: url)
        }
        XCTAssertNoThrow(try nb.store.open("d"))
        // A listing shows the damage instead of failing.
        try Data("junk".utf8).write(to: folder.appendingPathComponent("session.json"))
        XCTAssertNotNil(nb.store.list().first { $0.name == "d" }?.problem)
    }

    func testExportedArchitectureBuildsAFixedBaseline() throws {
        let nb = try makeNotebook(self)
        let file = try temporaryFolder(self).appendingPathComponent("arch.json").path
        for l in ["load shapes train=100 val=20 test=20", "build cnf W=3 S=3 C=8"] { XCTAssertTrue(nb.execute(l), l) }
        let net = nb.session.network!
        for k in 0..<net.gateCount where k % 3 == 0 { net.gateLogits.value[k] = -2 }    // drop some modules
        let gates = net.keepProbabilities.map { $0 > 0.5 }
        XCTAssertTrue(nb.execute("export arch \(file)"))
        XCTAssertTrue(nb.execute("build from \(file)"), nb.session.cells.last!.output)
        let fixed = nb.session.network!
        XCTAssertEqual(fixed.keepProbabilities.map { $0 > 0.5 }, gates)
        XCTAssertTrue(fixed.keepProbabilities.allSatisfy { $0 == 0 || $0 == 1 })
        XCTAssertTrue(nb.execute("train 3 steps"))
        XCTAssertEqual(nb.session.network!.keepProbabilities.map { $0 > 0.5 }, gates, "fixed gates are not learned")
        XCTAssertTrue(nb.session.trainer!.lastArchitectures.allSatisfy { $0.gates == gates })
    }
}
