import CImages
import Foundation
import XCTest

/// The libpng / libjpeg shims in CImages: round trips in memory, damaged input.
final class ImageCodecTests: XCTestCase {
    /// The C string in a message buffer.
    private func message(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func pattern(_ width: Int, _ height: Int, _ channels: Int) -> [UInt8] {
        (0..<width * height * channels).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 / 7) }
    }

    private func encodePNG(_ pixels: [UInt8], _ w: Int, _ h: Int, _ c: Int) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?, size = 0
        var error = [CChar](repeating: 0, count: 256)
        XCTAssertEqual(bsn_png_encode(pixels, Int32(w), Int32(h), Int32(c), &out, &size, &error, 256), 0, message(error))
        defer { bsn_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// (status, width, height, channels, pixels, message)
    private func decodePNG(_ bytes: [UInt8]) -> (Int32, Int, Int, Int, [UInt8], String) {
        var data: UnsafeMutablePointer<UInt8>?, w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
        var error = [CChar](repeating: 0, count: 256)
        let status = bsn_png_decode(bytes, bytes.count, &data, &w, &h, &c, &error, 256)
        defer { bsn_free(data) }
        let pixels = status == 0 ? Array(UnsafeBufferPointer(start: data, count: Int(w * h * c))) : []
        return (status, Int(w), Int(h), Int(c), pixels, message(error))
    }

    private func encodeJPEG(_ pixels: [UInt8], _ w: Int, _ h: Int) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?, size = 0
        var error = [CChar](repeating: 0, count: 256)
        XCTAssertEqual(bsn_jpeg_encode(pixels, Int32(w), Int32(h), 3, 95, 0, &out, &size, &error, 256), 0, message(error))
        defer { bsn_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    private func decodeJPEG(_ bytes: [UInt8]) -> (Int32, [UInt8], String) {
        var data: UnsafeMutablePointer<UInt8>?, w: Int32 = 0, h: Int32 = 0
        var error = [CChar](repeating: 0, count: 256)
        let status = bsn_jpeg_decode(bytes, bytes.count, 0, 0, 0, 0, &data, &w, &h, &error, 256)
        defer { bsn_free(data) }
        return (status, status == 0 ? Array(UnsafeBufferPointer(start: data, count: Int(w * h * 3))) : [], message(error))
    }

    func testPNGRoundTripIsExactForRGBAndRGBAAtOddSizes() throws {
        for (w, h, c) in [(7, 5, 3), (13, 1, 4), (1, 9, 3), (31, 17, 4)] {
            let pixels = pattern(w, h, c)
            let (status, rw, rh, rc, decoded, text) = decodePNG(try encodePNG(pixels, w, h, c))
            XCTAssertEqual(status, 0, text)
            XCTAssertEqual([rw, rh, rc], [w, h, c])
            XCTAssertEqual(decoded, pixels)
        }
        // Gray becomes RGB with the same value in each channel.
        let gray = pattern(5, 4, 1)
        let (status, _, _, c, rgb, text) = decodePNG(try encodePNG(gray, 5, 4, 1))
        XCTAssertEqual(status, 0, text)
        XCTAssertEqual(c, 3)
        XCTAssertEqual(rgb, gray.flatMap { [$0, $0, $0] })
    }

    func testPNGDamageIsReportedNotFatal() throws {
        XCTAssertEqual(decodePNG(Array("not a png".utf8)).0, -1)
        let bytes = try encodePNG(pattern(40, 30, 3), 40, 30, 3)
        for k in 1..<16 {
            let (status, _, _, _, _, text) = decodePNG(Array(bytes.prefix(bytes.count * k / 16)))
            XCTAssertEqual(status, -1, "cut at \(k)/16 decoded")
            XCTAssertFalse(text.isEmpty)
        }
    }

    /// A 44-byte PNG whose tEXt chunk claims 0x7ffffff0 bytes is refused
    /// without allocating them (libpng's chunk limit is set from the file's size).
    func testPNGChunkLengthIsBoundedBeforeAllocation() throws {
        var bytes = Array(try encodePNG([0, 0, 0], 1, 1, 3).prefix(33))      // signature + IHDR
        bytes += [0x7F, 0xFF, 0xFF, 0xF0] + Array("tEXt".utf8) + [UInt8](repeating: 0x41, count: 7)
        let before = residentKB()
        let start = Date()
        let (status, _, _, _, _, text) = decodePNG(bytes)
        XCTAssertEqual(status, -1)
        XCTAssertFalse(text.isEmpty)
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
        XCTAssertLessThan(residentKB() - before, 100_000, "the chunk's claimed size was allocated")
    }

    private func residentKB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        return Int(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }?.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    func testJPEGRoundTripIsCloseAndEveryTruncationIsDamage() throws {
        let (w, h) = (96, 64)
        // A smooth gradient survives JPEG at quality 95 within a few levels.
        var pixels = [UInt8]()
        for y in 0..<h { for x in 0..<w { pixels += [UInt8(x * 2), UInt8(y * 3), UInt8((x + y) % 256)] } }
        let bytes = try encodeJPEG(pixels, w, h)
        let (status, decoded, text) = decodeJPEG(bytes)
        XCTAssertEqual(status, 0, text)
        let worst = zip(decoded, pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 12)

        // Truncated anywhere: libjpeg warns ("premature end") and pads with grey; the shim reports damage.
        for k in 1..<16 {
            let (status, _, text) = decodeJPEG(Array(bytes.prefix(bytes.count * k / 16)))
            XCTAssertEqual(status, -1, "cut at \(k)/16 decoded as an image")
            XCTAssertTrue(text.contains("corrupt JPEG"), text)
        }
        // Not a JPEG at all: libjpeg's fatal error comes back as a message, the process lives on.
        let (junk, _, junkText) = decodeJPEG(Array("GIF89a....".utf8))
        XCTAssertEqual(junk, -1)
        XCTAssertTrue(junkText.contains("corrupt JPEG"), junkText)
    }
}
