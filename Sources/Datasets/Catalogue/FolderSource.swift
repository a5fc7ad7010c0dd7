import Foundation
import Interface
import Tensor

/// What `load images` and `load masks` share: a folder, its options, and what a
/// load recorded (the listing's key and the size the images were brought to).
public protocol FolderSource: DatasetSource {
    static var task: LearningTask { get }
    var path: String { get }
    var options: FolderOptions { get set }
    var listingKey: String? { get set }
    var loadedSize: ImageSize? { get set }
}

extension FolderSource {
    public var origin: String { FolderDataset.origin(path, options, loadedSize) }
    public var augmentation: Augmentation {
        let size = loadedSize ?? options.size ?? ImageSize(side: 32)
        return Augmentation(cropPadding: options.cropPadding, flip: options.flip, height: size.height, width: size.width)
    }

    public mutating func adoptSessionSeed(_ seed: UInt64) { if options.seed == nil { options.seed = seed } }

    public func load(progress: ((Int, Int) -> Void)?, cancel: Cancellation) throws -> Dataset {
        try load(threads: ProcessInfo.processInfo.activeProcessorCount, progress: progress, cancel: cancel)
    }

    /// Loads with the images decoded on `threads` threads (`bsn bench data` compares 1 with all cores).
    public func load(threads: Int, progress: ((Int, Int) -> Void)?, cancel: Cancellation) throws -> Dataset {
        try FolderDataset.load(word: Self.word, path: path, task: Self.task, options: options, savedKey: listingKey,
                               threads: threads, progress: progress, cancel: cancel) { key, size in
            var loaded = self
            (loaded.listingKey, loaded.loadedSize) = (key, size)
            return loaded
        }
    }
}
