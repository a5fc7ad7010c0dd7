import Foundation
import Interface
import Tensor

/// `partlabels <folder> [onerror=stop|skip]`: the LFW Part Labels root (JPEG
/// images, PPM masks, split files); hair / skin / background per pixel.
public struct PartLabelsSource: DatasetSource {
    public static let word = "partlabels"
    public static let arguments = "<folder> [onerror=stop|skip]"
    public static let summary = "LFW Part Labels root; onerror=stop|skip for missing or damaged images (stop)"
    public static let completions = ["onerror="]

    public var path: String
    /// Stop at a missing or damaged image, or skip it.
    public var onDamagedFile: DamagedFilePolicy

    public init(path: String, onDamagedFile: DamagedFilePolicy = .stop) {
        self.path = path
        self.onDamagedFile = onDamagedFile
    }

    public init(_ a: inout Arguments) throws {
        path = try a.required("the dataset's folder")
        onDamagedFile = try a.choice("onerror") ?? .stop
    }

    public var name: String { "Part Labels (LFW)" }
    public var origin: String { path }
    /// Flipped and zero-padded to 256x256.
    public var augmentation: Augmentation { Augmentation(cropPadding: 0, flip: true, height: 256, width: 256) }

    public func load(progress: ((Int, Int) -> Void)?, cancel: Cancellation) throws -> Dataset {
        let (sets, skipped) = try PartLabels.load(try datasetFolder(path, Self.word), policy: onDamagedFile, progress: progress, cancel: cancel)
        return Dataset(source: self, classNames: PartLabels.classNames, train: sets[0], validation: sets[1], test: sets[2], skipped: skipped)
    }
}
