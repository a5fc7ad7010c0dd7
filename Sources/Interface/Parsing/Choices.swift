import Foundation

/// Something the user picks by a word followed by its own options
/// (`parallel 4 allocation=critical-path`, `cifar10 ~/data val=5000`): read
/// once from the command's words into a typed value, saved with its word.
/// A cost and a dataset source are choices.
public protocol NamedChoice: Codable, Sendable {
    /// The word that names it ("parallel").
    static var word: String { get }
    /// Its words after the name, for usage text ("<n> [allocation=reference|critical-path]").
    static var arguments: String { get }
    /// One line of help.
    static var summary: String { get }
    /// What tab completion offers after the name.
    static var completions: [String] { get }
    /// Reads its own words, after its name.
    init(_ arguments: inout Arguments) throws
}

extension NamedChoice {
    public static var arguments: String { "" }
    public static var completions: [String] { [] }
}

/// Every kind of one choice (every cost, every dataset source), in the order
/// help lists them: parsing by word, usage, help, completion, and the saved
/// form `{"<key>": word, …the choice's own fields}`.
public struct ChoiceCatalogue: @unchecked Sendable {
    /// "cost", "dataset": for messages.
    public let what: String
    /// The JSON key that holds the word in a saved choice.
    public let key: String
    public let all: [any NamedChoice.Type]

    public init(_ what: String, savedUnder key: String, _ all: [any NamedChoice.Type]) {
        (self.what, self.key, self.all) = (what, key, all)
    }

    public var words: [String] { all.map { $0.word } }

    /// "flops | params | parallel <n> [allocation=…] | time"
    public var usage: String { all.map { $0.arguments.isEmpty ? $0.word : "\($0.word) \($0.arguments)" }.joined(separator: " | ") }

    /// One line per kind: its usage, then its summary.
    public func help(width: Int) -> String {
        all.map { Table.pad($0.arguments.isEmpty ? $0.word : "\($0.word) \($0.arguments)", width) + $0.summary }.joined(separator: "\n")
    }

    /// Every completion word of every kind.
    public var completions: [String] { Array(Set(all.flatMap { $0.completions })).sorted() }

    /// The kind named `word`, reading its own words from `arguments`.
    public func parse(_ word: String, _ arguments: inout Arguments) throws -> any NamedChoice {
        guard let type = all.first(where: { $0.word == word.lowercased() }) else {
            throw UsageError("\(arguments.command): unknown \(what) '\(word)'" + didYouMean(word, in: words) + " (\(words.joined(separator: ", ")))")
        }
        return try type.init(&arguments)
    }

    private struct WordKey: CodingKey {
        let stringValue: String
        init(_ key: String) { stringValue = key }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    /// Reads a saved choice: its word, then the fields of that kind.
    public func decode(from decoder: any Decoder) throws -> any NamedChoice {
        let word = try decoder.container(keyedBy: WordKey.self).decode(String.self, forKey: WordKey(key))
        guard let type = all.first(where: { $0.word == word }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [WordKey(key)],
                                                    debugDescription: "unknown \(what) '\(word)' (\(words.joined(separator: ", ")))"))
        }
        return try type.init(from: decoder)
    }

    /// Writes a choice: its word next to its own fields.
    public func encode(_ choice: any NamedChoice, to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: WordKey.self)
        try c.encode(type(of: choice).word, forKey: WordKey(key))
        try choice.encode(to: encoder)
    }
}

/// A family of choices (every cost, every dataset source): its catalogue and
/// the existential its members share, so that parsing and saving are typed.
public protocol ChoiceFamily {
    associatedtype Member
    static var catalogue: ChoiceCatalogue { get }
}

extension ChoiceFamily {
    /// The member named `word`, reading its own words from `arguments`.
    public static func parse(_ word: String, _ arguments: inout Arguments) throws -> Member {
        try catalogue.parse(word, &arguments) as! Member
    }
}

/// A member of a family as a saved session holds it: `{"<key>": word, …its fields}`.
public struct SavedChoice<Family: ChoiceFamily>: Codable {
    public var value: Family.Member
    public init(_ value: Family.Member) { self.value = value }
    public init(from decoder: any Decoder) throws { value = try Family.catalogue.decode(from: decoder) as! Family.Member }
    public func encode(to encoder: any Encoder) throws { try Family.catalogue.encode(value as! any NamedChoice, to: encoder) }
}

extension SavedChoice: @unchecked Sendable {}

extension SavedChoice {
    /// The choice as saved, keys sorted: equal bytes for equal choices (a key, and equality, of values of any member type).
    public var key: Data? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try? encoder.encode(self)
    }
}
