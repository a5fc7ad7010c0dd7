import Foundation

/// The budget on the optimised cost: D = loss + λ · max(0, C − C_budget)
/// ("max", default) or λ · |C − C_budget| ("abs").
public struct Budget: Codable, Equatable, Sendable {
    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// λ · max(0, C − budget) for each sampled architecture (the paper's).
        case max
        /// λ · |C − budget|: architectures below the budget are pulled up to it too.
        case abs
        /// λ · max(0, E[C] − budget): the budget bounds the expected cost of the
        /// distribution; its gradient, 1[E[C] > budget] · λ · ∇E[C], is estimated
        /// with the batch's mean cost and each sample's cost.
        case expected
    }

    /// C_budget, in the cost's unit.
    public var limit: Double
    /// λ. Choose it so that λ · C_budget is of order 1.
    public var lambda: Double
    public var mode: Mode
    /// Added to the cost (0) of an inconsistent sample, so that the gates learn to avoid them.
    public var inconsistentPenalty: Double
    /// The released reference code adds the penalty to the *consistent*
    /// samples instead; true reproduces that.
    public var penaltyOnConsistentSamples = false

    public init(limit: Double, lambda: Double, mode: Mode = .max, inconsistentPenalty: Double = 0) {
        (self.limit, self.lambda, self.mode, self.inconsistentPenalty) = (limit, lambda, mode, inconsistentPenalty)
    }

    /// The penalty of one sampled architecture of cost C: λ · max(0, C − C_budget), or
    /// λ · |C − C_budget|. Mode expected: the score-function estimate of the gradient of
    /// λ · max(0, E[C] − C_budget) weighs each sample by λ · C while E[C] (the batch's mean
    /// cost, `meanCost`; C itself when not given) is over the budget, and by 0 otherwise.
    public func penalty(cost: Double, meanCost: Double? = nil) -> Double {
        switch mode {
        case .max: lambda * Swift.max(0, cost - limit)
        case .abs: lambda * Swift.abs(cost - limit)
        case .expected: (meanCost ?? cost) > limit ? lambda * cost : 0
        }
    }
}

/// The score-function (REINFORCE) estimate of the gradient of E_{H∼Γ}[D] with
/// respect to the gate parameters a_k (seed, Gradient computation, Eq. 15–18).
public enum Reinforce {
    /// With reward r_i = −D_i and baseline b (the batch mean of r unless given):
    ///
    ///     ∂/∂a_k = − Σ_i (r_i − b) · (h_ik − p_k),   since ∂ log P(H_i)/∂a_k = h_ik − p_k,
    ///
    /// summed over the batch as the reference code does: with the batch-mean
    /// baseline its expectation is (N − 1) times ∇_a E[D]; the path learning
    /// rate absorbs the factor. Every gate's sample counts, pruned or not.
    public static func gateGradient(objectives: [Double], gates: [[Bool]], probabilities: [Float],
                                    baseline: Double? = nil) -> [Double] {
        precondition(objectives.count == gates.count, "one objective per sampled architecture")
        let rewardBaseline = baseline.map { -$0 } ?? -objectives.reduce(0, +) / Double(max(objectives.count, 1))
        var gradient = [Double](repeating: 0, count: probabilities.count)
        for (d, h) in zip(objectives, gates) {
            let advantage = -d - rewardBaseline          // r_i − b
            for k in gradient.indices { gradient[k] -= advantage * ((h[k] ? 1 : 0) - Double(probabilities[k])) }
        }
        return gradient
    }
}

/// Entropy (nats) of one gate's Bernoulli distribution; 0 for p = 0 or 1.
public func gateEntropy(_ probability: Float) -> Double {
    let p = Double(probability)
    return p > 0 && p < 1 ? -(p * log(p) + (1 - p) * log(1 - p)) : 0
}

/// Mean entropy (nats) of the gates' Bernoulli distributions.
public func meanGateEntropy(_ probabilities: [Float]) -> Double {
    guard !probabilities.isEmpty else { return 0 }
    return probabilities.reduce(0) { $0 + gateEntropy($1) } / Double(probabilities.count)
}
