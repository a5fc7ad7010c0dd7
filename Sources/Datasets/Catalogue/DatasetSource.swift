import Foundation
import Interface
import Tensor

/// A dataset as the user names it (`load cifar10 ~/data val=5000`): its word,
/// options, usage and completion words, and how to load it. A session saves
/// the source, not the images. Adding a dataset is one file (a type
/// conforming to this protocol) and one line in `DatasetSources.catalogue`.
public protocol DatasetSource: NamedChoice {
    /// "CIFAR-10"
    var name: String { get }
    /// Where the images come from: the folder, or "embedded, generated from seed 1".
    var origin: String { get }
    /// The paper's pipeline for this dataset (crop, flip, padding).
    var augmentation: Augmentation { get }
    /// The numbers that size memory or work, with their bounds and their names in a saved session.
    var boundedParameters: [(key: String, value: Int, bounds: ClosedRange<Int>)] { get }
    /// Loads the images. `progress(done, total)` reports long loads;
    /// cancelling stops with `DataError.interrupted`.
    func load(progress: ((Int, Int) -> Void)?, cancel: Cancellation) throws -> Dataset
    /// A source whose random choices (drawn splits) have no seed of their own takes the session's.
    mutating func adoptSessionSeed(_ seed: UInt64)
}

extension DatasetSource {
    public var boundedParameters: [(key: String, value: Int, bounds: ClosedRange<Int>)] { [] }
    public mutating func adoptSessionSeed(_ seed: UInt64) {}
    public func load() throws -> Dataset { try load(progress: nil, cancel: .never) }
}

/// Every dataset bsn knows, in the order help lists them.
public enum DatasetSources: ChoiceFamily {
    public typealias Member = any DatasetSource
    public static let catalogue = ChoiceCatalogue("dataset", savedUnder: "kind", [
        CIFAR10.self, CIFAR100.self, PartLabelsSource.self, ImageFolderSource.self, MaskFolderSource.self, Shapes.self, Faces.self,
    ])
}

/// The dataset's folder, checked: it exists and is a folder.
func datasetFolder(_ path: String, _ word: String) throws -> URL {
    guard !path.isEmpty else { throw DataError("\(word): no dataset folder given") }
    let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { throw DataError("\(url.path): no such folder") }
    guard isFolder.boolValue else { throw DataError("\(url.path): is a file, expected the dataset's folder") }
    return url
}
