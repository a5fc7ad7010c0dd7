import Foundation
import Interface
import SuperNet

/// What `budget` reports: the cost now optimised, its budget, and where the network stands.
public struct BudgetReport: Output, Sendable {
    public let cost: CostReport?, budget: Budget?

    public var text: String {
        guard let cost, let budget else { return "no budget: the search optimises the loss alone" }
        return "budget: \(cost.name) ≤ \(Format.quantity(budget.limit)) \(cost.unit), λ = \(budget.lambda), mode \(budget.mode.rawValue); "
            + "now full \(Format.quantity(cost.full)), expected \(Format.quantity(cost.expected)), deterministic \(Format.quantity(cost.deterministic))"
    }
}

/// What `costs` shows: every cost of the current state.
public struct CostsReport: Output, Sendable {
    public let costs: [CostReport], optimised: String, budget: Budget?

    public var text: String {
        var table = Table([.left("cost", 12), .right("unit", 8), .right("full", 12), .right("expected", 12), .right("deterministic", 15), .right("last batch", 12)])
        for r in costs {
            table.add([r.name + (r.name == optimised ? " *" : ""), r.unit, Format.quantity(r.full), Format.quantity(r.expected),
                       Format.quantity(r.deterministic), r.sampledMean.map { Format.quantity($0) } ?? "-"])
        }
        if let b = budget { table.note("* optimised; budget \(Format.quantity(b.limit)) (λ = \(b.lambda), mode \(b.mode.rawValue))") }
        return table.text
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
        return budgetReport
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
        var costs: [any Cost] = [FlopsCost(net), ParameterCost(net)] + machines.map { ParallelCost(net, machines: $0, allocation: allocation) }
        if let optimisedCost, !costs.contains(where: { $0.name == optimisedCost.name }) { costs.append(optimisedCost) }
        return CostsReport(costs: costs.map { net.report($0, sampled: trainer.lastArchitectures) },
                           optimised: optimisedCost?.name ?? "flops", budget: budgetSpec?.budget)
    }
}
