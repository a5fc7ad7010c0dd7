import Foundation
import Layers
import SuperNet
import Tensor
import TestSupport
import XCTest

/// Two ranks that hold the same values, simulated in one process: every sum
/// doubles (exactly). A started sum doubles its buffer only when the sums
/// finish, as MPI fills it, and the calls are logged.
private final class TwinRanks: Communicator, @unchecked Sendable {
    enum Event: Equatable { case passed(Int), started(Int), finished }
    var log = [Event]()
    private var pending = [(UnsafeMutablePointer<Float>, Int)]()
    var rank: Int { 0 }
    var count: Int { 2 }
    func sum(_ values: inout [Double]) { for k in values.indices { values[k] *= 2 } }
    func sum(_ values: UnsafeMutablePointer<Float>, count: Int) { for k in 0..<count { values[k] *= 2 } }
    func sum(_ tensors: [Tensor], scale: Float) { for t in tensors { for k in 0..<t.count { t.data[k] *= 2 * scale } } }
    func startSum(_ values: UnsafeMutablePointer<Float>, count: Int) {
        pending.append((values, count))
        log.append(.started(count))
    }
    func progressSums() {}
    func finishSums() {
        for (values, count) in pending { sum(values, count: count) }
        pending = []
        log.append(.finished)
    }
    func barrier() {}
    func broadcast(_ data: Data) -> Data { data }
}

final class GradientBucketsTests: XCTestCase {
    private func network(_ context: ExecutionContext) throws -> SuperNetwork {
        var rng = RNG(seed: 5)
        return try Fabric.cnf(columns: 3, scales: 3, channels: 8, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 8, width: 8, channels: 3), classes: 3, rng: &rng, context: context)
    }

    private func batch(_ n: Int) -> (Tensor, [Int32]) {
        var rng = RNG(seed: 9)
        let x = Tensor(shape: [n, 8, 8, 3])
        rng.fillUniform(x, -1, 1)
        return (x, (0..<n).map { _ in Int32(rng.integer(below: 3)) })
    }

    func testABucketStartsAsSoonAsBackwardHasFinishedItsGradientsAndTheSumsEqualTheFusedOnes() throws {
        let ranks = TwinRanks(), context = ExecutionContext(threads: 1, communicator: ranks)
        let net = try network(context), executor = Executor(net, context: context)
        let groups = net.nodes.map { $0.module?.parameters.map(\.gradient) ?? [] }
        let owner = Dictionary(uniqueKeysWithValues: groups.enumerated().flatMap { node, ts in ts.map { (ObjectIdentifier($0), node) } })
        let cap = 8_000
        let buckets = GradientBuckets(groups: groups, bucketBytes: cap, communicator: ranks)
        let (x, _) = batch(4)
        let logits = try executor.forward(x, architectures: [net.fullArchitecture], training: true)
        let g = Tensor(shape: logits.shape)
        g.fill(0.25)
        for t in groups.joined() { t.fill(0) }
        buckets.begin()
        try executor.backward(g) { node in
            ranks.log.append(.passed(node))
            buckets.backwardPassed(node: node)
        }
        let local = groups.joined().map { Array(UnsafeBufferPointer(start: $0.data, count: $0.count)) }
        buckets.finish()

        // Sizes: every float once; each bucket but the last reaches the cap.
        let sizes = ranks.log.compactMap { if case .started(let n) = $0 { n } else { nil } }
        let total = groups.joined().reduce(0) { $0 + $1.count }
        XCTAssertEqual(sizes.reduce(0, +), total)
        XCTAssertGreaterThan(sizes.count, 3, "a network of \(4 * total) bytes in buckets of \(cap)")
        XCTAssertEqual(buckets.bucketCount, sizes.count)
        for s in sizes.dropLast() { XCTAssertGreaterThanOrEqual(4 * s, cap) }
        // Timing: a bucket starts right after backward passes the lowest node
        // whose gradients it holds, before the next node; all before the wait.
        var covered = 0, last = Int.max
        let ordered = groups.enumerated().reversed().flatMap { node, ts in ts.filter { $0.count > 0 }.map { (node, $0.count) } }
        for event in ranks.log {
            switch event {
            case .passed(let node): last = node
            case .started(let n):
                var floats = 0, lowest = Int.max
                while floats < n { floats += ordered[covered].1; lowest = ordered[covered].0; covered += 1 }
                XCTAssertEqual(floats, n, "buckets hold whole tensors")
                XCTAssertEqual(lowest, last, "started when backward passed node \(lowest), not later")
            case .finished: XCTAssertEqual(covered, ordered.count)
            }
        }
        XCTAssertEqual(ranks.log.last, .finished)
        for (t, before) in zip(groups.joined(), local) {
            XCTAssertEqual(Array(UnsafeBufferPointer(start: t.data, count: t.count)), before.map { 2 * $0 }, "\(owner[ObjectIdentifier(t)]!)")
        }
    }

    func testOverlappedAndFusedAllReduceGiveTheSameWeightsAfterThreeSteps() throws {
        func train(bucket: Int?) throws -> [[Float]] {
            let context = ExecutionContext(threads: 1, communicator: TwinRanks())
            let net = try network(context)
            let trainer = Trainer(network: net, task: .classification, optimisedCost: FlopsCost(net), seed: 1, learningRate: 0.05, context: context)
            trainer.pathLearningRate = 0.1
            trainer.allreduceBucket = bucket
            XCTAssertEqual(trainer.buckets.bucketCount == 0, bucket == 0)
            for _ in 0..<3 {
                let (x, y) = batch(8)
                try trainer.trainStep(images: x, labels: y)
            }
            return trainer.stateTensors.map(\.tensor.values)
        }
        let fused = try train(bucket: 0)
        for bucket in [4_000, 50_000, nil] { XCTAssertEqual(try train(bucket: bucket), fused, "buckets of \(bucket.map(String.init) ?? "auto") bytes") }
    }
}
