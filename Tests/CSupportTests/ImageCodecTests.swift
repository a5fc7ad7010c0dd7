import CSupport
import Foundation
import XCTest

/// The libpng / libjpeg shims in CSupport: round trips and damaged input.
final class ImageCodecTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-codec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// The C string in a message buffer.
    private func message(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func pattern(_ width: Int, _ height: Int, _ channels: Int) -> [UInt8] {
        (0..<width * height * channels).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 / 7) }
    }

    func testPNGRoundTripIsExactForRGBAndRGBAAtOddSizes() throws {
        for (w, h, c) in [(7, 5, 3), (13, 1, 4), (1, 9, 3), (31, 17, 4)] {
            let path = folder.appendingPathComponent("x\(w)_\(h)_\(c).png").path
            let pixels = pattern(w, h, c)
            var error = [CChar](repeating: 0, count: 256)
            XCTAssertEqual(bsn_png_write(path, pixels, Int32(w), Int32(h), Int32(c), &error, 256), 0, message(error))
            var data: UnsafeMutablePointer<UInt8>?
            var rw: Int32 = 0, rh: Int32 = 0, rc: Int32 = 0
            XCTAssertEqual(bsn_png_read(path, &data, &rw, &rh, &rc, &error, 256), 0, message(error))
            defer { bsn_free(data) }
            XCTAssertEqual([rw, rh, rc], [Int32(w), Int32(h), Int32(c)])
            XCTAssertEqual(Array(UnsafeBufferPointer(start: data, count: w * h * c)), pixels)
        }
    }

    func testPNGErrorsAreReportedNotFatal() throws {
        var error = [CChar](repeating: 0, count: 256)
        XCTAssertEqual(bsn_png_write("/nonexistent-folder/x.png", [0, 0, 0], 1, 1, 3, &error, 256), -1)
        XCTAssertTrue(message(error).contains("No such file"), message(error))
        let junk = folder.appendingPathComponent("junk.png").path
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: junk))
        var data: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
        XCTAssertEqual(bsn_png_read(junk, &data, &w, &h, &c, &error, 256), -1)
        XCTAssertFalse(message(error).isEmpty)
    }

    func testJPEGRoundTripIsCloseAndDamageIsCaught() throws {
        let (w, h) = (24, 16)
        // A smooth gradient survives JPEG at quality 95 within a few levels.
        var pixels = [UInt8]()
        for y in 0..<h { for x in 0..<w { pixels += [UInt8(x * 10), UInt8(y * 15), 128] } }
        let path = folder.appendingPathComponent("g.jpg").path
        var error = [CChar](repeating: 0, count: 256)
        XCTAssertEqual(bsn_jpeg_write(path, pixels, Int32(w), Int32(h), 95, &error, 256), 0, message(error))
        var data: UnsafeMutablePointer<UInt8>?
        var rw: Int32 = 0, rh: Int32 = 0
        XCTAssertEqual(bsn_jpeg_read(path, 0, 0, &data, &rw, &rh, &error, 256), 0, message(error))
        XCTAssertEqual([rw, rh], [Int32(w), Int32(h)])
        let decoded = Array(UnsafeBufferPointer(start: data, count: w * h * 3))
        bsn_free(data)
        let worst = zip(decoded, pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 12)

        // Truncated: libjpeg would warn and pad; the shim reports damage instead.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let truncated = folder.appendingPathComponent("t.jpg").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        XCTAssertEqual(bsn_jpeg_read(truncated, 0, 0, &data, &rw, &rh, &error, 256), -1)
        XCTAssertTrue(message(error).contains("corrupt JPEG"), message(error))
        // Not a JPEG at all: libjpeg's fatal error comes back as a message, the process lives on.
        try Data("GIF89a....".utf8).write(to: URL(fileURLWithPath: truncated))
        XCTAssertEqual(bsn_jpeg_read(truncated, 0, 0, &data, &rw, &rh, &error, 256), -1)
        XCTAssertTrue(message(error).contains("corrupt JPEG"), message(error))
        XCTAssertEqual(bsn_jpeg_read("/nonexistent.jpg", 0, 0, &data, &rw, &rh, &error, 256), -1)
    }
}
