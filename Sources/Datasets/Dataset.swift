import Foundation
import Tensor

/// A loaded dataset: three splits of images as bytes and the class names.
public struct Dataset: Sendable {
    /// Where it came from: what a session saves to load it again.
    public let source: any DatasetSource
    public let classNames: [String]
    public let train: ImageSet, validation: ImageSet, test: ImageSet
    /// Images left out of a Part Labels load ("<file>: <reason>").
    public let skipped: [String]

    public init(source: any DatasetSource, classNames: [String], train: ImageSet, validation: ImageSet, test: ImageSet, skipped: [String]) {
        self.source = source
        self.classNames = classNames
        (self.train, self.validation, self.test, self.skipped) = (train, validation, test, skipped)
    }

    public var isSegmentation: Bool { train.isSegmentation }
    public var name: String { source.name }
    /// The paper's pipeline for this dataset (see each source).
    public var augmentation: Augmentation { source.augmentation }

    /// The split called "train", "val"/"validation" or "test".
    public func split(_ name: String) throws -> ImageSet {
        switch name.lowercased() {
        case "train": train
        case "val", "validation": validation
        case "test": test
        default: throw DataError("unknown split '\(name)' (train, val or test)")
        }
    }
}
