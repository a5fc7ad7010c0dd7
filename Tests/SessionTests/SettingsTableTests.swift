import Foundation
import Datasets
import Session
import SuperNet
import TestSupport
import XCTest

/// Every setting is one declaration in `Settings.table`: the walk below sets
/// each by its word and by a word outside its values, through the same path
/// `set` takes, and checks the bounds the saved-session check applies.
final class SettingsTableTests: XCTestCase {
    func testEverySettingTakesItsOwnWordBackAndRefusesAnother() throws {
        let s = Session(name: "walk")
        XCTAssertEqual(Set(Settings.table.map(\.name)).count, Settings.table.count, "names are unique")
        for setting in Settings.table {
            let word = setting.word(in: s.settings)
            XCTAssertNoThrow(try setting.set(word, in: s), setting.name)
            XCTAssertEqual(setting.word(in: s.settings), word, setting.name)
            XCTAssertFalse(setting.help.isEmpty, setting.name)
            guard setting.name != "tensorboard" else { continue }     // any folder is a value
            XCTAssertThrowsError(try setting.set("x?", in: s), setting.name) { error in
                XCTAssertTrue("\(error)".hasPrefix("\(setting.name): expected "), "\(error)")
                XCTAssertTrue("\(error)".hasSuffix(", got 'x?'"), "\(error)")
            }
        }
    }

    func testBoundsAreTheDeclarationsForSetTheTypedValuesAndSavedSessions() throws {
        let s = Session(name: "bounds")
        let cases: [(String, accepted: String, refused: String, expected: String)] = [
            ("lr", "10", "10.5", "lr: expected a number in [0, 10], got '10.5'"),
            ("path-lr", "100", "-1", "path-lr: expected a number in [0, 100], got '-1'"),
            ("momentum", "0.99", "1", "momentum: expected a number in [0, 1), got '1'"),
            ("wd", "0", "2", "wd: expected a number in [0, 1], got '2'"),
            ("batch", "100000", "0", "batch: expected a whole number in 1…100000, got '0'"),
            ("threads", "1", "257", "threads: expected a whole number in 1…256, got '257'"),
            ("allreduce-bucket", "4k", "1k", "allreduce-bucket: expected a size in bytes from 4k to 4G (for example 1M or 25M), auto or off, got '1k'"),
            ("sampling", "batch", "image", "sampling: expected example or batch, got 'image'"),
            ("nesterov", "yes", "on", "nesterov: expected yes or no, got 'on'"),
        ]
        for (name, accepted, refused, expected) in cases {
            let setting = try XCTUnwrap(Settings.named(name))
            XCTAssertEqual(try setting.set(accepted, in: s).text, "\(name) = \(accepted)")
            XCTAssertThrowsError(try setting.set(refused, in: s)) { XCTAssertEqual("\($0)", expected) }
        }
        // The typed values go through the same bounds.
        XCTAssertThrowsError(try s.set(.batch(0))) { XCTAssertEqual("\($0)", "batch: expected a whole number in 1…100000, got '0'") }
        XCTAssertThrowsError(try s.set(.learningRate(11))) { XCTAssertEqual("\($0)", "lr: expected a number in [0, 10], got '11'") }
        XCTAssertThrowsError(try s.set(.allreduceBucket(5))) { XCTAssertTrue("\($0)".hasPrefix("allreduce-bucket: expected a size in bytes")) }
        XCTAssertEqual(try s.set(.allreduceBucket(0)).text, "allreduce-bucket = off")
        XCTAssertEqual(try s.set(.learningRate(0.05)).text, "lr = 0.05")
        XCTAssertEqual(s.settings.learningRate, 0.05)
    }

    func testASavedSessionWithASettingOutOfBoundsIsRefusedByName() throws {
        let folder = try temporaryFolder(self)
        let sessions = folder.appendingPathComponent("sessions")
        let script = "load shapes train=64 val=16 test=16\nbuild cnf W=2 S=3 C=4\nset batch 32\nsave b\n"
        let environment: [String: String?] = ["BSN_SESSIONS": sessions.path, "BSN_CACHE": folder.appendingPathComponent("cache").path]
        XCTAssertEqual(try runBSN(["run", "-"], environment: environment, input: script, workingDirectory: folder.path).status, 0)
        let manifest = sessions.appendingPathComponent("b/session.json")
        let payload = try String(decoding: CheckedFile.read(manifest, kind: "session"), as: UTF8.self)
        let edited = payload.replacingOccurrences(of: #""batch"\s*:\s*32"#, with: "\"batch\":0", options: .regularExpression)
        XCTAssertNotEqual(edited, payload)
        _ = try CheckedFile.write(Data(edited.utf8), kind: "session", to: manifest)
        let opened = try runBSN(["--session", "b"], environment: environment, input: "", workingDirectory: folder.path)
        XCTAssertTrue((opened.stdout + opened.stderr).contains("settings.batch = 0 is out of bounds (a whole number in 1…100000)"), opened.stdout + opened.stderr)
    }
}

/// A fabric says why it cannot learn a dataset of the other kind (one check, the fabric's words).
final class FabricMismatchTests: XCTestCase {
    func testEachFabricRefusesTheOtherKindOfDatasetInItsOwnWords() throws {
        let shapes = Session(name: "c")
        try shapes.load(Shapes(train: 16, validation: 8, test: 8, seed: 2))
        XCTAssertThrowsError(try shapes.build(.cnf(columns: 2, scales: 3, channels: 4, segmentation: true, gated: true))) {
            XCTAssertEqual("\($0)", "cnf-seg needs a segmentation dataset (partlabels, faces); \(shapes.dataset!.name) is classification: use build cnf")
        }
        let faces = Session(name: "s")
        try faces.load(Faces(side: 16, train: 8, validation: 4, test: 4, seed: 2))
        let name = faces.dataset!.name
        XCTAssertThrowsError(try faces.build(.cnf(columns: 2, scales: 3, channels: 4, segmentation: false, gated: true))) {
            XCTAssertEqual("\($0)", "\(name) is a segmentation dataset: use build cnf-seg")
        }
        XCTAssertThrowsError(try faces.build(.resnet(groups: 3, blocks: 1, shortcuts: true, gated: true))) {
            XCTAssertEqual("\($0)", "the ResNet fabrics classify; \(name) is a segmentation dataset: use build cnf-seg")
        }
        XCTAssertNoThrow(try faces.build(.cnf(columns: 2, scales: 3, channels: 4, segmentation: true, gated: true)))
    }
}
