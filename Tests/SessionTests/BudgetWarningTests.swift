import Datasets
import Foundation
import Interface
import Session
import SuperNet
import TestSupport
import XCTest

/// Budgets nobody means are taken with a warning: below the smallest
/// non-empty architecture, at or above the full network, time in other units.
final class BudgetWarningTests: XCTestCase {
    private func session() throws -> Session {
        let s = Session(name: "b", seed: 1)
        try s.load(Shapes(train: 32, validation: 16, test: 16, seed: 2))
        try s.build(.cnf(columns: 2, scales: 3, channels: 4, segmentation: false, gated: true))
        return s
    }

    func testTheCheapestPathIsTheSmallestNonEmptyArchitectureOfAll() throws {
        let net = try XCTUnwrap(try session().network)
        XCTAssertEqual(net.gateCount, 11)
        let flops = FlopsCost(net), params = ParameterCost(net)
        var smallest = (flops: Double.infinity, params: Double.infinity)
        for bits in 0..<(1 << net.gateCount) {
            let a = net.architecture(gates: (0..<net.gateCount).map { bits & (1 << $0) != 0 })
            guard a.isConsistent else { continue }
            smallest = (min(smallest.flops, flops.cost(of: a)), min(smallest.params, params.cost(of: a)))
        }
        let byFlops = try XCTUnwrap(net.cheapestPath { Double($0.multiplyAccumulates) })
        let byParams = try XCTUnwrap(net.cheapestPath { Double($0.parameterCount) })
        XCTAssertEqual(flops.cost(of: byFlops), smallest.flops, "all 2048 gate settings")
        XCTAssertEqual(params.cost(of: byParams), smallest.params)
    }

    func testWarningsAtTheBoundaries() throws {
        let s = try session()
        let net = try XCTUnwrap(s.network)
        let full = FlopsCost(net).cost(of: net.fullArchitecture)
        let smallest = FlopsCost(net).cost(of: try XCTUnwrap(net.cheapestPath { Double($0.multiplyAccumulates) }))
        func warnings(_ limit: Double, mode: Budget.Mode = .max) throws -> [String] {
            try s.budget(FlopsCost.Choice(), Budget(limit: limit, lambda: 1e-6, mode: mode)).warnings
        }
        XCTAssertEqual(try warnings(smallest), [], "the smallest architecture fits its own cost")
        XCTAssertEqual(try warnings(full - 1), [])
        let below = try warnings(smallest - 1)
        XCTAssertEqual(below.count, 1)
        XCTAssertTrue(below[0].contains("below the smallest non-empty architecture (one input → output path: \(Format.quantity(smallest)) MAC; the full network: \(Format.quantity(full)) MAC)"), below[0])
        let above = try warnings(full)
        XCTAssertEqual(above.count, 1)
        XCTAssertTrue(above[0].contains("at or above the full network (\(Format.quantity(full)) MAC): no architecture pays a penalty"), above[0])
        XCTAssertTrue(try warnings(full * 10, mode: .abs)[0].contains("mode abs pulls the search toward the full network"))
        // A number whose k suffix lands between the smallest and the full network: that is what was meant.
        let meant = (smallest / 1000).rounded(.up) + 1
        let suggestion = try warnings(meant)
        XCTAssertTrue(suggestion.first?.hasSuffix("did you mean \(Format.quantity(meant, exact: true))k?") == true, "\(suggestion)")
    }

    func testTimeBudgetsTakeUnitsAndASuffixIsSaid() {
        XCTAssertEqual(parseMilliseconds("30ms"), 30)
        XCTAssertEqual(parseMilliseconds("0.03s"), 30)
        XCTAssertEqual(parseMilliseconds("500us"), 0.5)
        XCTAssertEqual(parseMilliseconds("2"), 2)
        XCTAssertNil(parseMilliseconds("fast"))
        XCTAssertEqual(timeSuffixWarning("1M"), "'1M' is read as 1.00M ms (16m40s): time budgets are milliseconds; write 30ms, 0.03s or 500us")
        XCTAssertNil(timeSuffixWarning("30ms"))
        XCTAssertNil(timeSuffixWarning("2"))
    }
}

/// mode=expected: the penalty is on the batch's mean cost; below the budget the gates learn from the loss alone.
final class ExpectedCostModeTests: XCTestCase {
    private func gatesAfterOneStep(_ budget: Budget?) throws -> [Float] {
        let s = Session(name: "e", seed: 5)
        try s.load(Shapes(train: 32, validation: 16, test: 16, seed: 2))
        try s.set(.batch(16))
        try s.set(.pathLearningRate(0.5))
        try s.build(.cnf(columns: 2, scales: 3, channels: 4, segmentation: false, gated: true))
        if let budget { try s.budget(FlopsCost.Choice(), budget) } else { s.removeBudget() }
        try s.train(.steps(1), validate: false)
        return try XCTUnwrap(s.network).gateLogits.value.values
    }

    func testBelowTheBudgetTheMeanCostAddsNothingAboveItEachSampleIsWeighedByItsCost() throws {
        let loss = try gatesAfterOneStep(nil)
        XCTAssertEqual(try gatesAfterOneStep(Budget(limit: 1e9, lambda: 1e-3, mode: .expected)), loss, "mean cost under the budget: the loss alone")
        let over = try gatesAfterOneStep(Budget(limit: 1e3, lambda: 1e-6, mode: .expected))
        XCTAssertNotEqual(over, loss)
        // Over the budget, λ·C_i, unlike max's λ·max(0, C_i − budget), differs from max by a constant per sample: the baseline removes it.
        let max = try gatesAfterOneStep(Budget(limit: 1e3, lambda: 1e-6, mode: .max))
        for (a, b) in zip(over, max) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }
}
