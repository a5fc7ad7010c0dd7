import Foundation
import Interface
import Tensor

/// `shapes [train= val= test= seed=]`: 10 classes of coloured shapes, 32x32,
/// generated from a seed (embedded: nothing to download).
public struct Shapes: DatasetSource {
    public static let word = "shapes"
    public static let arguments = "[train=5000] [val=1000] [test=1000] [seed=1]"
    public static let summary = "10 classes of shapes, 32x32, generated from a seed"
    public static let completions = ["train=", "val=", "test=", "seed="]

    public var seed: UInt64
    public var trainSize: Int, validationSize: Int, testSize: Int

    public init(train: Int = 5000, validation: Int = 1000, test: Int = 1000, seed: UInt64 = 1) {
        (trainSize, validationSize, testSize, self.seed) = (train, validation, test, seed)
    }

    public init(_ a: inout Arguments) throws {
        let sizes = try Synthetic.Sizes(&a, train: 5000, validation: 1000, test: 1000)
        self.init(train: sizes.train, validation: sizes.validation, test: sizes.test, seed: sizes.seed)
    }

    public var name: String { "shapes (synthetic, seed \(seed))" }
    public var origin: String { "embedded, generated from seed \(seed)" }
    public var augmentation: Augmentation { CIFAR.augmentation }
    public var boundedParameters: [(key: String, value: Int, bounds: ClosedRange<Int>)] {
        Synthetic.bounds(train: trainSize, validation: validationSize, test: testSize)
    }

    public func load(progress: ((Int, Int) -> Void)?, cancel: Cancellation) throws -> Dataset {
        try Synthetic.checkSizes(Self.word, boundedParameters, bytesPerImage: 32 * 32 * 3 + 40, options: "")
        func make(_ count: Int, _ split: Int) throws -> ImageSet { try Synthetic.shapes(count: count, split: split, seed: seed, cancel: cancel) }
        return Dataset(source: self, classNames: Synthetic.shapeNames, train: try make(trainSize, 0), validation: try make(validationSize, 1),
                       test: try make(testSize, 2), skipped: [])
    }
}
