import Datasets
import Foundation
import Session
import Tensor
import TestSupport
import XCTest

/// Files that are not plain files, through the real binary: every writer
/// refuses devices, FIFOs and folders and replaces a symlink without writing
/// its target; every reader refuses a FIFO at once; damaged images are damage.
final class SpecialFileTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws { folder = try temporaryFolder(self) }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    private func bsn(_ arguments: [String], input: String? = nil) throws -> (run: BinaryRun, seconds: Double) {
        let start = Date()
        let run = try runBSN(arguments, environment: ["BSN_SESSIONS": path("sessions"), "BSN_HISTORY": path("history"), "BSN_CACHE": path("cache")],
                             input: input, workingDirectory: folder.path)
        XCTAssertFalse(run.stderr.contains("Fatal error"), run.stderr)
        return (run, Date().timeIntervalSince(start))
    }

    private func script(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    private func kind(_ p: String) -> mode_t {
        var info = stat()
        return lstat(p, &info) == 0 ? info.st_mode & S_IFMT : 0
    }

    static let setup = "load shapes train=64 val=16 test=16\nbuild cnf W=1 S=2 C=2\n"

    /// (3), (4): a fake device made with mknod, a FIFO, a folder and a symlink to a file outside the test folder, as the target of every writer.
    func testWritersRefuseSpecialFilesAndNeverWriteThroughALink() throws {
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-victim-\(UUID().uuidString).txt").path
        try "precious\n".write(toFile: outside, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let device = path("fakenull.png")
        let haveDevice = mknod(device, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0
        if !haveDevice { print("skipped the device targets: mknod is not permitted here") }
        XCTAssertEqual(mkfifo(path("pipe.png"), 0o644), 0)
        try FileManager.default.createDirectory(atPath: path("dir.png"), withIntermediateDirectories: false)
        let writers = ["render graph %@", "export model %@", "export onnx %@", "export arch %@", "export script %@"]
        var lines = [String]()
        for w in writers {
            for target in [haveDevice ? device : nil, path("pipe.png"), path("dir.png")].compactMap({ $0 }) {
                lines.append(w.replacingOccurrences(of: "%@", with: target))
            }
        }
        let (run, seconds) = try bsn(["run", try script("w.bsn", Self.setup + lines.joined(separator: "\n") + "\n"), "--keep-going"])
        XCTAssertEqual(run.status, 1, run.stdout)
        XCTAssertLessThan(seconds, 20)
        let errors = run.stderr.split(separator: "\n").filter { $0.contains("error:") }
        XCTAssertEqual(errors.count, lines.count, run.stderr)
        for e in errors { XCTAssertTrue(e.contains("bsn writes only regular files"), String(e)) }
        if haveDevice { XCTAssertEqual(kind(device), S_IFCHR, "the device node is still one") }
        XCTAssertEqual(kind(path("pipe.png")), S_IFIFO)
        XCTAssertEqual(kind(path("dir.png")), S_IFDIR)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: folder.path).contains { $0.contains(".tmp-") })

        // A symlink as every writer's target: replaced by the file, its target untouched, and the message says so.
        var linked = [String]()
        for (n, w) in writers.enumerated() {
            let link = path("link\(n).png")
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: outside)
            linked.append(w.replacingOccurrences(of: "%@", with: link))
        }
        let (links, _) = try bsn(["run", try script("l.bsn", Self.setup + linked.joined(separator: "\n") + "\n")])
        XCTAssertEqual(links.status, 0, links.stderr)
        XCTAssertEqual(try String(contentsOfFile: outside, encoding: .utf8), "precious\n")
        for n in writers.indices {
            XCTAssertEqual(kind(path("link\(n).png")), S_IFREG)
            XCTAssertTrue(links.stdout.contains("link\(n).png was a symbolic link to \(outside): the link was replaced by the new file"), links.stdout)
        }
    }

    /// (5) A FIFO where any reader expects a file: refused at once (each in under 2 s), by name.
    func testEveryReaderRefusesAFIFOAtOnce() throws {
        // A model, an architecture and a saved session to replace parts of with FIFOs.
        let make = try bsn(["run", try script("mk.bsn", Self.setup + "export model m.bsnm\nexport arch a.json\nsave s\n")])
        XCTAssertEqual(make.run.status, 0, make.run.stderr)
        try DatasetFiles.writePartLabels(folder.appendingPathComponent("parts"))
        var rng = RNG(seed: 5)
        try DatasetFiles.writeCIFAR10(folder.appendingPathComponent("cifar")) { _, _ in .random(labelBytes: 1, classes: 10, rng: &rng) }
        func fifo(_ p: String) throws {
            try? FileManager.default.removeItem(atPath: p)
            XCTAssertEqual(mkfifo(p, 0o644), 0, p)
        }
        try fifo(path("f.png"))
        try fifo(path("f.bsnm"))
        try fifo(path("f.json"))
        try fifo(PartLabels.Entry(name: "Ann_Lee", number: 1).imagePath(folder.appendingPathComponent("parts")))
        try fifo(path("cifar/data_batch_2.bin"))
        let cases: [(String, [String], String?, String)] = [
            ("infer in the notebook", ["run", try script("i.bsn", "open s\ninfer f.png\n")], nil, "f.png: a FIFO"),
            ("bsn infer, the image", ["infer", "m.bsnm", "f.png"], nil, "f.png: a FIFO"),
            ("bsn infer, the model", ["infer", "f.bsnm", "x.png"], nil, "f.bsnm: a FIFO"),
            ("bsn export-onnx, the model", ["export-onnx", "f.bsnm", "o.onnx"], nil, "f.bsnm: a FIFO"),
            ("infer --model", ["run", try script("im.bsn", "infer x.png --model=f.bsnm\n")], nil, "f.bsnm: a FIFO"),
            ("build from", ["run", try script("b.bsn", "load shapes train=64 val=16 test=16\nbuild from f.json\n")], nil, "f.json: a FIFO"),
            ("Part Labels image", ["run", try script("p.bsn", "load partlabels parts\n")], nil, "Ann_Lee_0001.jpg: a FIFO"),
            ("CIFAR batch", ["run", try script("c.bsn", "load cifar10 cifar\n")], nil, "data_batch_2.bin: a FIFO"),
        ]
        for (what, arguments, input, expected) in cases {
            let (run, seconds) = try bsn(arguments, input: input)
            XCTAssertNotEqual(run.status, 0, what)
            XCTAssertTrue(run.stderr.contains(expected), "\(what): \(run.stderr)")
            XCTAssertLessThan(seconds, 2, what)
        }
        // A session's state file replaced by a FIFO (the manifest names it).
        let dir = path("sessions/s")
        let state = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("state-") })
        try fifo(dir + "/" + state)
        let (open, seconds) = try bsn(["run", try script("o.bsn", "open s\n")])
        XCTAssertEqual(open.status, 1)
        XCTAssertTrue(open.stderr.contains("\(state): a FIFO"), open.stderr)
        XCTAssertLessThan(seconds, 2)
    }

    /// (6) A Part Labels JPEG cut at every 1/16 is damage: skipped and listed with onerror=skip, refused by bsn infer.
    func testTruncatedJPEGsAreDamageAtEverySixteenth() throws {
        let root = folder.appendingPathComponent("parts")
        try DatasetFiles.writePartLabels(root)
        let image = PartLabels.Entry(name: "Ann_Lee", number: 1).imagePath(root)
        let whole = try Data(contentsOf: URL(fileURLWithPath: image))
        XCTAssertEqual(try bsn(["run", try script("mk.bsn", "load faces train=64 val=16 test=16\nbuild cnf-seg W=2 S=3 C=4\nexport model seg.bsnm\n")]).run.status, 0)
        let load = try script("p.bsn", "load partlabels parts onerror=skip\ndata\n")
        for k in 1..<16 {
            let cut = whole.prefix(whole.count * k / 16)
            try cut.write(to: URL(fileURLWithPath: image))
            let (run, _) = try bsn(["run", load])
            XCTAssertEqual(run.status, 0, "\(k)/16: \(run.stderr)")
            XCTAssertTrue(run.stdout.contains("1 images skipped:") && run.stdout.contains("Ann_Lee_0001.jpg: not a readable JPEG (corrupt JPEG"),
                          "\(k)/16 is listed as skipped: \(run.stdout)")
            try cut.write(to: URL(fileURLWithPath: path("cut.jpg")))
            let (infer, _) = try bsn(["infer", "seg.bsnm", "cut.jpg"])
            XCTAssertEqual(infer.status, 1, "\(k)/16: bsn infer took a truncated JPEG")
            XCTAssertTrue(infer.stderr.contains("corrupt JPEG"), infer.stderr)
        }
        try whole.write(to: URL(fileURLWithPath: path("whole.jpg")))
        XCTAssertEqual(try bsn(["infer", "seg.bsnm", "whole.jpg"]).run.status, 0)
        // infer's masks are written like every other file: a FIFO where the mask goes is refused and left as it is.
        try whole.write(to: URL(fileURLWithPath: path("piped.jpg")))
        XCTAssertEqual(mkfifo(path("piped.mask.png"), 0o644), 0)
        let (masked, seconds) = try bsn(["infer", "seg.bsnm", "piped.jpg"])
        XCTAssertEqual(masked.status, 1)
        XCTAssertTrue(masked.stderr.contains("piped.mask.png: a FIFO (named pipe) is there; bsn writes only regular files"), masked.stderr)
        XCTAssertEqual(kind(path("piped.mask.png")), S_IFIFO)
        XCTAssertLessThan(seconds, 2)
    }

    /// `build from` refuses an architecture file whose nodes or edges disagree with its fabric and gates.
    func testEditedArchitectureFilesAreRefusedWithWhatDisagrees() throws {
        let make = try bsn(["run", try script("mk.bsn", "load shapes train=64 val=16 test=16\nbuild cnf W=2 S=3 C=4\nexport arch a.json\n")])
        XCTAssertEqual(make.run.status, 0, make.run.stderr)
        let original = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("a.json")))) as? [String: Any])
        let edges = try XCTUnwrap(original["edges"] as? [[String]])
        let nodes = try XCTUnwrap(original["nodes"] as? [[String: Any]])
        let first = try XCTUnwrap(nodes.first?["name"] as? String), last = try XCTUnwrap(nodes.last?["name"] as? String)
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("a cycle", { $0["edges"] = edges + [[last, first]] }, "edge \(last) → \(first) is not in"),
            ("a self-loop", { $0["edges"] = edges + [[first, first]] }, "is a self-loop"),
            ("an unknown node", { $0["edges"] = edges + [[first, "nowhere"]] }, "edge \(first) → nowhere is not in"),
            ("no edges", { $0["edges"] = [[String]]() }, "is missing from the file"),
            ("a renamed node", { j in
                var n = nodes
                n[0]["name"] = "renamed"
                j["nodes"] = n
            }, "node 'renamed' is not in"),
        ]
        for (what, edit, expected) in cases {
            var json = original
            edit(&json)
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path("edited.json")))
            let (run, _) = try bsn(["run", try script("b.bsn", "load shapes train=64 val=16 test=16\nbuild from edited.json\n")])
            XCTAssertEqual(run.status, 1, what)
            XCTAssertTrue(run.stderr.contains(expected), "\(what): \(run.stderr)")
        }
        let (ok, _) = try bsn(["run", try script("ok.bsn", "load shapes train=64 val=16 test=16\nbuild from a.json\n")])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    /// A model file whose normalisation was re-signed to an absurd value is refused.
    func testAModelWithAnAbsurdNormalisationIsRefused() throws {
        XCTAssertEqual(try bsn(["run", try script("mk.bsn", Self.setup + "export model m.bsnm\n")]).run.status, 0)
        let url = URL(fileURLWithPath: path("m.bsnm"))
        var payload = [UInt8](try CheckedFile.read(url, kind: "model"))
        // The JSON header sits first in the payload: the divisor's value, same length, re-signed.
        let key = Array("\"normalisationDivisor\":127.5".utf8)
        let at = try XCTUnwrap((0...(payload.count - key.count)).first { Array(payload[$0..<$0 + key.count]) == key })
        payload.replaceSubrange(at + key.count - 5..<at + key.count, with: Array("-9e18".utf8))
        try CheckedFile.write(Data(payload), kind: "model", to: url)
        let (run, _) = try bsn(["infer", "m.bsnm", "x.png"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("normalisation byte / -9"), run.stderr)
    }
}
