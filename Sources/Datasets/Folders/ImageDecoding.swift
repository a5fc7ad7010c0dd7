import CImages
import Files
import Foundation

/// The size images are brought to: `size=64` (64x64) or `size=48x64` (height 48, width 64).
public struct ImageSize: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var height: Int, width: Int
    public init(height: Int, width: Int) { (self.height, self.width) = (height, width) }
    public init(side: Int) { self.init(height: side, width: side) }

    /// The sides bsn accepts.
    public static let sides = 1...1024

    /// "64" or "48x64" (height x width).
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard (parts.count == 1 || parts.count == 2), let first = parts[0], let last = parts.last!,
              Self.sides.contains(first), Self.sides.contains(last) else {
            throw DataError("size= takes a side or HxW, each \(Self.sides.lowerBound)…\(Self.sides.upperBound) pixels, not '\(text)'")
        }
        self.init(height: first, width: last)
    }

    public var description: String { height == width ? "\(height)x\(width)" : "\(height)x\(width) (HxW)" }
}

/// What the first bytes of a file say it is.
public enum ImageKind: Equatable, Sendable {
    case png, jpeg
}

/// PNG and JPEG files to dataset images: any PNG (gray, gray+alpha, RGB,
/// RGBA, palette, 1–16 bits) and any JPEG (gray, RGB, CMYK, progressive) to
/// 8-bit RGB, alpha composited on black; sizes read from headers before
/// anything is decoded.
public enum ImageDecoding {
    /// The largest image file bsn reads.
    public static let maxFileBytes = 256 << 20

    /// The kind and size from a file's first bytes; nil when it is neither PNG nor JPEG.
    /// Throws for a damaged header, or a size above what bsn decodes; `needsMore`
    /// when the header lies beyond `bytes` (read more of the file).
    public static func probe(_ bytes: Data, _ path: String) throws -> (kind: ImageKind, width: Int, height: Int)? {
        var w: Int32 = 0, h: Int32 = 0
        let status = bytes.withUnsafeBytes { raw in bsn_image_probe(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &w, &h) }
        switch status {
        case 0: return nil
        case -3: throw ProbeNeedsMore()
        case 1, 2:
            let (width, height) = (Int(w), Int(h))
            guard width * height <= Int(BSN_IMAGE_MAX_PIXELS) else {
                throw DataError("\(path): \(width)x\(height) image, larger than bsn decodes (at most \(BSN_IMAGE_MAX_PIXELS) pixels)")
            }
            return (status == 1 ? .png : .jpeg, width, height)
        default: throw DataError("\(path): damaged image header")
        }
    }

    struct ProbeNeedsMore: Error {}

    /// The file's kind and size, reading no more of it than its header needs.
    public static func probe(file path: String) throws -> (kind: ImageKind, width: Int, height: Int)? {
        let file: RegularFile
        do { file = try RegularFile(path) } catch { throw DataError("\(error)") }
        var count = 4096
        while true {
            let bytes: Data
            do { bytes = try file.prefix(count) } catch { throw DataError("\(error)") }
            do { return try probe(bytes, path) } catch is ProbeNeedsMore {
                guard bytes.count == count else { throw DataError("\(path): the file ends inside its header (truncated)") }
                count *= 8
            }
        }
    }

    /// Decodes a PNG or JPEG (by content) to RGB, alpha composited on black.
    /// `covering` lets a JPEG decode at 1/2, 1/4 or 1/8 scale in the DCT when
    /// that still covers the size the image will be resized to.
    public static func rgb(_ bytes: Data, _ path: String, covering: (width: Int, height: Int)? = nil) throws -> RGBImage {
        guard let (kind, _, _) = try probe(bytes.prefix(1 << 16), path, allowingShort: bytes.count) else {
            throw DataError("\(path): not a PNG or JPEG image", kind: .notAnImage)
        }
        switch kind {
        case .jpeg: return try JPEG.decode(bytes, path, covering: covering)
        case .png: return try decodePNG(bytes, path)
        }
    }

    /// `probe`, where a header beyond the prefix is damage when the prefix is the whole file.
    private static func probe(_ prefix: Data, _ path: String, allowingShort total: Int) throws -> (kind: ImageKind, width: Int, height: Int)? {
        do { return try probe(prefix, path) } catch is ProbeNeedsMore {
            if prefix.count >= total { throw DataError("\(path): the file ends inside its header (truncated)") }
            return nil
        }
    }

    static func decodePNG(_ bytes: Data, _ path: String) throws -> RGBImage {
        var data: UnsafeMutablePointer<UInt8>?, w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
        var error = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBytes { raw in
            bsn_png_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &data, &w, &h, &c, &error, error.count)
        }
        guard status == 0, let data else { throw DataError("\(path): not a readable PNG (\(message(error)))") }
        defer { bsn_free(data) }
        let n = Int(w) * Int(h)
        var pixels = [UInt8](repeating: 0, count: n * 3)
        if c == 4 {
            // Composited on black: v·a/255, rounded.
            for p in 0..<n {
                let a = Int(data[4 * p + 3])
                for k in 0..<3 { pixels[3 * p + k] = UInt8((Int(data[4 * p + k]) * a + 127) / 255) }
            }
        } else {
            pixels.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: data, count: n * 3) }
        }
        return RGBImage(width: Int(w), height: Int(h), pixels: pixels)
    }

    /// A segmentation mask PNG: `.values` (palette indices or gray levels, as
    /// stored) or `.colours` (RGB, to be matched against classes.txt).
    public enum Mask: Equatable, Sendable {
        case values([UInt8]), colours([UInt8])
    }

    public static func mask(_ bytes: Data, _ path: String) throws -> (mask: Mask, width: Int, height: Int) {
        guard let (kind, _, _) = try probe(bytes.prefix(1 << 16), path, allowingShort: bytes.count), kind == .png else {
            throw DataError("\(path): not a PNG (masks are PNG files: index values, or colours listed in classes.txt)")
        }
        var data: UnsafeMutablePointer<UInt8>?, w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
        var error = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBytes { raw in
            bsn_png_decode_mask(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &data, &w, &h, &c, &error, error.count)
        }
        guard status == 0, let data else { throw DataError("\(path): not a readable mask PNG (\(message(error)))") }
        defer { bsn_free(data) }
        let values = Array(UnsafeBufferPointer(start: data, count: Int(w) * Int(h) * Int(c)))
        return (c == 1 ? .values(values) : .colours(values), Int(w), Int(h))
    }

    /// A 64-bit hash of the bytes (see bsn_hash64), for cache keys and checks.
    public static func hash(_ raw: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        bsn_hash64(raw.baseAddress, raw.count, seed)
    }

    public static func hash(_ text: String) -> UInt64 {
        var text = text
        return text.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }
}
