import Foundation
import Interface
import Tensor

/// The LFW Part Labels face segmentation set in its official layout:
///
///     <root>/lfw_funneled/<Name>/<Name>_NNNN.jpg            250x250 JPEG
///     <root>/parts_lfw_funneled_gt_images/<Name>_NNNN.ppm   250x250 P6 mask
///     <root>/parts_train.txt, parts_validation.txt, parts_test.txt
///
/// Split lines are "<Name> <N>" (N zero-padded to 4 digits in file names).
/// Mask colours are red = hair, green = skin, blue = background; the labels
/// are background 0, hair 1, skin 2 (the strongest channel of each pixel).
public enum PartLabels {
    public static let side = 250
    public static let classNames = ["background", "hair", "skin"]
    public static let splitFiles = ["parts_train.txt", "parts_validation.txt", "parts_test.txt"]

    /// One example named by a split file.
    public struct Entry: Equatable, Sendable {
        public let name: String, number: Int
        public init(name: String, number: Int) { (self.name, self.number) = (name, number) }
        public var id: String { name + "_" + String(format: "%04d", number) }
        public func imagePath(_ root: URL) -> String {
            root.appendingPathComponent("lfw_funneled/\(name)/\(id).jpg").path
        }
        public func maskPath(_ root: URL) -> String {
            root.appendingPathComponent("parts_lfw_funneled_gt_images/\(id).ppm").path
        }
    }

    /// The entries of a split file, or an error naming the file and line.
    public static func entries(_ file: URL) throws -> [Entry] {
        let bytes = try contents(of: file)
        guard let text = String(data: bytes, encoding: .utf8) else { throw DataError("\(file.path): not a text file") }
        var result = [Entry]()
        for (n, line) in splitLines(text).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            guard fields.count == 2, let number = Int(fields[1]), number >= 0 else {
                throw DataError("\(file.path):\(n + 1): expected \"<Name> <number>\", found \"\(line.trimmingCharacters(in: .whitespaces))\"")
            }
            result.append(Entry(name: String(fields[0]), number: number))
        }
        guard !result.isEmpty else { throw DataError("\(file.path): no entries") }
        return result
    }

    /// The (train, validation, test) sets. Missing or damaged images stop the
    /// load, or are skipped and listed in `skipped` ("<file>: <reason>").
    /// `progress(done, total)` is called as images are decoded.
    static func load(_ root: URL, policy: DamagedFilePolicy, progress: ((Int, Int) -> Void)?, cancel: Cancellation = .never) throws
        -> (sets: [ImageSet], skipped: [String]) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw DataError("\(root.path): no such folder (expected the Part Labels root with lfw_funneled/, parts_lfw_funneled_gt_images/ and the split files)")
        }
        let splits = try splitFiles.map { try entries(root.appendingPathComponent($0)) }
        let total = splits.reduce(0) { $0 + $1.count }
        try Memory.check(Double(total) * Double(side * side * 4 + 64), "Part Labels (\(total) images listed in the split files)", of: "images")
        var sets = [ImageSet](), skipped = [String](), done = 0
        for entries in splits {
            var set = ImageSet(height: side, width: side, channels: 3, task: .segmentation)
            set.reserve(entries.count)
            for chunk in stride(from: 0, to: entries.count, by: 64) {
                if cancel.isCancelled { throw DataError.interrupted }
                let part = Array(entries[chunk ..< min(chunk + 64, entries.count)])
                var results = [Result<(RGBImage, [UInt8]), DataError>](repeating: .failure(DataError("")), count: part.count)
                results.withUnsafeMutableBufferPointer { out in
                    Parallel.forEach(part.count, threads: ProcessInfo.processInfo.activeProcessorCount) { i, _ in out[i] = Result { try example(part[i], root) }.mapError { ($0 as? DataError) ?? DataError("\($0)") } }
                }
                for (entry, result) in zip(part, results) {
                    switch result {
                    case .success(let (image, mask)): set.append(pixels: image.pixels, mask: mask, id: entry.id)
                    case .failure(let error):
                        if policy == .stop { throw DataError("\(error) (add onerror=skip to leave damaged images out)") }
                        skipped.append(error.description)
                    }
                }
                done += part.count
                progress?(done, total)
            }
            sets.append(set)
        }
        return (sets, skipped)
    }

    /// One image and its labels.
    static func example(_ entry: Entry, _ root: URL) throws -> (RGBImage, [UInt8]) {
        let imagePath = entry.imagePath(root), maskPath = entry.maskPath(root)
        let image = try JPEG.read(imagePath, expecting: (side, side))
        let mask = try PPM.read(maskPath, expecting: (side, side))
        return (image, labels(of: mask))
    }

    /// Class of each mask pixel: the strongest channel (blue 0, red 1, green 2).
    public static func labels(of mask: RGBImage) -> [UInt8] {
        var labels = [UInt8](repeating: 0, count: mask.width * mask.height)
        for p in labels.indices {
            let r = mask.pixels[3 * p], g = mask.pixels[3 * p + 1], b = mask.pixels[3 * p + 2]
            labels[p] = g > r && g > b ? 2 : r > b ? 1 : 0
        }
        return labels
    }

    /// The mask colour of each class (for writing masks).
    public static let colours: [[UInt8]] = [[0, 0, 255], [255, 0, 0], [0, 255, 0]]
}
