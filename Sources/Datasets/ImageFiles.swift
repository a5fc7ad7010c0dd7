import CImages
import Files
import Foundation

/// 8-bit RGB pixels, rows top to bottom, (H, W, 3) interleaved.
public struct RGBImage: Equatable, Sendable {
    public let width: Int, height: Int
    public var pixels: [UInt8]
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// JPEG through libjpeg-turbo; its errors come back as messages (a C shim
/// catches them), never as a crash.
public enum JPEG {
    /// The largest image file bsn reads.
    public static let maxFileBytes = 256 << 20

    /// Decodes the file; with `expecting`, a header of another size is refused before decoding.
    /// A file that libjpeg warns about (it ends early, or its data is corrupt) is refused as damaged.
    public static func read(_ path: String, expecting size: (width: Int, height: Int)? = nil) throws -> RGBImage {
        let bytes: Data
        do { bytes = try RegularFile.read(path, limit: maxFileBytes) } catch { throw DataError("\(error)") }
        return try decode(bytes, path, expecting: size)
    }

    /// With `covering`, the DCT decodes at 1/2, 1/4 or 1/8 scale when that still covers it (and divides both sides).
    public static func decode(_ bytes: Data, _ path: String, expecting size: (width: Int, height: Int)? = nil,
                              covering: (width: Int, height: Int)? = nil) throws -> RGBImage {
        var data: UnsafeMutablePointer<UInt8>?, w: Int32 = 0, h: Int32 = 0
        var error = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBytes { raw in
            bsn_jpeg_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, Int32(clamping: size?.width ?? 0), Int32(clamping: size?.height ?? 0),
                            Int32(clamping: covering?.width ?? 0), Int32(clamping: covering?.height ?? 0), &data, &w, &h, &error, error.count)
        }
        if status == -2 {
            throw DataError("\(path): \(w)x\(h) image, expected " + (size.map { "\($0.width)x\($0.height)" } ?? "at most \(BSN_IMAGE_MAX_PIXELS) pixels"))
        }
        guard status == 0, let data else { throw DataError("\(path): not a readable JPEG (" + message(error) + ")") }
        defer { bsn_free(data) }
        return RGBImage(width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: data, count: Int(w) * Int(h) * 3)))
    }

    /// Writes the file atomically (see AtomicFile).
    @discardableResult
    public static func write(_ image: RGBImage, to path: String, quality: Int = 95) throws -> AtomicFile.Written {
        let bytes = try encode(image, quality: quality, path)
        do { return try AtomicFile.write(bytes, to: path) } catch { throw DataError("\(error)") }
    }

    /// The JPEG file's bytes (baseline, 4:2:0); `path` names it in errors.
    public static func encode(_ image: RGBImage, quality: Int = 95, _ path: String = "image") throws -> Data {
        var out: UnsafeMutablePointer<UInt8>?, size = 0
        var error = [CChar](repeating: 0, count: 256)
        guard bsn_jpeg_encode(image.pixels, Int32(image.width), Int32(image.height), 3, Int32(quality), 0, &out, &size, &error, error.count) == 0, let out else {
            throw DataError("\(path): cannot write the JPEG (\(message(error)))")
        }
        defer { bsn_free(out) }
        return Data(bytes: out, count: size)
    }
}

func message(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Binary PPM (P6), 8-bit: "P6", width, height, maxval (< 256) separated by
/// whitespace (comments from '#' to the end of a line allowed), one
/// whitespace byte, then width·height RGB triples.
public enum PPM {
    /// Reads the file; with `expecting`, a header of another size is refused before the pixels are read.
    public static func read(_ path: String, expecting size: (width: Int, height: Int)? = nil) throws -> RGBImage {
        let file = try contents(of: URL(fileURLWithPath: path))
        // A P6 header is a few dozen bytes: parse it from the (mapped) file before copying anything.
        let header = [UInt8](file.prefix(4096))
        let (width, height, maxval, start) = try parseHeader(header, path)
        if let size, (width, height) != (size.width, size.height) {
            throw DataError("\(path): \(width)x\(height) mask, expected \(size.width)x\(size.height)")
        }
        return try image(file, header: (width, height, maxval, start), path)
    }

    static func parse(_ bytes: [UInt8], _ path: String) throws -> RGBImage {
        try image(bytes, header: try parseHeader(bytes, path), path)
    }

    /// The pixels after a parsed header, scaled to 0…255.
    private static func image(_ bytes: some Collection<UInt8>, header: (width: Int, height: Int, maxval: Int, start: Int),
                              _ path: String) throws -> RGBImage {
        let (width, height, maxval, start) = header
        let needed = width * height * 3
        guard bytes.count - start >= needed else {
            throw DataError("\(path): truncated PPM (\(bytes.count - start) bytes of pixels, expected \(needed) for \(width)x\(height))")
        }
        let first = bytes.index(bytes.startIndex, offsetBy: start)
        var pixels = Array(bytes[first ..< bytes.index(first, offsetBy: needed)])
        if maxval != 255 { for k in pixels.indices { pixels[k] = UInt8(min(255, Int(pixels[k]) * 255 / maxval)) } }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Width, height, maximum value and the offset of the first pixel byte.
    static func parseHeader(_ bytes: [UInt8], _ path: String) throws -> (width: Int, height: Int, maxval: Int, start: Int) {
        var i = 0
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }
        func skipSpaceAndComments() {
            while i < bytes.count {
                if isSpace(bytes[i]) { i += 1 } else if bytes[i] == UInt8(ascii: "#") {
                    while i < bytes.count && bytes[i] != 0x0A { i += 1 }
                } else { break }
            }
        }
        func number(_ what: String) throws -> Int {
            skipSpaceAndComments()
            var value = 0, digits = 0
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39, digits < 9 {
                value = value * 10 + Int(bytes[i] - 0x30)
                i += 1
                digits += 1
            }
            guard digits > 0 else { throw DataError("\(path): damaged PPM header (no \(what))") }
            return value
        }
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P") else { throw DataError("\(path): not a PPM file") }
        guard bytes[1] == UInt8(ascii: "6") else {
            throw DataError("\(path): a P\(Character(UnicodeScalar(bytes[1]))) file; only binary RGB PPM (P6) is supported")
        }
        i = 2
        let width = try number("width"), height = try number("height"), maxval = try number("maximum value")
        guard width > 0, height > 0 else { throw DataError("\(path): PPM of size \(width)x\(height)") }
        guard maxval > 0, maxval < 256 else { throw DataError("\(path): PPM maximum value \(maxval); only 8-bit PPM (1...255) is supported") }
        guard i < bytes.count, isSpace(bytes[i]) else { throw DataError("\(path): damaged PPM header") }
        return (width, height, maxval, i + 1)
    }

    /// Writes the file atomically (see AtomicFile).
    public static func write(_ image: RGBImage, to path: String) throws {
        var bytes = Array("P6\n\(image.width) \(image.height)\n255\n".utf8)
        bytes += image.pixels
        do { try AtomicFile.write(Data(bytes), to: path) } catch { throw DataError("\(error)") }
    }
}
