import CImages
import Files
import Foundation
import Tensor

/// Writes a dataset as a folder that `load images` / `load masks` read back:
///
///     classification: <root>/<split>/<class>/<index>.png, <root>/classes.txt (class order)
///     segmentation:   <root>/<split>/images/<index>.png, <root>/<split>/masks/<index>.png (index PNG),
///                     <root>/classes.txt (name r g b)
///
/// `<split>` is train, val and test (splits without images are left out);
/// with one split asked for, its images go straight under <root>. Files are
/// named by their index in the split, zero-padded, so they load in the same
/// order. Every file is written atomically; the root must be new or empty.
public enum FolderExport {
    /// What was written.
    public struct Written: Sendable {
        public let root: String, images: Int, bytes: Int
    }

    /// Class colours of written segmentation masks (classes.txt).
    public static func colour(_ k: Int) -> [UInt8] {
        let palette: [[UInt8]] = [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                                  [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128]]
        if k < palette.count { return palette[k] }
        return [UInt8(truncatingIfNeeded: 37 &* k), UInt8(truncatingIfNeeded: 91 &* k), UInt8(truncatingIfNeeded: 173 &* k)]
    }

    public static func write(_ d: Dataset, to path: String, splits: [Split], progress: ((Int, Int) -> Void)? = nil,
                             cancel: Cancellation = .never) throws -> Written {
        let root = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: root.path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw DataError("\(root.path): exists and is not a folder") }
            let inside = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
            guard inside.isEmpty else { throw DataError("\(root.path): not empty (\(inside.count) entries); export images writes a new or empty folder") }
        }
        let names = d.classNames.map(folderName)
        guard Set(names).count == names.count else { throw DataError("two class names give the same folder name; cannot export \(d.name) as folders") }
        let chosen = splits.filter { d.images($0).count > 0 }
        guard !chosen.isEmpty else { throw DataError("\(d.name): no images in " + splits.map(\.rawValue).joined(separator: ", ")) }
        let total = chosen.reduce(0) { $0 + d.images($1).count }
        var bytes = 0, done = 0
        func make(_ url: URL) throws {
            do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                throw DataError("\(url.path): cannot create the folder (\(error.localizedDescription))")
            }
        }
        try make(root)
        for split in chosen {
            let set = d.images(split)
            let base = splits.count == 1 ? root : root.appendingPathComponent(split.rawValue)
            let digits = max(5, String(set.count).count)
            if set.isSegmentation {
                try make(base.appendingPathComponent("images"))
                try make(base.appendingPathComponent("masks"))
            } else {
                for name in Set(set.labels.map { names[Int($0)] }) { try make(base.appendingPathComponent(name)) }
            }
            for i in 0..<set.count {
                if i % 64 == 0, cancel.isCancelled { throw DataError.interrupted }
                let file = String(repeating: "0", count: max(0, digits - String(i).count)) + "\(i).png"
                let image = Array(set.image(i))
                if set.isSegmentation {
                    bytes += try writePNG(image, width: set.width, height: set.height, channels: set.channels, to: base.appendingPathComponent("images/" + file))
                    bytes += try writePNG(Array(set.mask(i)), width: set.width, height: set.height, channels: 1, to: base.appendingPathComponent("masks/" + file))
                } else {
                    bytes += try writePNG(image, width: set.width, height: set.height, channels: set.channels,
                                          to: base.appendingPathComponent(names[Int(set.labels[i])] + "/" + file))
                }
                done += 1
                if done % 256 == 0 { progress?(done, total) }
            }
        }
        let classes = d.isSegmentation
            ? d.classNames.enumerated().map { "\($0.element) " + colour($0.offset).map(String.init).joined(separator: " ") }
            : names
        do { bytes += try AtomicFile.write(Data((classes.joined(separator: "\n") + "\n").utf8), to: root.appendingPathComponent("classes.txt").path).bytes } catch {
            throw DataError("\(error)")
        }
        return Written(root: root.path, images: total, bytes: bytes)
    }

    /// A class name as a folder name: '/' and control characters become '_', a leading '.' too.
    static func folderName(_ name: String) -> String {
        var out = String(name.map { $0 == "/" || $0.isNewline || ($0.asciiValue.map { $0 < 32 } ?? false) ? "_" : $0 })
        if out.hasPrefix(".") || out.isEmpty { out = "_" + out }
        return out
    }

    /// Encodes 8-bit pixels (1 or 3 channels) as PNG and writes them atomically; returns the bytes written.
    static func writePNG(_ pixels: [UInt8], width: Int, height: Int, channels: Int, to url: URL) throws -> Int {
        var out: UnsafeMutablePointer<UInt8>?, size = 0
        var error = [CChar](repeating: 0, count: 256)
        guard bsn_png_encode(pixels, Int32(width), Int32(height), Int32(channels), &out, &size, &error, error.count) == 0, let out else {
            throw DataError("\(url.path): cannot write the PNG (\(message(error)))")
        }
        defer { bsn_free(out) }
        do { return try AtomicFile.write(Data(bytesNoCopy: out, count: size, deallocator: .none), to: url.path).bytes } catch { throw DataError("\(error)") }
    }
}
