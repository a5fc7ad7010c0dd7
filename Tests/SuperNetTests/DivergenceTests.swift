import Layers
import SuperNet
import Tensor
import XCTest

/// A step that would make the state non-finite changes nothing.
final class DivergenceTests: XCTestCase {
    private func trainer(learningRate: Float) throws -> (SuperNetwork, Trainer) {
        var rng = RNG(seed: 3)
        let net = try Fabric.cnf(columns: 2, scales: 3, channels: 4, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 8, width: 8, channels: 3), classes: 3, rng: &rng)
        return (net, Trainer(network: net, task: .classification, optimisedCost: FlopsCost(net), seed: 1, learningRate: learningRate))
    }

    private func snapshot(_ t: Trainer) -> [[Float]] {
        t.stateTensors.map { Array(UnsafeBufferPointer(start: $0.tensor.data, count: $0.tensor.count)) }
    }

    func testANonFiniteStepIsRefusedAndTheStateIsThatOfTheStepBefore() throws {
        let (_, t) = try trainer(learningRate: 0.1)
        var rng = RNG(seed: 9)
        let images = Tensor(shape: [4, 8, 8, 3])
        rng.fillNormal(images)
        try t.trainStep(images: images, labels: [0, 1, 2, 0])
        let before = snapshot(t), step = t.step, generator = t.rng, totals = t.epochTotals
        // An input of infinities makes the loss NaN: the step is refused.
        let bad = Tensor(shape: [4, 8, 8, 3])
        bad.fill(.infinity)
        XCTAssertThrowsError(try t.trainStep(images: bad, labels: [0, 1, 2, 0])) { error in
            XCTAssertEqual((error as? TrainingDiverged)?.step, 2)
            XCTAssertTrue("\(error)".contains("training diverged at step 2 (loss nan); weights of step 1 kept"), "\(error)")
        }
        XCTAssertEqual(snapshot(t), before, "weights, batch-norm statistics, gates and velocities unchanged")
        XCTAssertEqual(t.step, step)
        XCTAssertEqual(t.rng, generator)
        XCTAssertEqual(t.epochTotals, totals)
        // A finite step afterwards works as before.
        XCTAssertNoThrow(try t.trainStep(images: images, labels: [0, 1, 2, 0]))
        XCTAssertEqual(t.step, step + 1)
    }

    func testAnUpdateThatOverflowsTheWeightsIsRefused() throws {
        let (_, t) = try trainer(learningRate: 1e38)
        var rng = RNG(seed: 9)
        let images = Tensor(shape: [4, 8, 8, 3])
        rng.fillNormal(images)
        let before = snapshot(t)
        XCTAssertThrowsError(try t.trainStep(images: images, labels: [0, 1, 2, 0])) { error in
            XCTAssertTrue("\(error)".contains("weights overflow") || "\(error)".contains("gradient norm"), "\(error)")
        }
        XCTAssertEqual(snapshot(t), before)
        XCTAssertEqual(t.step, 0)
    }

    func testTheEpochInProgressIsPartOfTheSavedState() throws {
        let (_, t) = try trainer(learningRate: 0.1)
        var rng = RNG(seed: 9)
        let images = Tensor(shape: [4, 8, 8, 3])
        rng.fillNormal(images)
        t.stepsPerEpoch = 10
        for _ in 0..<3 { try t.trainStep(images: images, labels: [0, 1, 2, 0]) }
        XCTAssertEqual(t.epochTotals.steps, 3)
        let (_, other) = try trainer(learningRate: 0.1)
        other.restore(t.state)
        XCTAssertEqual(other.epochTotals, t.epochTotals)
    }
}
