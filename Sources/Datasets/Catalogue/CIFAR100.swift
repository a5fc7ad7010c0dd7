import Foundation
import Interface
import Tensor

/// `cifar100 <folder> [labels=fine|coarse] [val=5000]`: cifar-100-binary, with
/// its 100 fine or 20 coarse classes.
public struct CIFAR100: DatasetSource {
    public static let word = "cifar100"
    public static let arguments = "<folder> [labels=fine|coarse] [val=5000]"
    public static let summary = "cifar-100-binary; labels=fine|coarse (fine); val= (5000)"
    public static let completions = ["labels=", "val="]

    public var path: String
    public var validation: Int
    /// The 20 coarse classes instead of the 100 fine ones.
    public var coarseLabels: Bool

    public init(path: String, coarseLabels: Bool = false, validation: Int = 5000) {
        self.path = path
        self.coarseLabels = coarseLabels
        self.validation = validation
    }

    public init(_ a: inout Arguments) throws {
        path = try a.required("the dataset's folder")
        validation = try a.int("val", "validation", default: 5000, range: 0...Int.max)!
        coarseLabels = false
        if let labels = a.option("labels") {
            guard ["fine", "coarse"].contains(labels) else { throw UsageError("\(a.command): labels= takes fine or coarse, got '\(labels)'") }
            coarseLabels = labels == "coarse"
        }
    }

    public var name: String { coarseLabels ? "CIFAR-100 (coarse labels)" : "CIFAR-100 (fine labels)" }
    public var origin: String { path }
    public var augmentation: Augmentation { CIFAR.augmentation }
    public var boundedParameters: [(key: String, value: Int, bounds: ClosedRange<Int>)] { [("validation", validation, 0...CIFAR.maxImages)] }

    public func load(progress: ((Int, Int) -> Void)?, cancel: Cancellation) throws -> Dataset {
        let (all, test, classes) = try CIFAR.load100(try datasetFolder(path, Self.word), coarse: coarseLabels, progress: progress, cancel: cancel)
        return try CIFAR.split(self, all: all, test: test, classes: classes, validation: validation)
    }
}
