import Datasets
import Foundation
import Session
import SuperNet
import TestSupport
import XCTest

/// The "not searching" hint looks at what changed: the gate entropy and the
/// deterministic architecture's cost.
final class SearchHintTests: XCTestCase {
    private func search(pathRate: Double, limit: Double) throws -> Session {
        let s = Session(name: "h", seed: 3)
        try s.load(Shapes(train: 128, validation: 32, test: 32, seed: 2))
        try s.set(.batch(32))
        try s.build(.cnf(columns: 2, scales: 3, channels: 8, segmentation: false, gated: true))
        try s.budget(FlopsCost.Choice(), Budget(limit: limit, lambda: 1e-5))
        try s.set(.pathLearningRate(pathRate))
        try s.train(.epochs(3), validate: false)
        return s
    }

    func testSilentWhenTheDeterministicCostMovedAndSaidWhenNothingCanMove() throws {
        let stuck = try search(pathRate: 0, limit: 1e6)
        let hint = try XCTUnwrap(stuck.searchHint, "path-lr 0: the gates cannot learn")
        XCTAssertTrue(hint.contains("path-lr is 0"), hint)
        XCTAssertTrue(hint.contains("unchanged"), hint)
        // The same entropies with a deterministic cost that fell in the last step: the search moved.
        var moved = stuck.steps
        moved[moved.count - 1].deterministicCost *= 0.8
        XCTAssertNil(stuck.searchHint(over: moved))

        // A real search whose deterministic cost fell: nothing said, whatever the entropy did.
        let moving = try search(pathRate: 0.3, limit: 3e5)
        let full = FlopsCost(try XCTUnwrap(moving.network)).cost(of: moving.network!.fullArchitecture)
        XCTAssertLessThan(try XCTUnwrap(moving.steps.last).deterministicCost, full, "the search moved the deterministic cost")
        XCTAssertNil(moving.searchHint)
    }
}
