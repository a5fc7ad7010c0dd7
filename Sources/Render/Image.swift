import CImages
import Files
import Foundation

/// An 8-bit RGBA raster, rows top to bottom, written to and read from PNG
/// through libpng (the C shim turns libpng errors into messages).
public struct RGBAImage: Equatable, Sendable {
    public let width: Int, height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 4)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public subscript(x: Int, y: Int) -> [UInt8] {
        let i = 4 * (y * width + x)
        return Array(pixels[i..<i + 4])
    }
}

public struct RenderError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

public enum PNG {
    /// The largest PNG file bsn reads.
    public static let maxFileBytes = 256 << 20

    /// Writes RGBA atomically (see AtomicFile: never through a link or onto a device).
    @discardableResult
    public static func write(_ image: RGBAImage, to path: String) throws -> AtomicFile.Written {
        let bytes = try encode(image, path)
        do { return try AtomicFile.write(bytes, to: path) } catch { throw RenderError("\(error)") }
    }

    /// The PNG file's bytes.
    public static func encode(_ image: RGBAImage, _ path: String = "image") throws -> Data {
        var out: UnsafeMutablePointer<UInt8>?, size = 0
        var error = [CChar](repeating: 0, count: 256)
        guard bsn_png_encode(image.pixels, Int32(image.width), Int32(image.height), 4, &out, &size, &error, error.count) == 0, let out else {
            throw RenderError("\(path): cannot write the PNG (\(text(error)))")
        }
        defer { bsn_free(out) }
        return Data(bytes: out, count: size)
    }

    /// Reads any PNG as RGBA (RGB files get an opaque alpha); only a regular file.
    public static func read(_ path: String) throws -> RGBAImage {
        let bytes: Data
        do { bytes = try RegularFile.read(path, limit: maxFileBytes) } catch { throw RenderError("\(error)") }
        return try decode(bytes, path)
    }

    public static func decode(_ bytes: Data, _ path: String) throws -> RGBAImage {
        var data: UnsafeMutablePointer<UInt8>?, w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
        var error = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBytes { raw in
            bsn_png_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &data, &w, &h, &c, &error, error.count)
        }
        guard status == 0, let data else { throw RenderError("\(path): cannot read the PNG (\(text(error)))") }
        defer { bsn_free(data) }
        let n = Int(w) * Int(h), channels = Int(c)
        var pixels = [UInt8](repeating: 255, count: n * 4)
        for p in 0..<n { for k in 0..<min(channels, 4) { pixels[4 * p + k] = data[channels * p + k] } }
        return RGBAImage(width: Int(w), height: Int(h), pixels: pixels)
    }

    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
