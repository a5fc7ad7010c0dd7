import Datasets
import Foundation
import Session
import SuperNet
import Tensor
import TestSupport
import XCTest

/// Two sessions in one process share nothing that computes: each has its own
/// execution context (threads, workspace, convolution choices, ranks).
/// Trained interleaved, step by step, each gives bit for bit what it gives alone.
final class TwoSessionsTests: XCTestCase {
    private func session(_ name: String, threads: Int, batch: Int, lr: Double, sampling: Sampling) throws -> Session {
        let s = Session(name: name, seed: 5)
        try s.load(Shapes(train: 96, validation: 16, test: 16, seed: 2))
        try s.set(.batch(batch))
        try s.set(.threads(threads))
        try s.set(.learningRate(lr))
        try s.set(.sampling(sampling))
        try s.build(.cnf(columns: 2, scales: 3, channels: 16, segmentation: false, gated: true))
        try s.budget(FlopsCost.Choice(), Budget(limit: 3e5, lambda: 1e-5))
        return s
    }

    /// Everything training changes: weights, gate logits, batch-norm statistics, and the losses of every step.
    private func fingerprint(_ s: Session) throws -> [Float] {
        let network = try XCTUnwrap(s.network)
        let tensors = network.weights.map(\.value) + [network.gateLogits.value] + network.nodes.flatMap { $0.module?.buffers ?? [] }
        return tensors.flatMap(\.values) + s.steps.map { Float($0.loss) }
    }

    func testTwoSessionsTrainedInterleavedMatchEachTrainedAlone() throws {
        let a = try session("a", threads: 1, batch: 16, lr: 0.05, sampling: .perExample)
        let b = try session("b", threads: 2, batch: 32, lr: 0.1, sampling: .perBatch)
        for _ in 0..<7 {
            try a.train(.steps(1), validate: false)
            try b.train(.steps(1), validate: false)
        }
        let aloneA = try session("a", threads: 1, batch: 16, lr: 0.05, sampling: .perExample)
        try aloneA.train(.steps(7), validate: false)
        let aloneB = try session("b", threads: 2, batch: 32, lr: 0.1, sampling: .perBatch)
        try aloneB.train(.steps(7), validate: false)
        XCTAssertEqual(a.steps.count, 7)
        XCTAssertEqual(try fingerprint(a), try fingerprint(aloneA), "session a interleaved with b")
        XCTAssertEqual(try fingerprint(b), try fingerprint(aloneB), "session b interleaved with a")
        XCTAssertNotEqual(try fingerprint(a), try fingerprint(b))
        // The thread count changes the bits (sums split across threads round differently), so a
        // thread count leaking from one session into the other would show above.
        let aOnTwo = try session("a", threads: 2, batch: 16, lr: 0.05, sampling: .perExample)
        try aOnTwo.train(.steps(7), validate: false)
        XCTAssertNotEqual(try fingerprint(aOnTwo), try fingerprint(aloneA))
        XCTAssertEqual(a.context.threads, 1)
        XCTAssertEqual(b.context.threads, 2)
    }
}
