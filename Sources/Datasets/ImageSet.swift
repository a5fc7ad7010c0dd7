import Foundation
import Tensor

/// A problem with a dataset's files or options, with a message that names the
/// file and says what is wrong.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable {
        /// Bytes that are neither a PNG nor a JPEG.
        case notAnImage
        case other
    }
    public let kind: Kind
    public let description: String
    public init(_ message: String, kind: Kind = .other) { (description, self.kind) = (message, kind) }
    /// The user stopped a long load (Ctrl-C).
    public static let interrupted = DataError("interrupted: nothing was loaded")
}

/// What to do with a missing or damaged image of a dataset made of many files.
public enum DamagedFilePolicy: String, Codable, Sendable, CaseIterable {
    /// Refuse the dataset, naming the file.
    case stop
    /// Leave the example out and list it in the dataset summary.
    case skip
}

/// Images kept as bytes in memory (the CIFAR training set is 150 MB as bytes,
/// 600 MB as floats); batches are converted to floats when they are made.
///
/// pixels: (count, H, W, C) interleaved, row-major. A classification set has
/// one label per image; a segmentation set has a class per pixel, masks
/// (count, H, W).
public struct ImageSet: Sendable {
    public let height: Int, width: Int, channels: Int
    public let task: LearningTask
    public var isSegmentation: Bool { task == .segmentation }
    public private(set) var pixels: [UInt8] = []
    public private(set) var labels: [Int32] = []
    public private(set) var masks: [UInt8] = []
    /// Where each image came from: "data_batch_2.bin#17", "Aaron_Eckhart_0001", "shapes#12".
    public private(set) var ids: [String] = []

    public init(height: Int, width: Int, channels: Int, task: LearningTask = .classification) {
        self.task = task
        self.height = height
        self.width = width
        self.channels = channels
    }

    public var count: Int { ids.count }
    public var imageSize: Int { height * width * channels }

    /// Appends one image of a classification set with its class.
    public mutating func append(pixels image: some Collection<UInt8>, label: Int32, id: String) {
        precondition(image.count == imageSize && !isSegmentation, "image of \(image.count) bytes, expected \(imageSize)")
        pixels.append(contentsOf: image)
        labels.append(label)
        ids.append(id)
    }

    /// Appends one image of a segmentation set with its mask (H, W) of classes.
    public mutating func append(pixels image: some Collection<UInt8>, mask: some Collection<UInt8>, id: String) {
        precondition(image.count == imageSize && isSegmentation, "image of \(image.count) bytes, expected \(imageSize)")
        precondition(mask.count == height * width, "mask of \(mask.count) bytes, expected \(height * width)")
        pixels.append(contentsOf: image)
        masks.append(contentsOf: mask)
        ids.append(id)
    }

    /// The images `indices` of a bigger collection, gathered at once on all
    /// cores: `image(i)` and (segmentation) `mask(i)` give example i's bytes.
    /// One allocation per array, without the page-by-page faults of growing it.
    public static func gathering(_ indices: [Int], height: Int, width: Int, channels: Int, task: LearningTask,
                                 image: (Int) -> UnsafeBufferPointer<UInt8>, mask: (Int) -> UnsafeBufferPointer<UInt8>,
                                 label: (Int) -> Int32, id: (Int) -> String) -> ImageSet {
        var set = ImageSet(height: height, width: width, channels: channels, task: task)
        set.pixels = gather(indices, bytes: set.imageSize, image)
        if set.isSegmentation { set.masks = gather(indices, bytes: height * width, mask) } else { set.labels = indices.map(label) }
        set.ids = indices.map(id)
        return set
    }

    private static func gather(_ indices: [Int], bytes: Int, _ item: (Int) -> UnsafeBufferPointer<UInt8>) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: indices.count * bytes) { buffer, count in
            guard let base = buffer.baseAddress else { return }
            Memory.adviseHugePages(base, count: buffer.count)
            let parts = Parallel.ranges(indices.count, parts: 64)
            withoutActuallyEscaping(item) { item in
                let shared = UncheckedSendable((item, base))
                Parallel.forEach(parts.count, threads: ProcessInfo.processInfo.activeProcessorCount) { part, _ in
                    let (item, base) = shared.value
                    for k in parts[part] {
                        let source = item(indices[k])
                        precondition(source.count == bytes, "image of \(source.count) bytes, expected \(bytes)")
                        (base + k * bytes).update(from: source.baseAddress!, count: bytes)
                    }
                }
            }
            count = indices.count * bytes
        }
    }

    /// Reserves room for `n` images.
    public mutating func reserve(_ n: Int) {
        pixels.reserveCapacity(n * imageSize)
        if isSegmentation { masks.reserveCapacity(n * height * width) } else { labels.reserveCapacity(n) }
        ids.reserveCapacity(n)
    }

    /// The images in `range`, in order.
    public func subset(_ range: Range<Int>) -> ImageSet {
        var s = ImageSet(height: height, width: width, channels: channels, task: task)
        s.pixels = Array(pixels[range.lowerBound * imageSize ..< range.upperBound * imageSize])
        if isSegmentation {
            s.masks = Array(masks[range.lowerBound * height * width ..< range.upperBound * height * width])
        } else {
            s.labels = Array(labels[range])
        }
        s.ids = Array(ids[range])
        return s
    }

    /// Image i's bytes.
    public func image(_ i: Int) -> ArraySlice<UInt8> { pixels[i * imageSize ..< (i + 1) * imageSize] }
    /// Image i's mask (segmentation).
    public func mask(_ i: Int) -> ArraySlice<UInt8> { masks[i * height * width ..< (i + 1) * height * width] }
}
