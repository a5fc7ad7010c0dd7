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
        /// The memory check's estimate for training this configuration (MB), and the peak measured above what the process held before building it.
        public let estimated_mb: Double, measured_mb: Double
        /// Mean fraction of the modules the sampled architectures used.
        public let active_modules: Double
        /// The pruned architecture's multiply-accumulates as a fraction of the full network's.
        public let flops_fraction: Double
    }

    /// The rows' architectures: every gate on, or gates switched off until
    /// the pruned architecture keeps about this fraction of the full flops.
    public static let flopsTargets: [(name: String, fraction: Double)] = [("flops50", 0.5), ("flops25", 0.25)]

    /// Runs one row in this process. `gatesOn` is "all" (every gate on) or
    /// the name of a flops target ("flops50": gates switched off, p ≈ 0, in
    /// a random order, skipping any that would leave no input → output path
    /// or drop the pruned flops below the target, until they reach it).
    public static func measure(_ config: Config, mode: ExecutionMode, gatesOn: String, seconds: Double,
                               threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> Row {
        BLAS.threads = 1
        var rng = RNG(seed: 1)
        let input = FeatureShape(height: 32, width: 32, channels: 3)
        let context = ExecutionContext(threads: threads)
        let before = Memory.resident()
        Memory.resetPeak()
        let network = try config.fabric.build(input: input, classes: 10, rng: &rng, context: context)
        let trainer = Trainer(network: network, task: .classification, optimisedCost: FlopsCost(network), seed: 2, mode: mode, context: context)
        trainer.pathLearningRate = 0                         // keep the distribution fixed
        trainer.budget = Budget(limit: 0, lambda: 1e-9)
        trainer.startSampling(logit: 30)
        let flops = FlopsCost(network), full = flops.cost(of: network.fullArchitecture)
        if let target = flopsTargets.first(where: { $0.name == gatesOn })?.fraction {
            var pick = RNG(seed: 3), on = [Bool](repeating: true, count: network.gateCount)
            var kept = full
            for k in Array(0..<network.gateCount).shuffled(using: &pick) where kept > target * full {
                on[k] = false
                let architecture = network.architecture(gates: on), cost = flops.cost(of: architecture)
                if architecture.isConsistent && cost >= 0.9 * target * full { kept = cost } else { on[k] = true }
            }
            for k in 0..<network.gateCount where !on[k] { network.gateLogits.value[k] = -30 }
        }
        let images = Tensor(shape: input.batch(config.batch))
        rng.fillUniform(images, -1, 1)
        let labels = (0..<config.batch).map { _ in Int32(rng.integer(below: 10)) }

        let train = try Timing.median(minimumRuns: 3, minimumSeconds: seconds) { try trainer.trainStep(images: images, labels: labels) }
        // Measured after training, before inference: what the memory check estimates.
        let measured = (Memory.peakResident() - before) / 1_048_576
        let estimated = try config.fabric.size(input: input, classes: 10).trainingBytes(batch: config.batch, input: input, threads: threads) / 1_048_576
        let modules = network.nodes.indices.filter { network.nodes[$0].role == .module }
        let used = trainer.lastArchitectures.map { a in Double(modules.filter { a.active.contains($0) }.count) / Double(max(modules.count, 1)) }
        let architectures = trainer.lastArchitectures
        let infer = try Timing.median(minimumRuns: 3, minimumSeconds: seconds) {
            _ = try trainer.executor.forward(images, architectures: architectures, training: false, inferenceOnly: true)
        }
        return Row(config: config.name, mode: mode.rawValue, gates_on: gatesOn,
                   train_images_per_s: Double(config.batch) / train, infer_images_per_s: Double(config.batch) / infer,
                   peak_rss_mb: Timing.peakResidentMiB(), estimated_mb: estimated, measured_mb: measured, active_modules: used.reduce(0, +) / Double(max(used.count, 1)),
                   flops_fraction: architectures.map { flops.cost(of: $0) }.reduce(0, +) / Double(max(architectures.count, 1)) / full)
    }

    /// The rows to run: every config in both modes dense, and the gated ones half on.
    public static func plan(configs: [Config]) -> [(Config, ExecutionMode, String)] {
        var rows = [(Config, ExecutionMode, String)]()
        for config in configs {
            for mode in ExecutionMode.allCases { rows.append((config, mode, "all")) }
            if case .cnf = config.fabric {
                for target in flopsTargets { for mode in ExecutionMode.allCases { rows.append((config, mode, target.name)) } }
            }
        }
        return rows
    }

    public static func table(_ rows: [Row], sgemm: Double, peak: FMAPeak, threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> String {
        let lines = ["bsn bench train — \(threads) threads, OpenBLAS core \(BLAS.coreName), conv \(ConvolutionChoices.forcedByEnvironment?.name ?? "measured per shape"), sgemm ceiling \(Format.fixed(sgemm, 1)) GFLOP/s, \(peak.description)",
                     "CPU: \(ConvolutionChoices.cpu)", ""]
        var table = Table([.left("config", 14), .left("mode", 11), .left("gates on", 10), .left("modules", 9), .left("flops", 7),
                           .left("train img/s", 13), .left("infer img/s", 13), .left("peak MB", 9), .left("train MB est./meas.", 20), .left("speed-up train/infer (ideal)", 28)])
        for r in rows {
            // A pruned row against the dense row of the same config and mode: measured and ideal (full / kept flops).
            let dense = rows.first { $0.config == r.config && $0.mode == r.mode && $0.gates_on == "all" }
            let speedup = r.gates_on == "all" ? "" : dense.map {
                Format.fixed(r.train_images_per_s / $0.train_images_per_s, 2) + "x / " + Format.fixed(r.infer_images_per_s / $0.infer_images_per_s, 2)
                    + "x (" + Format.fixed(1 / max(r.flops_fraction, 1e-9), 2) + "x)"
            } ?? ""
            table.add([r.config, r.mode, r.gates_on, Format.fixed(100 * r.active_modules, 0) + "%", Format.fixed(100 * r.flops_fraction, 0) + "%",
                       Format.fixed(r.train_images_per_s, 1), Format.fixed(r.infer_images_per_s, 1), Format.fixed(r.peak_rss_mb, 0),
                       Format.fixed(r.estimated_mb, 0) + " / " + Format.fixed(r.measured_mb, 0) + String(format: " (%+.0f%%)", 100 * (r.measured_mb / max(r.estimated_mb, 1e-9) - 1)),
                       speedup])
        }
        return (lines + table.lines).joined(separator: "\n")
    }
}
