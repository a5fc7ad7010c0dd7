import Foundation
import Interface
import Tensor

/// A dataset as the user names it (`load cifar10 ~/data val=5000`): its word,
/// options, usage and completion words, and how to load it. A session saves
/// the source, not the images. Adding a dataset is one file (a type
/// conforming to this protocol) and one line in `DatasetSources.all`.
public protocol DatasetSource: Codable, Sendable {
    /// The word that names it ("cifar10").
    static var word: String { get }
    /// Its words after the name, for usage text ("<folder> [val=5000]").
    static var arguments: String { get }
    /// One line of help.
    static var summary: String { get }
    /// What tab completion offers after the dataset's name.
    static var completions: [String] { get }
    /// Reads the source's own words, after its name.
    init(_ arguments: inout Arguments) throws

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
}

extension DatasetSource {
    public static var completions: [String] { [] }
    public var boundedParameters: [(key: String, value: Int, bounds: ClosedRange<Int>)] { [] }
    public func load() throws -> Dataset { try load(progress: nil, cancel: .never) }
}

/// Every dataset bsn knows, in the order help lists them.
public enum DatasetSources {
    public static let all: [any DatasetSource.Type] = [
        CIFAR10.self, CIFAR100.self, PartLabelsSource.self, Shapes.self, Faces.self,
    ]

    public static var words: [String] { all.map { $0.word } }

    /// The dataset named `word`, reading its own words from `arguments`.
    public static func parse(_ word: String, _ arguments: inout Arguments) throws -> any DatasetSource {
        guard let type = all.first(where: { $0.word == word.lowercased() }) else {
            throw UsageError("\(arguments.command): unknown dataset '\(word)'" + didYouMean(word, in: words) + " (\(words.joined(separator: ", ")))")
        }
        return try type.init(&arguments)
    }
}

/// A dataset source in a saved session: `{"kind": "shapes", "trainSize": …}`,
/// the word next to the source's own fields.
public struct SavedDatasetSource: Codable, Sendable {
    public var source: any DatasetSource
    public init(_ source: any DatasetSource) { self.source = source }

    private enum Key: String, CodingKey { case kind }

    public init(from decoder: any Decoder) throws {
        let word = try decoder.container(keyedBy: Key.self).decode(String.self, forKey: .kind)
        guard let type = DatasetSources.all.first(where: { $0.word == word }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [Key.kind],
                                                    debugDescription: "unknown dataset '\(word)' (\(DatasetSources.words.joined(separator: ", ")))"))
        }
        source = try type.init(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(type(of: source).word, forKey: .kind)
        try source.encode(to: encoder)
    }
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
