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
    /// "MAC", "params", "steps", "ms": how reports write its values.
    var unit: String { get }
    /// What it counts, which says how budgets on it are written (a count takes k, M, G suffixes).
    var counts: CostUnit { get }
    func cost(of architecture: Architecture) -> Double
    /// What one node adds to the cost, for estimates over paths (the
    /// cheapest input → output path). Default: its multiply-accumulates.
    func nodeCost(_ node: SuperNetwork.Node) -> Double
}

extension Cost {
    public var counts: CostUnit { .count }
    public func nodeCost(_ node: SuperNetwork.Node) -> Double { Double(node.multiplyAccumulates) }
}

/// A cost as the user names it (`flops`, `parallel 4 allocation=critical-path`):
/// read once from the command's words, saved with the session, and built
/// for a network. Adding a cost is one file (its `Cost` and its `Choice`)
/// and one line in `CostChoices.catalogue`.
public protocol CostChoice: NamedChoice {
    /// The name reports use ("parallel-4").
    var name: String { get }
    /// What the cost counts, which says how budgets on it are written.
    var unit: CostUnit { get }
    /// Its numbers that a saved session must hold within bounds (the manifest checks read them).
    var boundedParameters: [(key: String, value: Int, bounds: ClosedRange<Int>)] { get }
    /// The costs of this kind that reports listing several costs show for a network (none: too slow to list, as time).
    static func listed(for network: SuperNetwork, _ listing: CostListing) -> [any Cost]
    /// Builds the cost for `network`, keeping what building learned (a
    /// measured latency) so that a saved session rebuilds the same cost.
    mutating func make(for network: SuperNetwork) throws -> any Cost
}

/// What a cost counts: a number (flops, parameters: 2M), or milliseconds
/// measured on this machine when the budget is set (30ms, 0.03s, 500us).
public enum CostUnit: Sendable {
    case count, milliseconds
}

extension CostChoice {
    public var unit: CostUnit { .count }
    public var boundedParameters: [(key: String, value: Int, bounds: ClosedRange<Int>)] { [] }
    public static func listed(for network: SuperNetwork, _ listing: CostListing) -> [any Cost] { [] }
}

/// What reports that list several costs ask of machine-dependent ones: the machine counts, and the allocation.
public struct CostListing: Sendable {
    public var machines: [Int]
    public var allocation: ParallelCost.Allocation
    public init(machines: [Int], allocation: ParallelCost.Allocation = .reference) {
        (self.machines, self.allocation) = (machines, allocation)
    }
}

/// Every cost a budget can be put on, in the order help lists them.
public enum CostChoices: ChoiceFamily {
    public typealias Member = any CostChoice

    /// The costs a report lists for `network`: each registered cost's own, in catalogue order.
    public static func listed(for network: SuperNetwork, _ listing: CostListing) -> [any Cost] {
        catalogue.all.compactMap { $0 as? any CostChoice.Type }.flatMap { $0.listed(for: network, listing) }
    }

    public static let catalogue = ChoiceCatalogue("cost", savedUnder: "cost", [
        FlopsCost.Choice.self, ParameterCost.Choice.self, ParallelCost.Choice.self, TimeCost.Choice.self,
    ])
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
