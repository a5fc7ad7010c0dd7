import Foundation
import Interface
import SuperNet

extension Session {
    /// One line when a budgeted search is not searching: after at least two
    /// epochs of sampling the mean gate entropy is still within 5% of where
    /// sampling started, and the deterministic architecture's cost has not
    /// moved (gates going from p ≈ 0.95 to p ≈ 0.05 keep their entropy: the
    /// cost tells that they moved). It names the reason and the usual remedy.
    /// Nil otherwise.
    public var searchHint: String? { searchHint(over: steps) }

    /// The hint as it would read after these steps (the session's own, or a variant of them).
    public func searchHint(over steps: [StepMetrics]) -> String? {
        guard let trainer, let budgetSpec, let loader, modelSpec?.fixedGates == nil, trainer.samplingStarted, let last = steps.last,
              last.sampling else { return nil }
        // The sampling since it last (re)started.
        let sampled = steps.reversed().prefix { $0.sampling }
        let perEpoch = max(loader.batchesPerEpoch, 1)
        guard sampled.count >= 2 * perEpoch, let first = sampled.last, first.gateEntropy > 0 else { return nil }
        let change = abs(last.gateEntropy - first.gateEntropy) / first.gateEntropy
        guard change < 0.05 else { return nil }
        // From where sampling began: the step before it, or the network as built (every p > 0.5).
        let before = steps.count > sampled.count ? steps[steps.count - sampled.count - 1].deterministicCost
            : (optimisedCost.map { $0.cost(of: trainer.network.fullArchitecture) } ?? first.deterministicCost)
        let costs = sampled.map(\.deterministicCost) + [before]
        guard let low = costs.min(), let high = costs.max(), high - low <= 0.005 * abs(high) else { return nil }
        let scale = budgetSpec.budget.lambda * budgetSpec.budget.limit
        let pathRate = Double(settings.pathLearningRate)
        let remedy = pathRate == 0 ? "path-lr is 0, so the gates cannot learn: set path-lr 1e-3 (the paper's) or more"
            : scale < 0.1 ? "λ·budget is \(String(format: "%.2g", scale)): raise λ toward 1/budget (\(String(format: "%.2g", 1 / max(budgetSpec.budget.limit, 1)))), or path-lr"
            : "raise path-lr (set path-lr \(String(format: "%g", pathRate * 10)))"
        return String(format: "the search is not moving: mean gate entropy %.3f → %.3f and the deterministic %@ %@ unchanged over %.1f epochs of sampling (path-lr %g); ",
                      first.gateEntropy, last.gateEntropy, optimisedCost?.name ?? "cost", Format.quantity(last.deterministicCost),
                      Double(sampled.count) / Double(perEpoch), Double(settings.pathLearningRate)) + remedy
    }
}
