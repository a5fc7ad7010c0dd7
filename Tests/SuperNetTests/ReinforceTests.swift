import Foundation
import SuperNet
import Tensor
import XCTest

final class ReinforceTests: XCTestCase {
    func testAveragedEstimatesMatchTheExactGradientOverAllEightArchitectures() {
        // A 3-gate toy: each architecture H has a fixed loss and cost; D(H) = loss + λ·max(0, C − budget).
        let budget = Budget(limit: 2, lambda: 0.5)
        func loss(_ h: [Bool]) -> Double { 1.0 - 0.3 * (h[0] ? 1 : 0) - 0.2 * (h[1] ? 1 : 0) - 0.25 * (h[0] && h[2] ? 1 : 0) }
        func cost(_ h: [Bool]) -> Double { Double(h.filter { $0 }.count) + (h[1] ? 0.5 : 0) }
        func objective(_ h: [Bool]) -> Double { loss(h) + budget.penalty(cost: cost(h)) }
        let logits: [Float] = [0.4, -0.3, 1.1]
        let p = logits.map { 1 / (1 + expf(-$0)) }

        // Exact: ∂/∂a_k Σ_H P(H) D(H) = Σ_H P(H) D(H) (h_k − p_k).
        var exact = [Double](repeating: 0, count: 3)
        for bits in 0..<8 {
            let h = (0..<3).map { bits & (1 << $0) != 0 }
            let probability = (0..<3).reduce(1.0) { $0 * Double(h[$1] ? p[$1] : 1 - p[$1]) }
            for k in 0..<3 { exact[k] += probability * objective(h) * ((h[k] ? 1 : 0) - Double(p[k])) }
        }

        // Monte Carlo: batches of N sampled architectures; each estimate has expectation (N − 1)·exact.
        var rng = RNG(seed: 42)
        let n = 16, batches = 20_000
        var mean = [Double](repeating: 0, count: 3), squares = mean
        for _ in 0..<batches {
            let gates = (0..<n).map { _ in p.map { rng.bernoulli($0) } }
            let g = Reinforce.gateGradient(objectives: gates.map(objective), gates: gates, probabilities: p)
            for k in 0..<3 { mean[k] += g[k] / Double(n - 1); squares[k] += pow(g[k] / Double(n - 1), 2) }
        }
        for k in 0..<3 {
            mean[k] /= Double(batches)
            let standardError = ((squares[k] / Double(batches) - mean[k] * mean[k]) / Double(batches)).squareRoot()
            XCTAssertEqual(mean[k], exact[k], accuracy: 4 * standardError, "gate \(k): exact \(exact[k])")
            XCTAssertGreaterThan(abs(exact[k]), 4 * standardError, "the test can tell gate \(k)'s gradient from 0")
        }
    }

    func testBudgetPenaltyModes() {
        XCTAssertEqual(Budget(limit: 10, lambda: 0.1).penalty(cost: 7), 0)
        XCTAssertEqual(Budget(limit: 10, lambda: 0.1).penalty(cost: 15), 0.5, accuracy: 1e-12)
        XCTAssertEqual(Budget(limit: 10, lambda: 0.1, mode: .abs).penalty(cost: 7), 0.3, accuracy: 1e-12)
        // Expected: each sample weighs λ·C while the batch's mean cost is over the budget.
        XCTAssertEqual(Budget(limit: 10, lambda: 0.1, mode: .expected).penalty(cost: 7, meanCost: 12), 0.7, accuracy: 1e-12)
        XCTAssertEqual(Budget(limit: 10, lambda: 0.1, mode: .expected).penalty(cost: 15, meanCost: 9), 0)
    }

    func testBetterThanAverageSamplesBecomeMoreLikely() {
        // Two samples: gate on with D = 1, gate off with D = 2; descending the gradient raises p.
        let g = Reinforce.gateGradient(objectives: [1, 2], gates: [[true], [false]], probabilities: [0.5])
        XCTAssertLessThan(g[0], 0)
        XCTAssertEqual(meanGateEntropy([0.5]), log(2), accuracy: 1e-12)
        XCTAssertEqual(meanGateEntropy([1, 0]), 0)
    }
}
