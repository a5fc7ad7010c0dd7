import Foundation
import Interface
import Tensor

/// `faces [size= train= val= test= seed=]`: synthetic hair / skin / background
/// segmentation, generated from a seed (a stand-in for Part Labels that needs no download).
public struct Faces: DatasetSource {
    public static let word = "faces"
    public static let arguments = "[size=64] [train=1000] [val=200] [test=200] [seed=1]"
    public static let summary = "hair/skin/background segmentation, generated from a seed"
    public static let completions = ["size=", "train=", "val=", "test=", "seed="]
    public static let sides = 16...512

    public var seed: UInt64
    public var trainSize: Int, validationSize: Int, testSize: Int
    /// The images' side in pixels.
    public var side: Int

    public init(side: Int = 64, train: Int = 1000, validation: Int = 200, test: Int = 200, seed: UInt64 = 1) {
        (self.side, trainSize, validationSize, testSize, self.seed) = (side, train, validation, test, seed)
    }

    public init(_ a: inout Arguments) throws {
        let sizes = try Synthetic.Sizes(&a, train: 1000, validation: 200, test: 200)
        let side = try a.int("size", default: 64, range: Self.sides)!
        self.init(side: side, train: sizes.train, validation: sizes.validation, test: sizes.test, seed: sizes.seed)
    }

    public var name: String { "faces (synthetic, seed \(seed))" }
    public var origin: String { "embedded, generated from seed \(seed)" }
    /// Flipped; no crop.
    public var augmentation: Augmentation { Augmentation(cropPadding: 0, flip: true, height: side, width: side) }
    public var boundedParameters: [(key: String, value: Int, bounds: ClosedRange<Int>)] {
        Synthetic.bounds(train: trainSize, validation: validationSize, test: testSize) + [("side", side, Self.sides)]
    }

    public func load(progress: ((Int, Int) -> Void)?, cancel: Cancellation) throws -> Dataset {
        try Synthetic.checkSizes(Self.word, boundedParameters, bytesPerImage: side * side * 4 + 40, options: " size=\(side)")
        func make(_ count: Int, _ split: Int) throws -> ImageSet {
            try Synthetic.faces(count: count, split: split, seed: seed, side: side, cancel: cancel)
        }
        return Dataset(source: self, classNames: Synthetic.faceClassNames, train: try make(trainSize, 0), validation: try make(validationSize, 1),
                       test: try make(testSize, 2), skipped: [])
    }
}
