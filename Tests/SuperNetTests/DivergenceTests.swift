import Layers
import SuperNet
import Tensor
import TestSupport
import XCTest

/// A step that would make the state non-finite changes nothing.
final class DivergenceTests: XCTestCase {
    private func trainer(learningRate: Float) throws -> (SuperNetwork, Trainer) {
        var rng = RNG(seed: 3)
        let net = try Fabric.cnf(columns: 2, scales: 3, channels: 4, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 8, width: 8, channels: 3), classes: 3, rng: &rng, context: makeContext())
        return (net, Trainer(network: net, task: .classification, optimisedCost: FlopsCost(net), seed: 1, learningRate: learningRate, context: makeContext()))
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

    func testAnUpdateThatWouldOverflowIsSeenBeforeItIsMade() {
        let p = Parameter(name: "w", shape: [3])
        for (i, v) in [Float(3e38), 1, -2].enumerated() { p.value[i] = v }
        for (i, g) in [Float(0), 0.5, 2].enumerated() { p.gradient[i] = g }
        let sgd = SGD(groups: [ParameterGroup(name: "weights", parameters: [p], learningRate: 10, momentum: 0.9, weightDecay: 0.3)])
        // w ← w − lr·(∇ + wd·w): the first weight would become 3e38 · (1 − 3) = −6e38, beyond Float.
        let overflowing = sgd.inspectUpdate()
        XCTAssertFalse(overflowing.finite)
        XCTAssertEqual(overflowing.gradientSquaredNorm, 0.25 + 4, accuracy: 1e-9)
        XCTAssertEqual(p.value[0], 3e38, "inspecting changes nothing")
        p.value[0] = 1
        XCTAssertTrue(sgd.inspectUpdate().finite)
        p.gradient[1] = .nan
        XCTAssertFalse(sgd.inspectUpdate().finite)
        XCTAssertTrue(sgd.inspectUpdate().gradientSquaredNorm.isNaN)
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
