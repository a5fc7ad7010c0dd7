import CImages
import Datasets
import Foundation
import TestSupport
import XCTest

/// Every PNG and JPEG variant `load images` accepts, decoded through the
/// loader's path (ImageDecoding.rgb) to known RGB values, and to Pillow's
/// values where Pillow is installed (scripts/install-deps.sh --tests).
final class ImageFormatTests: XCTestCase {
    /// A PNG written byte by byte (stored deflate blocks, filter 0), so the
    /// files under test do not come from the decoder's own library.
    struct PNGFile {
        var width: Int, height: Int, bitDepth: UInt8, colourType: UInt8
        var palette: [UInt8] = [], transparency: [UInt8] = []

        func bytes(rows: [[UInt8]]) -> Data {
            var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            func chunk(_ type: String, _ body: [UInt8]) {
                let typed: [UInt8] = Array(type.utf8) + body
                out.append(contentsOf: bigEndian(UInt32(body.count)))
                out.append(contentsOf: typed)
                out.append(contentsOf: bigEndian(crc32(typed)))
            }
            let header: [UInt8] = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [bitDepth, colourType, 0, 0, 0]
            chunk("IHDR", header)
            if !palette.isEmpty { chunk("PLTE", palette) }
            if !transparency.isEmpty { chunk("tRNS", transparency) }
            let raw: [UInt8] = rows.flatMap { [0] + $0 }
            var zlib: [UInt8] = [0x78, 0x01]
            var start = 0
            repeat {
                let n = min(65535, raw.count - start)
                let final: UInt8 = start + n == raw.count ? 1 : 0
                zlib += [final, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
                zlib += raw[start..<start + n]
                start += n
            } while start < raw.count
            var a: UInt32 = 1, b: UInt32 = 0
            for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
            zlib += bigEndian(b << 16 | a)
            chunk("IDAT", zlib)
            chunk("IEND", [])
            return out
        }

        private func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

        private func crc32(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            return ~crc
        }
    }

    func decoded(_ bytes: Data) throws -> [UInt8] { try ImageDecoding.rgb(bytes, "test").pixels }

    func jpeg(_ pixels: [UInt8], _ width: Int, _ height: Int, components: Int, progressive: Bool = false) throws -> Data {
        var out: UnsafeMutablePointer<UInt8>?, size = 0
        var error = [CChar](repeating: 0, count: 256)
        let status = bsn_jpeg_encode(pixels, Int32(width), Int32(height), Int32(components), 95, progressive ? 1 : 0, &out, &size, &error, 256)
        XCTAssertEqual(status, 0)
        defer { bsn_free(out) }
        return Data(bytes: out!, count: size)
    }

    func testPNGPaletteSixteenBitAndLowBitGrayDecodeToKnownRGB() throws {
        // Palette, 8-bit indices, one entry half transparent (composited on black).
        var palette = PNGFile(width: 3, height: 1, bitDepth: 8, colourType: 3)
        palette.palette = [255, 0, 0, 0, 200, 100, 10, 20, 30]
        palette.transparency = [255, 128]
        XCTAssertEqual(try decoded(palette.bytes(rows: [[0, 1, 2]])), [255, 0, 0, 0, 100, 50, 10, 20, 30])
        // Palette, 2-bit indices packed four to a byte: 0, 1, 2, 1.
        var packed = PNGFile(width: 4, height: 1, bitDepth: 2, colourType: 3)
        packed.palette = [1, 2, 3, 40, 50, 60, 70, 80, 90]
        XCTAssertEqual(try decoded(packed.bytes(rows: [[0b00_01_10_01]])), [1, 2, 3, 40, 50, 60, 70, 80, 90, 40, 50, 60])
        // 16-bit RGB: the high byte of each sample.
        let rgb16 = PNGFile(width: 2, height: 1, bitDepth: 16, colourType: 2)
        XCTAssertEqual(try decoded(rgb16.bytes(rows: [[0x12, 0x34, 0xAB, 0xCD, 0xFF, 0xFF, 0x00, 0x01, 0x7F, 0x80, 0x80, 0x7F]])),
                       [0x12, 0xAB, 0xFF, 0x00, 0x7F, 0x80])
        // 16-bit gray + alpha: gray 0xC8xx at alpha 0xFFFF, then at alpha 0x8000 (128).
        let grayAlpha16 = PNGFile(width: 2, height: 1, bitDepth: 16, colourType: 4)
        XCTAssertEqual(try decoded(grayAlpha16.bytes(rows: [[0xC8, 0x10, 0xFF, 0xFF, 0xC8, 0x10, 0x80, 0x00]])), [200, 200, 200, 100, 100, 100])
        // 1-bit gray: 0 and 1 are black and white.
        let bits = PNGFile(width: 8, height: 1, bitDepth: 1, colourType: 0)
        XCTAssertEqual(try decoded(bits.bytes(rows: [[0b1010_0001]])), [255, 0, 255, 0, 0, 0, 0, 255].flatMap { [$0, $0, $0] })
        // 8-bit gray with a tRNS gray value: that value is transparent, so black.
        var keyed = PNGFile(width: 2, height: 1, bitDepth: 8, colourType: 0)
        keyed.transparency = [0, 90]
        XCTAssertEqual(try decoded(keyed.bytes(rows: [[90, 91]])), [0, 0, 0, 91, 91, 91])
    }

    /// Blocks of one colour (16x16, so 4:2:0 chroma and the 8x8 DCT see flat colour).
    func blocks(_ colours: [[UInt8]]) -> (pixels: [UInt8], width: Int) {
        let width = 16 * colours.count
        var pixels = [UInt8]()
        for _ in 0..<16 { for colour in colours { for _ in 0..<16 { pixels += colour } } }
        return (pixels, width)
    }

    func assertClose(_ got: [UInt8], _ want: [UInt8], within: Int, _ what: String, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, line: line)
        let worst = zip(got, want).map { abs(Int($0) - Int($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, within, what, line: line)
    }

    func testJPEGGrayCMYKAndProgressiveDecodeToKnownRGB() throws {
        let gray = blocks([[0], [77], [200], [255]])
        assertClose(try decoded(jpeg(gray.pixels, gray.width, 16, components: 1)), gray.pixels.flatMap { [$0, $0, $0] }, within: 1, "gray")

        // CMYK: channel = (255 - k)(255 - c)/255, Pillow's conversion.
        let inks: [[UInt8]] = [[0, 0, 0, 0], [255, 0, 0, 0], [0, 128, 255, 0], [50, 100, 150, 100], [0, 0, 0, 255]]
        let cmyk = blocks(inks)
        let expected = blocks(inks.map { ink in ink.prefix(3).map { c in UInt8((Double(255 - Int(ink[3])) * Double(255 - Int(c)) / 255).rounded()) } })
        assertClose(try decoded(jpeg(cmyk.pixels, cmyk.width, 16, components: 4)), expected.pixels, within: 2, "CMYK")

        // Progressive: the same coefficients in another order, so the same pixels as baseline.
        var noise = [UInt8]()
        var state: UInt32 = 12345
        for _ in 0..<(40 * 24 * 3) { state = state &* 1_103_515_245 &+ 12345; noise.append(UInt8(state >> 24)) }
        let baseline = try decoded(jpeg(noise, 40, 24, components: 3))
        let progressive = try jpeg(noise, 40, 24, components: 3, progressive: true)
        XCTAssertEqual(try decoded(progressive), baseline)
        // It really is progressive: an SOF2 marker.
        XCTAssertNotNil(progressive.firstRange(of: Data([0xFF, 0xC2])))
    }

    func testDecodingMatchesPillow() throws {
        let folder = try temporaryFolder(self)
        // Pillow writes each variant from the same seeded pixels, then its own decoding to RGB (alpha on black) beside it.
        let script = """
        import random, sys, os
        try:
            from PIL import Image
        except ImportError:
            sys.exit(3)
        out = sys.argv[1]
        rng = random.Random(5)
        w, h = 37, 23
        def noise(bands):
            return bytes(rng.randrange(256) for _ in range(w * h * bands))
        variants = {
            "gray.png": (Image.frombytes("L", (w, h), noise(1)), {}),
            "gray-alpha.png": (Image.frombytes("LA", (w, h), noise(2)), {}),
            "rgb.png": (Image.frombytes("RGB", (w, h), noise(3)), {}),
            "rgba.png": (Image.frombytes("RGBA", (w, h), noise(4)), {}),
            "palette.png": (Image.frombytes("RGB", (w, h), noise(3)).quantize(37), {}),
            "palette-alpha.png": (Image.frombytes("RGBA", (w, h), noise(4)).quantize(20), {}),
            "gray.jpg": (Image.frombytes("L", (w, h), noise(1)), {"quality": 90}),
            "rgb.jpg": (Image.frombytes("RGB", (w, h), noise(3)), {"quality": 90}),
            "rgb-444.jpg": (Image.frombytes("RGB", (w, h), noise(3)), {"quality": 90, "subsampling": 0}),
            "progressive.jpg": (Image.frombytes("RGB", (w, h), noise(3)), {"quality": 90, "progressive": True}),
            "cmyk.jpg": (Image.frombytes("CMYK", (w, h), noise(4)), {"quality": 90}),
        }
        for name, (image, options) in variants.items():
            path = os.path.join(out, name)
            image.save(path, **options)
            back = Image.open(path)
            back.load()
            if back.mode == "P":
                back = back.convert("RGBA")
            if back.mode in ("LA", "RGBA"):
                rgba = back.convert("RGBA").tobytes()
                rgb = bytearray()
                for p in range(0, len(rgba), 4):
                    a = rgba[p + 3]
                    rgb += bytes((v * a + 127) // 255 for v in rgba[p:p + 3])
            else:
                rgb = back.convert("RGB").tobytes()
            open(path + ".rgb", "wb").write(bytes(rgb))
        """
        let run = Process()
        run.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        run.arguments = ["python3", "-c", script, folder.path]
        try run.run()
        run.waitUntilExit()
        if run.terminationStatus == 3 || run.terminationStatus == 127 { throw XCTSkip("python3 with Pillow is not installed (scripts/install-deps.sh --tests installs it)") }
        XCTAssertEqual(run.terminationStatus, 0)
        for name in ["gray.png", "gray-alpha.png", "rgb.png", "rgba.png", "palette.png", "palette-alpha.png",
                     "gray.jpg", "rgb.jpg", "rgb-444.jpg", "progressive.jpg", "cmyk.jpg"] {
            let file = folder.appendingPathComponent(name)
            let image = try ImageDecoding.rgb(try Data(contentsOf: file), name)
            XCTAssertEqual([image.width, image.height], [37, 23], name)
            let pillow = [UInt8](try Data(contentsOf: file.appendingPathExtension("rgb")))
            // PNG is exact; JPEG within the rounding of two builds of libjpeg-turbo's IDCT and upsampling.
            assertClose(image.pixels, pillow, within: name.hasSuffix(".png") ? 0 : 2, name)
        }
    }
}
