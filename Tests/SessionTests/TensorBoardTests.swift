import Foundation
import Session
import SuperNet
import TensorBoardProto
import XCTest

/// The event-file format of `set tensorboard`: CRC-32C, TFRecord framing,
/// and the files a run writes (read back here by bsn's own decoder; by
/// TensorBoard's reader in EndToEnd/WatchingTests).
final class TensorBoardTests: XCTestCase {
    func testCRC32CMatchesItsPublishedCheckValues() {
        // The check value of CRC-32C ("123456789"), and RFC 3720's (iSCSI) test vectors: 32 zeros, 32 0xFF bytes, 0…31.
        XCTAssertEqual(CRC32C.checksum(Data("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum(Data(repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum(Data(repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum(Data((0..<32).map { UInt8($0) })), 0x46DD_794E)
    }

    func testARecordIsLengthItsMaskedChecksumTheEventAndItsMaskedChecksum() throws {
        var event = Tensorboard_Event()
        event.step = 7
        event.fileVersion = "brain.Event:2"
        let bytes = try EventRecords.encode([event])
        let body: Data = try event.serializedBytes()
        XCTAssertEqual(bytes.count, 8 + 4 + body.count + 4)
        XCTAssertEqual(Array(bytes.prefix(8)), [UInt8(body.count), 0, 0, 0, 0, 0, 0, 0])
        // The masked CRC of the length: ((crc >> 15) | (crc << 17)) + 0xa282ead8, little-endian.
        let crc = CRC32C.checksum(bytes.prefix(8)), masked = ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
        XCTAssertEqual(Array(bytes[8..<12]), [UInt8(masked & 0xFF), UInt8(masked >> 8 & 0xFF), UInt8(masked >> 16 & 0xFF), UInt8(masked >> 24)])
        XCTAssertEqual(bytes[12..<12 + body.count], body)
    }

    func testRecordsRoundTripAndADamagedByteIsCaught() throws {
        var events = [Tensorboard_Event]()
        for step in 1...5 {
            var e = Tensorboard_Event()
            e.step = Int64(step)
            e.wallTime = 1.5 * Double(step)
            var v = Tensorboard_Summary.Value()
            v.tag = "train/loss"
            v.simpleValue = Float(step) / 3
            e.summary.value = [v]
            events.append(e)
        }
        var bytes = try EventRecords.encode(events)
        XCTAssertEqual(try EventRecords.decode(bytes), events)
        for k in [3, 10, 20, bytes.count - 1] {
            var damaged = bytes
            damaged[k] ^= 0x10
            XCTAssertThrowsError(try EventRecords.decode(damaged), "byte \(k)")
        }
        bytes.removeLast(3)
        XCTAssertThrowsError(try EventRecords.decode(bytes)) { XCTAssertTrue("\($0)".contains("past the end"), "\($0)") }
    }

    func testARunWritesNewFilesInNameOrderEachStartingWithTheFileVersion() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let run = try TensorBoardRun(root: root.path, run: "s")
        for step in 1...3 {
            let json = #"{"step":\#(step),"sampling":true,"learningRate":0.1,"loss":2,"accuracy":0.5,"sampledCost":10,"deterministicCost":12,"gateEntropy":0.3,"consistent":1}"#
            run.add(try JSONDecoder().decode(StepMetrics.self, from: Data(json.utf8)))
            try run.flush()
        }
        try run.flush()             // nothing pending: no empty file
        let names = try FileManager.default.contentsOfDirectory(atPath: run.folder.path).sorted()
        XCTAssertEqual(names.count, 3)
        XCTAssertTrue(names.allSatisfy { $0.hasPrefix("events.out.tfevents.") })
        for (k, name) in names.enumerated() {
            let events = try EventRecords.decode(try Data(contentsOf: run.folder.appendingPathComponent(name)))
            XCTAssertEqual(events.first?.fileVersion, "brain.Event:2")
            XCTAssertEqual(events.dropFirst().map(\.step), [Int64(k + 1)])
            XCTAssertEqual(events[1].summary.value.map(\.tag), ["train/loss", "train/accuracy", "train/learning_rate", "cost/sampled", "cost/deterministic", "gates/entropy"])
        }
        // A folder where a file stands is refused by name.
        let file = root.appendingPathComponent("plain")
        try Data().write(to: file)
        XCTAssertThrowsError(try TensorBoardRun(root: file.path, run: "s")) { XCTAssertTrue("\($0)".contains("is not a folder"), "\($0)") }
    }
}
