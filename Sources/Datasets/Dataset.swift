import Foundation
import Tensor

/// The datasets bsn knows.
public enum DatasetKind: String, Codable, Sendable, CaseIterable {
    case cifar10, cifar100, partlabels, shapes, faces

    public var isSynthetic: Bool { self == .shapes || self == .faces }
    public var isSegmentation: Bool { self == .partlabels || self == .faces }
}

/// Everything needed to load a dataset again (a session stores this, not the
/// images): the kind, the folder for data on disk, and the options.
public struct DatasetSpec: Codable, Equatable, Sendable {
    public var kind: DatasetKind
    /// The dataset's folder (CIFAR, Part Labels).
    public var path: String?
    /// CIFAR-100: the 20 coarse classes instead of the 100 fine ones.
    public var coarseLabels = false
    /// CIFAR: the last `validation` training images are the validation set.
    public var validation = 5000
    /// Part Labels: stop at a missing or damaged image, or skip it.
    public var onDamagedFile = DamagedFilePolicy.stop
    /// Synthetic sets: the seed and the split sizes; `side` is the faces' image size.
    public var seed: UInt64 = 1
    public var trainSize = 0, validationSize = 0, testSize = 0
    public var side = 64

    public init(kind: DatasetKind, path: String? = nil) {
        self.kind = kind
        self.path = path
        switch kind {
        case .shapes: (trainSize, validationSize, testSize) = (5000, 1000, 1000)
        case .faces: (trainSize, validationSize, testSize) = (1000, 200, 200)
        default: break
        }
    }

    /// Loads the images. `progress(done, total)` reports long loads (Part
    /// Labels); `cancel` is checked as the work goes (Ctrl-C), and cancelling
    /// stops it with `DataError.interrupted`.
    public func load(progress: ((Int, Int) -> Void)? = nil, cancel: Cancellation = .never) throws -> Dataset {
        switch kind {
        case .cifar10, .cifar100:
            let folder = try self.folder()
            let (all, test, classes) = kind == .cifar10 ? try CIFAR.load10(folder) : try CIFAR.load100(folder, coarse: coarseLabels)
            guard validation >= 0, validation < all.count else {
                throw DataError("a validation set of \(validation) images leaves no training images: the training files of \(folder.path) hold \(all.count)")
            }
            return Dataset(spec: self, classNames: classes, train: all.subset(0 ..< all.count - validation),
                           validation: all.subset(all.count - validation ..< all.count), test: test, skipped: [])
        case .partlabels:
            let (sets, skipped) = try PartLabels.load(try folder(), policy: onDamagedFile, progress: progress, cancel: cancel)
            return Dataset(spec: self, classNames: PartLabels.classNames, train: sets[0], validation: sets[1], test: sets[2], skipped: skipped)
        case .shapes, .faces:
            try checkSyntheticSizes()
            func make(_ count: Int, _ split: Int) throws -> ImageSet {
                kind == .shapes ? try Synthetic.shapes(count: count, split: split, seed: seed, cancel: cancel)
                                : try Synthetic.faces(count: count, split: split, seed: seed, side: side, cancel: cancel)
            }
            return Dataset(spec: self, classNames: kind == .shapes ? Synthetic.shapeNames : Synthetic.faceClassNames,
                           train: try make(trainSize, 0), validation: try make(validationSize, 1), test: try make(testSize, 2), skipped: [])
        }
    }

    /// The most images a synthetic split may have, and the faces' side bounds.
    public static let maxSyntheticImages = 100_000_000
    public static let faceSides = 16...512

    /// Refuses split sizes outside their bounds, or whose images do not fit in memory, before generating any.
    public func checkSyntheticSizes() throws {
        let name = kind.rawValue
        guard trainSize >= 1 else { throw DataError("\(name): the training set needs at least one image (train=\(trainSize))") }
        guard trainSize <= Self.maxSyntheticImages else {
            throw DataError("\(name): train= must be 1…\(Self.maxSyntheticImages) images, not \(trainSize)")
        }
        for (value, key) in [(validationSize, "val"), (testSize, "test")] where !(0...Self.maxSyntheticImages).contains(value) {
            throw DataError("\(name): \(key)= must be 0…\(Self.maxSyntheticImages) images, not \(value)")
        }
        guard kind == .shapes || Self.faceSides.contains(side) else {
            throw DataError("faces: size must be \(Self.faceSides.lowerBound)…\(Self.faceSides.upperBound), not \(side)")
        }
        let imageSide = kind == .shapes ? 32 : side
        let bytesPerImage = Double(imageSide * imageSide * (kind == .faces ? 4 : 3) + 40)
        let count = trainSize + validationSize + testSize
        try Memory.check(Double(count) * bytesPerImage,
                         "\(name) train=\(trainSize) val=\(validationSize) test=\(testSize)" + (kind == .faces ? " size=\(side)" : ""), of: "images")
    }

    private func folder() throws -> URL {
        guard let path, !path.isEmpty else { throw DataError("\(kind.rawValue): no dataset folder given") }
        let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { throw DataError("\(url.path): no such folder") }
        guard isFolder.boolValue else { throw DataError("\(url.path): is a file, expected the dataset's folder") }
        return url
    }
}

/// A loaded dataset: three splits of images as bytes and the class names.
public struct Dataset: Sendable {
    public let spec: DatasetSpec
    public let classNames: [String]
    public let train: ImageSet, validation: ImageSet, test: ImageSet
    /// Images left out of a Part Labels load ("<file>: <reason>").
    public let skipped: [String]

    public var kind: DatasetKind { spec.kind }
    public var isSegmentation: Bool { train.isSegmentation }
    public var name: String {
        switch spec.kind {
        case .cifar10: "CIFAR-10"
        case .cifar100: spec.coarseLabels ? "CIFAR-100 (coarse labels)" : "CIFAR-100 (fine labels)"
        case .partlabels: "Part Labels (LFW)"
        case .shapes: "shapes (synthetic, seed \(spec.seed))"
        case .faces: "faces (synthetic, seed \(spec.seed))"
        }
    }

    /// The split called "train", "val"/"validation" or "test".
    public func split(_ name: String) throws -> ImageSet {
        switch name.lowercased() {
        case "train": train
        case "val", "validation": validation
        case "test": test
        default: throw DataError("unknown split '\(name)' (train, val or test)")
        }
    }

    /// The paper's pipeline for this dataset: CIFAR-sized images are padded
    /// by 4 and randomly cropped back and flipped; Part Labels images are
    /// flipped and zero-padded to 256x256; the synthetic faces are flipped.
    public var augmentation: Augmentation {
        switch spec.kind {
        case .cifar10, .cifar100, .shapes: Augmentation(cropPadding: 4, flip: true, height: 32, width: 32)
        case .partlabels: Augmentation(cropPadding: 0, flip: true, height: 256, width: 256)
        case .faces: Augmentation(cropPadding: 0, flip: true, height: spec.side, width: spec.side)
        }
    }
}
