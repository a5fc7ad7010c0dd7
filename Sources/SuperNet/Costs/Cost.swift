import Foundation
import Interface
import Layers
import Tensor

/// A cost of a pruned architecture C(H ⊙ E). Costs are pluggable: several
/// can be reported while one is optimised. An inconsistent architecture
/// (no input → output path) costs 0.
public protocol Cost: AnyObject {
    /// "flops", "params", "parallel-2", "time".
    var name: String { get }
    /// "MAC", "params", "steps", "ms".
    var unit: String { get }
    func cost(of architecture: Architecture) -> Double
}

/// A cost as the user names it (`flops`, `parallel 4 allocation=critical-path`):
/// read once from the command's words, saved with the session, and built
/// for a network. Adding a cost is one file (its `Cost` and its `Choice`)
/// and one line in `CostChoices.all`.
public protocol CostChoice: Codable, Sendable {
    /// The word that names it ("parallel").
    static var word: String { get }
    /// Its words after the name, for usage text ("<n> [allocation=reference|critical-path]").
    static var arguments: String { get }
    /// One line of help.
    static var summary: String { get }
    /// What tab completion offers after the cost's name.
    static var completions: [String] { get }
    /// Reads the cost's own words, after its name.
    init(_ arguments: inout Arguments) throws
    /// The name reports use ("parallel-4").
    var name: String { get }
    /// Builds the cost for `network`, keeping what building learned (a
    /// measured latency) so that a saved session rebuilds the same cost.
    mutating func make(for network: SuperNetwork) throws -> any Cost
}

extension CostChoice {
    public static var arguments: String { "" }
    public static var completions: [String] { [] }
}

/// Every cost a budget can be put on, in the order help lists them.
public enum CostChoices {
    public static let all: [any CostChoice.Type] = [
        FlopsCost.Choice.self, ParameterCost.Choice.self, ParallelCost.Choice.self, TimeCost.Choice.self,
    ]

    public static var words: [String] { all.map { $0.word } }

    /// "flops | params | parallel <n> [allocation=…] | time"
    public static var usage: String {
        all.map { $0.arguments.isEmpty ? $0.word : "\($0.word) \($0.arguments)" }.joined(separator: " | ")
    }

    /// The cost named `word`, reading its own words from `arguments`.
    public static func parse(_ word: String, _ arguments: inout Arguments) throws -> any CostChoice {
        guard let type = all.first(where: { $0.word == word }) else {
            throw UsageError("\(arguments.command): unknown cost '\(word)'" + didYouMean(word, in: words) + " (\(words.joined(separator: ", ")))")
        }
        return try type.init(&arguments)
    }

    static func type(named word: String) -> (any CostChoice.Type)? { all.first { $0.word == word } }
}

/// A chosen cost in a saved session: `{"cost": "parallel", "machines": 4, …}`,
/// the word next to the choice's own fields.
public struct SavedCostChoice: Codable, Sendable {
    public var choice: any CostChoice
    public init(_ choice: any CostChoice) { self.choice = choice }

    private enum Key: String, CodingKey { case cost }

    public init(from decoder: any Decoder) throws {
        let word = try decoder.container(keyedBy: Key.self).decode(String.self, forKey: .cost)
        guard let type = CostChoices.type(named: word) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [Key.cost],
                                                    debugDescription: "unknown cost '\(word)' (\(CostChoices.words.joined(separator: ", ")))"))
        }
        choice = try type.init(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(type(of: choice).word, forKey: .cost)
        try choice.encode(to: encoder)
    }
}

/// One cost of the current state: the whole super network, the expectation
/// under Γ (Monte Carlo), the mean over the architectures sampled in the last
/// batch, and the deterministic architecture.
public struct CostReport: Codable, Equatable, Sendable {
    public let name: String, unit: String
    public let full: Double, expected: Double, deterministic: Double
    public let sampledMean: Double?
}

extension SuperNetwork {
    /// Draws one architecture per gate sample: h_k ~ Bernoulli(p_k).
    public func sampleArchitecture(_ probabilities: [Float], rng: inout RNG) -> Architecture {
        architecture(gates: probabilities.map { rng.bernoulli($0) })
    }

    /// Reports `cost` for the current gate distribution. The Monte Carlo
    /// estimate uses its own fixed-seed generator, so asking for a report
    /// never changes the training's random stream.
    public func report(_ cost: any Cost, sampled: [Architecture]? = nil, samples: Int = 256) -> CostReport {
        var rng = RNG(seed: 0x5EED)
        let p = keepProbabilities
        var total = 0.0
        for _ in 0..<samples { total += cost.cost(of: sampleArchitecture(p, rng: &rng)) }
        let mean = sampled.flatMap { $0.isEmpty ? nil : $0.reduce(0) { $0 + cost.cost(of: $1) } / Double($0.count) }
        return CostReport(name: cost.name, unit: cost.unit, full: cost.cost(of: fullArchitecture),
                          expected: total / Double(samples), deterministic: cost.cost(of: deterministicArchitecture),
                          sampledMean: mean)
    }
}
