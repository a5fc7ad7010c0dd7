import Foundation
import Interface
import Layers
import SuperNet
import Tensor

/// `bsn bench scale`: data-parallel training on this machine, 1 rank × 1
/// thread against N ranks × 1 thread under mpirun (images/s, efficiency, the
/// all-reduce's share of the step), and an estimate of the step on a cluster
/// from the measured compute, the gradient bytes and a link speed.
public enum ScaleBenchmark {
    public struct Row: Codable, Sendable {
        public let config: String, ranks: Int, threads: Int, batch: Int
        public let images_per_s: Double, step_ms: Double
        /// One all-reduce of every weight gradient (0 at one rank), and its bytes.
        public let allreduce_ms: Double, gradient_mb: Double
    }

    /// Configurations of the efficiency target, and the one the cluster estimate is for.
    public static let measured = ["cnf_c32_b64", "resnet20_b64"]
    public static let estimated = "cnf_c128_b32"

    /// One row in this process (under mpirun: every rank; rank 0's result is
    /// returned, nil elsewhere). Every rank runs the same fixed number of steps:
    /// each step meets the others in its all-reduce.
    public static func measure(_ config: TrainBenchmark.Config, steps: Int, ranks: any Communicator) throws -> Row? {
        BLAS.threads = 1
        var rng = RNG(seed: 1)
        let input = FeatureShape(height: 32, width: 32, channels: 3)
        let context = ExecutionContext(threads: 1, communicator: ranks)        // data-parallel across the ranks
        let network = try config.fabric.build(input: input, classes: 10, rng: &rng, context: context)
        let trainer = Trainer(network: network, task: .classification, optimisedCost: FlopsCost(network), seed: 2, mode: .subBatch, context: context)
        trainer.pathLearningRate = 0
        let rows = ranks.shard(of: config.batch)
        let images = Tensor(shape: input.batch(rows.count))
        var data = RNG(seed: 3 + UInt64(ranks.rank))
        data.fillUniform(images, -1, 1)
        let labels = (0..<rows.count).map { _ in Int32(data.integer(below: 10)) }
        var times = [Double]()
        for k in 0..<steps + 2 {
            let t0 = Timing.now()
            try trainer.trainStep(images: images, labels: labels)
            if k >= 2 { times.append(Timing.now() - t0) }      // the first two allocate and choose algorithms
        }
        let weights = network.weights.reduce(0) { $0 + $1.count }
        var reduce = [Double]()
        if ranks.distributed {
            let buffer = Tensor(shape: [weights])
            for _ in 0..<7 {
                ranks.barrier()
                let t0 = Timing.now()
                ranks.sum(buffer.data, count: weights)
                reduce.append(Timing.now() - t0)
            }
        }
        guard ranks.isLeader else { return nil }
        let step = median(times)
        return Row(config: config.name, ranks: ranks.count, threads: 1, batch: config.batch, images_per_s: Double(config.batch) / step,
                   step_ms: 1000 * step, allreduce_ms: reduce.isEmpty ? 0 : 1000 * median(reduce), gradient_mb: Double(weights * 4) / 1e6)
    }

    private static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// The table: per config, 1 rank and N ranks, speed-up and efficiency, all-reduce share;
    /// then the cluster estimate for `estimated` at `linkBitsPerSecond`.
    public static func table(_ rows: [Row], linkBitsPerSecond: Double, linkName: String) -> String {
        var table = Table([.left("config", 14), .right("ranks", 6), .right("threads", 8), .right("img/s", 9), .right("step ms", 9),
                           .right("all-reduce ms", 14), .right("share", 7), .right("speed-up", 9), .right("efficiency", 11)])
        for r in rows where r.config != estimated {
            let one = rows.first { $0.config == r.config && $0.ranks == 1 }
            let speedup = one.map { r.images_per_s / $0.images_per_s }
            table.add([r.config, String(r.ranks), String(r.threads), Format.fixed(r.images_per_s, 1), Format.fixed(r.step_ms, 1),
                       Format.fixed(r.allreduce_ms, 2), r.ranks > 1 ? Format.fixed(100 * r.allreduce_ms / r.step_ms, 1) + "%" : "-",
                       speedup.map { Format.fixed($0, 2) + "x" } ?? "-", speedup.map { Format.fixed(100 * $0 / Double(r.ranks), 0) + "%" } ?? "-"])
        }
        var lines = table.lines
        if let c = rows.first(where: { $0.config == estimated && $0.ranks == 1 }) {
            let perImage = c.step_ms / 1000 / Double(c.batch), bytes = c.gradient_mb * 1e6
            lines += ["", "\(estimated) on a cluster of N machines like this one (one rank of 1 thread each, global batch \(c.batch)), \(linkName) links:",
                      "measured here: \(Format.fixed(1000 * perImage, 1)) ms of compute per image, \(Format.fixed(c.gradient_mb, 1)) MB of gradients per step;",
                      "ring all-reduce: 2·(N−1)/N · bytes / link speed"]
            var estimate = Table([.right("machines", 9), .right("compute ms", 11), .right("all-reduce ms", 14), .right("step ms", 9), .right("img/s", 8), .right("efficiency", 11)])
            for n in [1, 2, 4, 8, 16, 32] {
                let compute = perImage * Double(c.batch) / Double(n)
                let reduce = n == 1 ? 0 : 2 * Double(n - 1) / Double(n) * bytes * 8 / linkBitsPerSecond
                let step = compute + reduce
                estimate.add([String(n), Format.fixed(1000 * compute, 0), Format.fixed(1000 * reduce, 0), Format.fixed(1000 * step, 0),
                              Format.fixed(Double(c.batch) / step, 1), Format.fixed(100 * perImage * Double(c.batch) / step / Double(n), 0) + "%"])
            }
            lines += estimate.lines
        }
        return lines.joined(separator: "\n")
    }

    /// "10Gb", "1Gb", "100Mb", "25G" (bits per second).
    public static func parseLink(_ text: String) -> Double? {
        var t = text.lowercased()
        if t.hasSuffix("bps") { t.removeLast(3) } else if t.hasSuffix("b") { t.removeLast() }
        return parseNumber(t.uppercased().replacingOccurrences(of: "K", with: "k")).flatMap { $0 > 0 ? $0 : nil }
    }
}
