import Foundation
import Interface
import Layers
import SuperNet
import Tensor

/// `bsn bench train`: images/s of a training step (forward, REINFORCE,
/// backward, SGD update) and of inference, and peak memory, on random data.
/// Each row runs in a child process of its own, so its peak RSS is its own.
public struct TrainBenchmark {
    public struct Config: Sendable {
        public let name: String, fabric: Fabric, batch: Int
    }

    public static let configs: [Config] = [
        Config(name: "cnf_c32_b64", fabric: .cnf(columns: 8, scales: 6, channels: 32, segmentation: false, gated: true), batch: 64),
        Config(name: "cnf_c64_b64", fabric: .cnf(columns: 8, scales: 6, channels: 64, segmentation: false, gated: true), batch: 64),
        Config(name: "cnf_c128_b32", fabric: .cnf(columns: 8, scales: 6, channels: 128, segmentation: false, gated: true), batch: 32),
        Config(name: "resnet20_b64", fabric: Fabric.resnet(depth: 20)!, batch: 64),
    ]

    public struct Row: Codable, Sendable {
        public let config: String, mode: String, gates_on: String
        public let train_images_per_s: Double, infer_images_per_s: Double
        public let peak_rss_mb: Double
        /// Mean fraction of the modules the sampled architectures used.
        public let active_modules: Double
    }

    /// Runs one row in this process. `gatesOn` is "all" (every gate on) or
    /// "half" (half of the gates off, p ≈ 0, picked at random among those
    /// that keep an input → output path; the rest on).
    public static func measure(_ config: Config, mode: ExecutionMode, gatesOn: String, seconds: Double) throws -> Row {
        BLAS.threads = 1
        var rng = RNG(seed: 1)
        let input = FeatureShape(height: 32, width: 32, channels: 3)
        let network = try config.fabric.build(input: input, classes: 10, rng: &rng)
        let trainer = Trainer(network: network, task: .classification, optimisedCost: FlopsCost(network), seed: 2, mode: mode)
        trainer.pathLearningRate = 0                         // keep the distribution fixed
        trainer.budget = Budget(limit: 0, lambda: 1e-9)
        trainer.startSampling(logit: 30)
        if gatesOn == "half" {
            // Switch gates off in a random order, skipping any that would leave no input → output path.
            var pick = RNG(seed: 3), on = [Bool](repeating: true, count: network.gateCount), off = 0
            for k in Array(0..<network.gateCount).shuffled(using: &pick) where off < network.gateCount / 2 {
                on[k] = false
                if network.architecture(gates: on).isConsistent { off += 1 } else { on[k] = true }
            }
            for k in 0..<network.gateCount where !on[k] { network.gateLogits.value[k] = -30 }
        }
        let images = Tensor(shape: input.batch(config.batch))
        rng.fillUniform(images, -1, 1)
        let labels = (0..<config.batch).map { _ in Int32(rng.integer(below: 10)) }

        let train = try Timing.median(minimumRuns: 3, minimumSeconds: seconds) { try trainer.trainStep(images: images, labels: labels) }
        let modules = network.nodes.indices.filter { network.nodes[$0].role == .module }
        let used = trainer.lastArchitectures.map { a in Double(modules.filter { a.active.contains($0) }.count) / Double(max(modules.count, 1)) }
        let architectures = trainer.lastArchitectures
        let infer = try Timing.median(minimumRuns: 3, minimumSeconds: seconds) {
            _ = try trainer.executor.forward(images, architectures: architectures, training: false, inferenceOnly: true)
        }
        return Row(config: config.name, mode: mode.rawValue, gates_on: gatesOn,
                   train_images_per_s: Double(config.batch) / train, infer_images_per_s: Double(config.batch) / infer,
                   peak_rss_mb: Timing.peakResidentMiB(), active_modules: used.reduce(0, +) / Double(max(used.count, 1)))
    }

    /// The rows to run: every config in both modes dense, and the gated ones half on.
    public static func plan(configs: [Config]) -> [(Config, ExecutionMode, String)] {
        var rows = [(Config, ExecutionMode, String)]()
        for config in configs {
            for mode in ExecutionMode.allCases { rows.append((config, mode, "all")) }
            if case .cnf = config.fabric { for mode in ExecutionMode.allCases { rows.append((config, mode, "half")) } }
        }
        return rows
    }

    public static func table(_ rows: [Row], sgemm: Double) -> String {
        let lines = ["bsn bench train — \(Parallel.threads) threads, OpenBLAS core \(BLAS.coreName), conv \(ConvolutionChoices.forced?.rawValue ?? "measured per shape"), sgemm ceiling \(format(sgemm, 1)) GFLOP/s",
                     ""]
        var table = Table([.left("config", 14), .left("mode", 11), .left("gates on", 10), .left("modules", 9), .left("train img/s", 13),
                           .left("infer img/s", 13), .left("peak MB", 9)])
        for r in rows {
            table.add([r.config, r.mode, r.gates_on, format(100 * r.active_modules, 0) + "%",
                       format(r.train_images_per_s, 1), format(r.infer_images_per_s, 1), format(r.peak_rss_mb, 0)])
        }
        return (lines + table.lines).joined(separator: "\n")
    }
}
