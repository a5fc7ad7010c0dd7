import Foundation
import Interface
import Tensor

/// `cifar10 <folder> [val=5000]`: the official binary version (cifar-10-batches-bin);
/// the last `validation` training images are the validation set.
public struct CIFAR10: DatasetSource {
    public static let word = "cifar10"
    public static let arguments = "<folder> [val=5000]"
    public static let summary = "the official binary version (cifar-10-batches-bin); val= validation images (5000)"
    public static let completions = ["val="]

    public var path: String
    public var validation: Int

    public init(path: String, validation: Int = 5000) {
        self.path = path
        self.validation = validation
    }

    public init(_ a: inout Arguments) throws {
        path = try a.required("the dataset's folder")
        validation = try a.int("val", "validation", default: 5000, range: 0...Int.max)!
    }

    public var name: String { "CIFAR-10" }
    public var origin: String { path }
    public var augmentation: Augmentation { CIFAR.augmentation }
    public var boundedParameters: [(key: String, value: Int, bounds: ClosedRange<Int>)] { [("validation", validation, 0...CIFAR.maxImages)] }

    public func load(progress: ((Int, Int) -> Void)?, cancel: Cancellation) throws -> Dataset {
        let (all, test, classes) = try CIFAR.load10(try datasetFolder(path, Self.word), progress: progress, cancel: cancel)
        return try CIFAR.split(self, all: all, test: test, classes: classes, validation: validation)
    }
}
