import Datasets
import Foundation
import Session
import SuperNet
import TestSupport
import XCTest

/// `pareto` on a sweep's children made and trained in this process: seeds
/// make one setting, a dead network is never on the front, different training
/// lengths are said.
final class ParetoTests: XCTestCase {
    func testSeedsMakeOneSettingADeadNetworkIsLeftOffAndDifferentLengthsAreSaid() throws {
        let store = SessionStore(root: try temporaryFolder(self))
        let parent = Session(name: "p", seed: 4)
        try parent.load(Shapes(train: 64, validation: 32, test: 32, seed: 2))
        try parent.set(.batch(32))
        try parent.build(.cnf(columns: 2, scales: 3, channels: 4, segmentation: false, gated: true))
        try parent.setWarmup(.epochs(1))
        try parent.train(.epochs(1), validate: false)
        try store.save(parent)
        let grid = SweepRequest(grid: .budgets(cost: FlopsCost.Choice(), limits: [1e5, 2e5], lambdas: [1e-6], mode: .max), seeds: [1, 2], epochs: 1)
        let longer = SweepRequest(grid: .budgets(cost: FlopsCost.Choice(), limits: [3e5], lambdas: [1e-6], mode: .max), epochs: 2)
        let children = try grid.children(of: parent) + longer.children(of: parent)
        for child in children { try store.runSweepChild(child, threads: 1, cancel: .never) { _ in } }

        // Both seeds of the 100k setting lose every path: their gates all go to p ≈ 0.007.
        for seed in [1, 2] {
            let child = try store.open("p.flops-100k.lambda-1e-06.seed-\(seed)")
            try XCTUnwrap(child.trainer).startSampling(logit: -5)
            XCTAssertFalse(try XCTUnwrap(child.network).deterministicArchitecture.isConsistent)
            try store.save(child)
            child.close()
        }

        let report = try parent.pareto(store: store)
        XCTAssertEqual(Set(report.rows.map(\.model)), ["flops-100k.lambda-1e-06", "flops-200k.lambda-1e-06", "flops-300k.lambda-1e-06"])
        let live = report.rows.filter { !$0.dead }
        XCTAssertEqual(live.map(\.cost), live.map(\.cost).sorted(), "sorted by cost")
        let dead = try XCTUnwrap(report.rows.first { $0.model == "flops-100k.lambda-1e-06" })
        XCTAssertTrue(dead.dead)
        XCTAssertFalse(dead.onFront, "a dead network is never on the front")
        XCTAssertNil(dead.validationAccuracy)
        XCTAssertNil(dead.testAccuracy, "nothing measured on test for a dead network")
        XCTAssertEqual(dead.seeds, 2)
        XCTAssertEqual(report.rows.last?.model, dead.model, "dead settings come last")

        // The 200k setting: the means of its two seeds, and their standard deviation.
        let setting = try XCTUnwrap(report.rows.first { $0.model == "flops-200k.lambda-1e-06" })
        let seeds = report.seedRows.filter { $0.model.hasPrefix("flops-200k.lambda-1e-06.seed-") }
        XCTAssertEqual(seeds.count, 2)
        XCTAssertEqual(report.seedRows.count, 5, "each child once: 2 + 2 seeds and the longer child")
        let v = seeds.map { $0.validationAccuracy! }
        XCTAssertEqual(setting.validationAccuracy!, (v[0] + v[1]) / 2, accuracy: 1e-12)
        XCTAssertEqual(setting.validationSpread!, abs(v[0] - v[1]) / 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(setting.cost, (seeds[0].cost + seeds[1].cost) / 2, accuracy: 1e-9)
        if setting.onFront {
            // Each seed was evaluated on test, and its accuracy is eval test's on that child.
            let t = try seeds.map { s in try XCTUnwrap(s.testAccuracy, s.model) }
            XCTAssertEqual(setting.testAccuracy!, (t[0] + t[1]) / 2, accuracy: 1e-12)
            let child = try store.open("p." + seeds[0].model, access: .read)
            XCTAssertEqual(try child.evaluate(.test).accuracy, t[0], accuracy: 1e-12)
        }
        XCTAssertTrue(report.rows.contains(where: \.onFront))
        XCTAssertEqual(report.chance!, 1 / Double(try XCTUnwrap(parent.dataset).classNames.count), accuracy: 1e-12)

        // One epoch (2 steps) after the parent's against two: said under the table.
        XCTAssertEqual(report.stepCounts.map(\.steps), [parent.trainer!.step + 2, parent.trainer!.step + 4])
        XCTAssertTrue(report.text.contains("trained for different numbers of steps"), report.text)
        XCTAssertTrue(report.text.contains("dead (no input → output path, never on the front): flops-100k.lambda-1e-06 (pareto --all lists them)"), report.text)
        XCTAssertTrue(report.text.contains("±"), report.text)
        var all = report
        all.all = true
        XCTAssertTrue(all.text.contains("flops-100k.lambda-1e-06.seed-2"), all.text)
        XCTAssertTrue(all.text.split(separator: "\n").contains { $0.hasPrefix("flops-100k.lambda-1e-06 ") && $0.hasSuffix("dead") }, all.text)
    }
}

/// A sweep whose searches all end at one cost says so.
final class SweepCollapseTests: XCTestCase {
    /// Finished rows: (child, its budget for a search, cost, kind).
    private func rows(_ children: [(String, Budget?, Double, String)]) throws -> [SweepReport.Row] {
        let json = children.map { child, _, cost, kind in
            #"{"session":"s.\#(child)","child":"\#(child)","kind":"\#(kind)","state":"finished","step":10,"targetStep":10,"perEpoch":5,"cost":\#(cost),"costName":"flops"}"#
        }
        var rows = try JSONDecoder().decode([SweepReport.Row].self, from: Data(("[" + json.joined(separator: ",") + "]").utf8))
        for (k, child) in children.enumerated() { rows[k].budget = child.1 }
        return rows
    }

    func testSaidWhenEverySearchEndsAtOneCostAndNotOtherwise() throws {
        let budgets = [3e6, 6e6, 9e6].map { Budget(limit: $0, lambda: 1e-7) }
        let names = ["flops-3M.lambda-1e-07", "flops-6M.lambda-1e-07", "flops-9M.lambda-1e-07"]
        let said = try XCTUnwrap(SweepReport.collapsed(try rows(zip(names, budgets).map { ($0, $1, 1.81e6, "search") } + [("cnf-W1-S4-C16", nil, 1.2e6, "baseline")])))
        XCTAssertTrue(said.hasPrefix("all 3 searches ended at one architecture (1.81M flops)"), said)
        XCTAssertTrue(said.contains("mode=abs pulls each child to its own budget"), said)
        let abs = try XCTUnwrap(SweepReport.collapsed(try rows(zip(names, budgets).map { ($0 + ".abs", Budget(limit: $1.limit, lambda: 1e-7, mode: .abs), 1.81e6, "search") })))
        XCTAssertTrue(abs.contains("try larger λ, or budgets further apart"), abs)
        XCTAssertNil(SweepReport.collapsed(try rows([(names[0], budgets[0], 1.81e6, "search"), (names[1], budgets[1], 1.81e6, "search"), (names[2], budgets[2], 8e6, "search")])))
        // One budget with several λ at one cost is no collapse of budgets.
        XCTAssertNil(SweepReport.collapsed(try rows([1e-7, 2e-7, 3e-7].map { ("flops-3M.lambda-\($0)", Budget(limit: 3e6, lambda: $0), 1e6, "search") })))
    }
}
