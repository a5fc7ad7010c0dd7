import Files
import Foundation
import Session
import TestSupport
import XCTest

final class CheckedFileTests: XCTestCase {
    func testCRC32KnownValue() {
        XCTAssertEqual(CRC32.of(Data("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.of(Data()), 0)
    }

    func testRoundTripAndEveryKindOfDamage() throws {
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("x.bin")
        let payload = Data((0..<1000).map { UInt8($0 % 251) })
        try CheckedFile.write(payload, kind: "state", to: url)
        XCTAssertEqual(try CheckedFile.read(url, kind: "state"), payload)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["x.bin"], "no temporary file left")
        let whole = try Data(contentsOf: url)

        try whole.prefix(whole.count - 10).write(to: url)
        assertThrows(try CheckedFile.read(url, kind: "state"), mentions: ["x.bin", "truncated"])
        var flipped = whole
        flipped[flipped.count - 5] ^= 0x40
        try flipped.write(to: url)
        assertThrows(try CheckedFile.read(url, kind: "state"), mentions: ["x.bin", "checksum"])
        try Data("PK\u{3}\u{4} a zip file".utf8).write(to: url)
        assertThrows(try CheckedFile.read(url, kind: "state"), mentions: ["x.bin", "not a bsn session file"])
        try whole.write(to: url)
        assertThrows(try CheckedFile.read(url, kind: "cells"), mentions: ["x.bin", "a state file, expected cells"])
        var newer = whole
        let header = String(decoding: whole.prefix(while: { $0 != 0x0A }), as: UTF8.self)
        newer.replaceSubrange(0..<header.utf8.count, with: Data(header.replacingOccurrences(of: "bsn-state 1 ", with: "bsn-state 7 ").utf8))
        try newer.write(to: url)
        assertThrows(try CheckedFile.read(url, kind: "state"), mentions: ["x.bin", "version 7"])
        assertThrows(try CheckedFile.read(folder.appendingPathComponent("nope"), kind: "state"), mentions: ["nope", "missing"])
    }

    /// Callers act on an error's kind, never on its words: each kind comes from the condition, whatever the message says.
    func testErrorsCarryTheKindCallersSwitchOn() throws {
        let folder = try temporaryFolder(self)
        func kind(_ body: () throws -> Void) -> Any? {
            do { try body() } catch let e as FileError { return e.kind } catch let e as SessionError { return e.kind } catch { return error }
            return nil
        }
        let missing = folder.appendingPathComponent("nope")
        XCTAssertEqual(kind { _ = try RegularFile(missing.path) } as? FileError.Kind, .missing)
        XCTAssertEqual(kind { _ = try RegularFile(folder.path) } as? FileError.Kind, .notRegular)
        let url = folder.appendingPathComponent("x.bin")
        _ = try CheckedFile.write(Data(repeating: 7, count: 100), kind: "state", to: url)
        XCTAssertEqual(kind { _ = try RegularFile(url.path).readAll(limit: 10) } as? FileError.Kind, .tooLarge)
        XCTAssertEqual(kind { _ = try CheckedFile.read(missing, kind: "state") } as? SessionError.Kind, .missing)
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count - 1] ^= 1
        try bytes.write(to: url)
        XCTAssertEqual(kind { _ = try CheckedFile.read(url, kind: "state") } as? SessionError.Kind, .damaged)
        try bytes.prefix(bytes.count - 3).write(to: url)
        XCTAssertEqual(kind { _ = try CheckedFile.read(url, kind: "state") } as? SessionError.Kind, .damaged)
    }

    func testUnwritableFolderGivesAMessage() {
        assertThrows(try CheckedFile.write(Data([1]), kind: "state", to: URL(fileURLWithPath: "/nonexistent-folder/x")), mentions: ["cannot write"])
    }
}
