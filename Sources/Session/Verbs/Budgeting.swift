import Foundation
import Interface
import SuperNet

/// What `budget` reports: the cost now optimised, its budget, and where the network stands.
public struct BudgetReport: Output, Sendable {
    public let cost: CostReport?, budget: Budget?
    /// Said when the budget is one nobody means (below every non-empty architecture, above the full network, a unit mistaken).
    public var warnings: [String] = []

    public var text: String {
        guard let cost, let budget else { return "no budget: the search optimises the loss alone" }
        return (["budget: \(cost.name) ≤ \(Format.quantity(budget.limit)) \(cost.unit), λ = \(budget.lambda), mode \(budget.mode.rawValue); "
                 + "now full \(Format.quantity(cost.full)), expected \(Format.quantity(cost.expected)), deterministic \(Format.quantity(cost.deterministic))"]
                + warnings.map { "warning: " + $0 }).joined(separator: "\n")
    }
}

/// What `costs` shows: every cost of the current state.
public struct CostsReport: TabularOutput, Sendable {
    public let costs: [CostReport], optimised: String, budget: Budget?

    public var text: String { Block.text(blocks) }

    public var blocks: [Block] {
        var table = Table([.left("cost", 12), .right("unit", 8), .right("full", 12), .right("expected", 12), .right("deterministic", 15), .right("last batch", 12)])
        for r in costs {
            table.add([r.name + (r.name == optimised ? " *" : ""), r.unit, Format.quantity(r.full), Format.quantity(r.expected),
                       Format.quantity(r.deterministic), r.sampledMean.map { Format.quantity($0) } ?? "-"])
        }
        if let b = budget { table.note("* optimised; budget \(Format.quantity(b.limit)) (λ = \(b.lambda), mode \(b.mode.rawValue))") }
        return [.table(table)]
    }
}

extension Session {
    /// Optimises `choice` under `budget` from now on (a measured cost measures now).
    @discardableResult
    public func budget(_ choice: any CostChoice, _ budget: Budget) throws -> BudgetReport {
        let (network, _) = try requireModel()
        var choice = choice
        let cost = try choice.make(for: network)
        optimise(cost, under: BudgetSpec(cost: choice, budget: budget))
        var report = budgetReport
        report.warnings = Self.budgetWarnings(cost, limits: [budget.limit], mode: budget.mode, network: network)
        return report
    }

    /// What is wrong with budgets nobody means: below the cheapest non-empty
    /// architecture (one input → output path; "did you mean 4M?" when a
    /// k, M or G suffix would land between it and the full network), or at or
    /// above the full network (no architecture pays a penalty).
    static func budgetWarnings(_ cost: any Cost, limits: [Double], mode: Budget.Mode, network: SuperNetwork) -> [String] {
        let full = cost.cost(of: network.fullArchitecture)
        let smallest = network.cheapestPath { cost.nodeCost($0) }.map { cost.cost(of: $0) }
        let q = { (x: Double) in Format.quantity(x) + " " + cost.unit }
        var warnings = [String]()
        if let smallest, case let below = limits.filter({ $0 < smallest }), !below.isEmpty {
            var line = (below.count == 1 ? "the budget \(q(below[0])) is" : "the budgets \(below.map { Format.quantity($0) }.joined(separator: ", ")) \(cost.unit) are")
                + " below the smallest non-empty architecture (one input → output path: \(q(smallest)); the full network: \(q(full))):"
                + " no architecture that predicts anything fits"
            if cost.counts == .count, below.count == 1, let meant = [("k", 1e3), ("M", 1e6), ("G", 1e9)].first(where: { below[0] * $0.1 >= smallest && below[0] * $0.1 <= full }) {
                line += "; did you mean \(Format.quantity(below[0], exact: true))\(meant.0)?"
            }
            warnings.append(line)
        }
        let above = limits.filter { $0 >= full }
        if !above.isEmpty {
            warnings.append((above.count == 1 ? "the budget \(q(above[0])) is" : "the budgets \(above.map { Format.quantity($0) }.joined(separator: ", ")) \(cost.unit) are")
                            + " at or above the full network (\(q(full))): "
                            + (mode == .max ? "no architecture pays a penalty, so the search optimises the loss alone" : "mode abs pulls the search toward the full network"))
        }
        return warnings
    }

    /// Optimises the loss alone.
    @discardableResult
    public func removeBudget() -> BudgetReport {
        if let network { optimise(FlopsCost(network), under: nil) }     // without a model there is no budget
        return BudgetReport(cost: nil, budget: nil)
    }

    var budgetReport: BudgetReport {
        guard let network, let optimisedCost, let budgetSpec else { return BudgetReport(cost: nil, budget: nil) }
        return BudgetReport(cost: network.report(optimisedCost), budget: budgetSpec.budget)
    }

    /// Flops, params, the parallel cost on each of `machines`, and the optimised cost when it is none of these.
    public func costs(machines: [Int] = [1, 2, 4], allocation: ParallelCost.Allocation = .reference) throws -> CostsReport {
        let (net, trainer) = try requireModel()
        var costs = CostChoices.listed(for: net, CostListing(machines: machines, allocation: allocation))
        if let optimisedCost, !costs.contains(where: { $0.name == optimisedCost.name }) { costs.append(optimisedCost) }
        return CostsReport(costs: costs.map { net.report($0, sampled: trainer.lastArchitectures) },
                           optimised: optimisedCost?.name ?? "flops", budget: budgetSpec?.budget)
    }
}
