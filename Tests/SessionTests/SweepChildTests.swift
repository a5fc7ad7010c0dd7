import Datasets
import Foundation
import Session
import SuperNet
import Tensor
import TestSupport
import XCTest

/// A sweep's children are made from the parent's save: the warm-up is not repeated.
final class SweepChildTests: XCTestCase {
    func testAChildOfAWarmedUpSessionStartsWithItsWeights() throws {
        let store = SessionStore(root: try temporaryFolder(self))
        let parent = Session(name: "p", seed: 4)
        try parent.load(Shapes(train: 64, validation: 16, test: 16, seed: 2))
        try parent.set(.batch(32))
        try parent.build(.cnf(columns: 2, scales: 3, channels: 4, segmentation: false, gated: true))
        try parent.setWarmup(.epochs(1))
        try parent.train(.epochs(1), validate: false)
        try store.save(parent)
        let request = SweepRequest(grid: .budgets(cost: FlopsCost.Choice(), limits: [1e5, 2e5], lambdas: [1e-6], mode: .max), seeds: [7], epochs: 3)
        let children = try request.children(of: parent)
        XCTAssertEqual(children.map(\.name), ["p.flops-100k.lambda-1e-06.seed-7", "p.flops-200k.lambda-1e-06.seed-7"])
        XCTAssertEqual(children[0].origin.targetStep, 2 + 3 * 2)
        let child = try store.makeChild(children[0], threads: 1)
        XCTAssertEqual(child.trainer?.step, 2, "the warm-up is not repeated")
        XCTAssertEqual(child.settings.seed, 7)
        XCTAssertEqual(child.budgetSpec?.budget.limit, 1e5)
        let theirs = try XCTUnwrap(parent.network).stateTensors, ours = try XCTUnwrap(child.network).stateTensors
        XCTAssertEqual(theirs.map(\.name), ours.map(\.name))
        for (a, b) in zip(theirs, ours) {
            XCTAssertEqual(a.tensor.values,
                           b.tensor.values, a.name)
        }
        // The parent moved on: its old children are refused, not mixed with new ones.
        try parent.train(.steps(1), validate: false)
        try store.save(parent)
        assertThrows(try store.makeChild(children[1], threads: 1), mentions: ["'p' is at step 3, not 2"])
    }

    /// A space's baseline children are named after the space and its parameters; a long name is cut with a checksum, so it stays a session name and unique.
    func testSpaceBaselineNamesStaySessionNames() throws {
        let params = (1...12).map { "width_of_stage_\($0): 4" }.joined(separator: ", ")
        let text = """
        space: a space whose name a person wrote at length
        params: {\(params)}
        input: x
        body:
          - node: a
            from: x
            op: conv k=3 relu
            out: width_of_stage_1
        output: {from: a, head: classify}
        """
        let parent = Session(name: "p", seed: 4)
        try parent.load(Shapes(train: 64, validation: 16, test: 16, seed: 2))
        try parent.build(.space(SpaceSource(path: "/tmp/long.yaml", text: text)))
        func fixed(_ given: [String: Int]) -> Fabric { .space(SpaceSource(path: "/tmp/long.yaml", text: text, given: given, gated: false)) }
        let request = SweepRequest(grid: .baselines([fixed(["width_of_stage_1": 4]), fixed(["width_of_stage_1": 8]), fixed(["width_of_stage_12": 8])]), epochs: 1)
        let names = try request.children(of: parent).map(\.name)
        XCTAssertEqual(Set(names).count, 3, "\(names)")
        for name in names {
            XCTAssertTrue(name.hasPrefix("p.space-a-space-whose-name-a-person-wrote-at-length-"), name)
            XCTAssertEqual(name.count, 2 + 60, name)
            XCTAssertNoThrow(try SessionStore.check(name: name), name)
        }
        // A short one is not cut.
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../samples/spaces/choice-blocks.yaml")
        let choice = try String(contentsOf: sample, encoding: .utf8)
        let short = Fabric.space(SpaceSource(path: "choice-blocks.yaml", text: choice, given: ["C": 4], gated: false))
        XCTAssertEqual(try SweepRequest(grid: .baselines([short]), epochs: 1).children(of: parent).map(\.name), ["p.space-choice-blocks-C4-layers4-stages3"])
    }
}
