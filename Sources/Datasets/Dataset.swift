import Foundation
import Tensor

/// A loaded dataset: three splits of images as bytes and the class names.
public struct Dataset: Sendable {
    /// Where it came from: what a session saves to load it again.
    public let source: any DatasetSource
    public let classNames: [String]
    public let train: ImageSet, validation: ImageSet, test: ImageSet
    /// Images left out of a Part Labels or folder load ("<file>: <reason>").
    public let skipped: [String]
    /// What the load wants the user to know (a changed folder, the cache, a warning).
    public let notes: [String]
    /// How many image files this load decoded (0 when they came from the cache or are generated).
    public var imagesDecoded = 0
    /// The cache file the decoded images were mapped from, when they were.
    public var cache: String?

    public init(source: any DatasetSource, classNames: [String], train: ImageSet, validation: ImageSet, test: ImageSet, skipped: [String],
                notes: [String] = []) {
        self.source = source
        self.classNames = classNames
        (self.train, self.validation, self.test, self.skipped, self.notes) = (train, validation, test, skipped, notes)
    }

    public var task: LearningTask { train.task }
    public var isSegmentation: Bool { task == .segmentation }
    public var name: String { source.name }
    /// The paper's pipeline for this dataset (see each source).
    public var augmentation: Augmentation { source.augmentation }

    /// The images of a split.
    public func images(_ split: Split) -> ImageSet {
        switch split {
        case .train: train
        case .validation: validation
        case .test: test
        }
    }
}

/// One of a dataset's three splits. Its raw value is the word bsn writes
/// ("val" for validation), in commands, evaluations and JSON.
public enum Split: String, Codable, Sendable, CaseIterable {
    case train, validation = "val", test

    /// "train", "val" or "validation", "test" (any case).
    public init(parsing word: String) throws {
        switch word.lowercased() {
        case "train": self = .train
        case "val", "validation": self = .validation
        case "test": self = .test
        default: throw DataError("unknown split '\(word)' (train, val or test)")
        }
    }
}
