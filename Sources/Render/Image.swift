import CSupport
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
    /// Writes RGBA (or RGB when every pixel is opaque and `dropOpaqueAlpha`).
    public static func write(_ image: RGBAImage, to path: String) throws {
        var error = [CChar](repeating: 0, count: 256)
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
            throw RenderError("\(path): cannot write, the folder \(folder) does not exist")
        }
        guard bsn_png_write(path, image.pixels, Int32(image.width), Int32(image.height), 4, &error, error.count) == 0 else {
            throw RenderError("\(path): cannot write the PNG (\(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))")
        }
    }

    /// Reads any PNG as RGBA (RGB files get an opaque alpha).
    public static func read(_ path: String) throws -> RGBAImage {
        var data: UnsafeMutablePointer<UInt8>?, w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
        var error = [CChar](repeating: 0, count: 256)
        guard bsn_png_read(path, &data, &w, &h, &c, &error, error.count) == 0, let data else {
            throw RenderError("\(path): cannot read the PNG (\(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))")
        }
        defer { bsn_free(data) }
        let n = Int(w) * Int(h), channels = Int(c)
        var pixels = [UInt8](repeating: 255, count: n * 4)
        for p in 0..<n { for k in 0..<min(channels, 4) { pixels[4 * p + k] = data[channels * p + k] } }
        return RGBAImage(width: Int(w), height: Int(h), pixels: pixels)
    }
}
