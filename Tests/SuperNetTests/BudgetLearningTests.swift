import Layers
import SuperNet
import Tensor
import TestSupport
import XCTest

/// Endless batches of the synthetic colour-square task, for the epoch loop.
private final class SquareBatches: BatchSource {
    var rng = RNG(seed: 99)
    let make: (inout RNG) -> (images: Tensor, labels: [Int32])
    init(_ make: @escaping (inout RNG) -> (images: Tensor, labels: [Int32])) { self.make = make }
    var batchesPerEpoch: Int { 10 }
    func nextBatch() throws -> (images: Tensor, labels: [Int32]) { make(&rng) }
}

/// End to end: a small B-CNF trained on synthetic data with and without a
/// tight flops budget.
final class BudgetLearningTests: XCTestCase {
    /// 8x8 images of noise with one 3x3 square whose colour channel is the class.
    private func batch(_ n: Int, rng: inout RNG) -> (images: Tensor, labels: [Int32]) {
        let x = Tensor(shape: [n, 8, 8, 3])
        var labels = [Int32]()
        for e in 0..<n {
            let label = rng.integer(below: 3)
            labels.append(Int32(label))
            for i in 0..<(64 * 3) { x[e * 192 + i] = 0.3 * rng.normal() }
            let top = rng.integer(below: 6), left = rng.integer(below: 6)
            for y in top..<top + 3 { for xx in left..<left + 3 {
                for c in 0..<3 { x[e * 192 + (y * 8 + xx) * 3 + c] += c == label ? 1.5 : -0.5 }
            } }
        }
        return (x, labels)
    }

    private func train(budgetFraction: Double?) throws -> (full: Double, deterministic: Double, accuracy: Double) {
        var rng = RNG(seed: 7)
        let net = try Fabric.cnf(columns: 3, scales: 4, channels: 8, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 8, width: 8, channels: 3), classes: 3, rng: &rng, context: makeContext())
        let flops = FlopsCost(net)
        let full = flops.cost(of: net.fullArchitecture)
        let trainer = Trainer(network: net, task: .classification, optimisedCost: flops, seed: 1, learningRate: 0.05, context: makeContext())
        trainer.warmupSteps = 40
        trainer.pathLearningRate = 0.02
        if let fraction = budgetFraction {
            trainer.budget = Budget(limit: fraction * full, lambda: 4 / full)
        }
        for _ in 0..<300 {
            let (x, y) = batch(32, rng: &rng)
            try trainer.trainStep(images: x, labels: y)
        }
        let test = (0..<4).map { _ in batch(50, rng: &rng) }
        let accuracy = try trainer.evaluate(test).accuracy
        return (full, flops.cost(of: net.deterministicArchitecture), accuracy)
    }

    func testEpochsReportMeansAndTheScheduleFollowsEpochs() throws {
        var rng = RNG(seed: 3)
        let net = try Fabric.cnf(columns: 2, scales: 4, channels: 8, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 8, width: 8, channels: 3), classes: 3, rng: &rng, context: makeContext())
        let trainer = Trainer(network: net, task: .classification, optimisedCost: FlopsCost(net), seed: 1, learningRate: 0.05, context: makeContext())
        trainer.schedule = PiecewiseConstantSchedule(initial: 0.05, changes: [.init(at: 2, value: 0.005)])
        trainer.warmupSteps = 10
        var epochs = [EpochMetrics]()
        let steps = try trainer.train(epochs: 3, from: SquareBatches { self.batch(16, rng: &$0) }, onEpoch: { epochs.append($0) })
        XCTAssertEqual(steps.count, 30)
        XCTAssertEqual(epochs.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(epochs[0].loss, steps[0..<10].reduce(0) { $0 + $1.loss } / 10, accuracy: 1e-12)
        XCTAssertEqual(steps[19].learningRate, 0.05)
        XCTAssertEqual(steps[20].learningRate, 0.005, "epoch 2 starts at step 20")
        XCTAssertFalse(steps[9].sampling)
        XCTAssertTrue(steps[10].sampling, "sampling starts after the warm-up")
        // Stopping early happens at a batch boundary.
        let stopped = try trainer.train(steps: 50, from: SquareBatches { self.batch(16, rng: &$0) }, onStep: { $0.step < 33 })
        XCTAssertEqual(stopped.count, 3)
    }

    func testATightFlopsBudgetIsMetWhileAccuracyStaysHigh() throws {
        let budgeted = try train(budgetFraction: 0.3)
        XCTAssertLessThanOrEqual(budgeted.deterministic, 0.3 * budgeted.full, "deterministic architecture within the budget")
        XCTAssertGreaterThan(budgeted.deterministic, 0, "the deterministic architecture is consistent")
        XCTAssertGreaterThan(budgeted.accuracy, 0.8, "chance is 1/3")

        let free = try train(budgetFraction: nil)
        XCTAssertGreaterThan(free.deterministic, 2 * budgeted.deterministic, "without a budget more modules stay")
        XCTAssertGreaterThan(free.accuracy, 0.8)
        print("flops: full \(budgeted.full), budgeted \(budgeted.deterministic) (accuracy \(budgeted.accuracy)), free \(free.deterministic) (accuracy \(free.accuracy))")
    }
}

final class TrainerAllocationTests: XCTestCase {
    func testDenseTrainingStepsAllocateNoBuffersAfterTheFirst() throws {
        var rng = RNG(seed: 4)
        let net = try Fabric.cnf(columns: 3, scales: 4, channels: 8, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 8, width: 8, channels: 3), classes: 3, rng: &rng, context: makeContext())
        let trainer = Trainer(network: net, task: .classification, optimisedCost: FlopsCost(net), seed: 1, context: makeContext())
        trainer.warmupSteps = 100
        let x = Tensor(shape: [16, 8, 8, 3])
        rng.fillUniform(x, -1, 1)
        let labels = (0..<16).map { Int32($0 % 3) }
        try trainer.trainStep(images: x, labels: labels)
        let after = Tensor.allocations
        for _ in 0..<3 { try trainer.trainStep(images: x, labels: labels) }
        XCTAssertEqual(Tensor.allocations, after, "steps 2-4 allocated \(Tensor.allocations - after) buffers")
    }
}
