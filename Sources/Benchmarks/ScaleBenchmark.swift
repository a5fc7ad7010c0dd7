import Foundation
import Interface
import Layers
import SuperNet
import Tensor

/// `bsn bench scale`: data-parallel training, 1 rank × 1 thread against N
/// ranks × 1 thread under mpirun (on this machine, or on N test hosts:
/// network namespaces joined by shaped links), with the gradients'
/// all-reduce overlapped with backward and fused after it; and a model of the
/// step on N machines, checked against those rows and extrapolated to a cluster.
public enum ScaleBenchmark {
    public struct Row: Codable, Sendable {
        public let config: String, ranks: Int, threads: Int, batch: Int
        public let images_per_s: Double, step_ms: Double
        /// One blocking all-reduce of every weight gradient (0 at one rank), and its bytes.
        public let allreduce_ms: Double, gradient_mb: Double
        /// Bytes per all-reduce bucket (0: one all-reduce after backward).
        public let bucket_bytes: Int
        /// The step's wait for its all-reduces after backward: the part backward did not hide.
        public let wait_ms: Double
        /// One rank: forward and backward of the whole batch, and when
        /// backward passed each node (from the last) with that node's gradient bytes.
        public let forward_ms: Double, backward_ms: Double
        public let backward_profile: [Passed]

        public init(config: String, ranks: Int, threads: Int, batch: Int, images_per_s: Double, step_ms: Double, allreduce_ms: Double, gradient_mb: Double,
                    bucket_bytes: Int, wait_ms: Double, forward_ms: Double, backward_ms: Double, backward_profile: [Passed]) {
            (self.config, self.ranks, self.threads, self.batch, self.images_per_s, self.step_ms) = (config, ranks, threads, batch, images_per_s, step_ms)
            (self.allreduce_ms, self.gradient_mb, self.bucket_bytes, self.wait_ms) = (allreduce_ms, gradient_mb, bucket_bytes, wait_ms)
            (self.forward_ms, self.backward_ms, self.backward_profile) = (forward_ms, backward_ms, backward_profile)
        }
    }

    /// Backward passed a node `ms` after it began; the node's weight gradients have `bytes`.
    public struct Passed: Codable, Sendable {
        public let ms: Double, bytes: Int
        public init(ms: Double, bytes: Int) { (self.ms, self.bytes) = (ms, bytes) }
    }

    /// Configurations of the efficiency target, and the one the cluster estimate is for.
    public static let measured = ["cnf_c32_b64", "resnet20_b64"]
    public static let estimated = "cnf_c128_b32"

    /// One row in this process (under mpirun: every rank; rank 0's result is
    /// returned, nil elsewhere). Every rank runs the same fixed number of steps:
    /// each step meets the others in its all-reduces.
    public static func measure(_ config: TrainBenchmark.Config, steps: Int, bucket: Int?, ranks: any Communicator) throws -> Row? {
        BLAS.threads = 1
        var rng = RNG(seed: 1)
        let input = FeatureShape(height: 32, width: 32, channels: 3)
        let context = ExecutionContext(threads: 1, communicator: ranks)        // data-parallel across the ranks
        let network = try config.fabric.build(input: input, classes: 10, rng: &rng, context: context)
        let trainer = Trainer(network: network, task: .classification, optimisedCost: FlopsCost(network), seed: 2, mode: .subBatch, context: context)
        trainer.pathLearningRate = 0
        trainer.allreduceBucket = bucket
        let rows = ranks.shard(of: config.batch)
        let images = Tensor(shape: input.batch(rows.count))
        var data = RNG(seed: 3 + UInt64(ranks.rank))
        data.fillUniform(images, -1, 1)
        let labels = (0..<rows.count).map { _ in Int32(data.integer(below: 10)) }
        var times = [Double](), waits = [Double](), forwards = [Double](), backwards = [Double]()
        for k in 0..<steps + 2 {
            let t0 = Timing.now()
            try trainer.trainStep(images: images, labels: labels)
            if k >= 2 {                                           // the first two allocate and choose algorithms
                times.append(Timing.now() - t0)
                waits.append(trainer.buckets.lastWait)
                forwards.append(trainer.lastPasses.forward)
                backwards.append(trainer.lastPasses.backward)
            }
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
        // When backward passed each node, stretched to the timed steps' backward (both in ms).
        let backward = 1000 * median(backwards)
        let profile = ranks.distributed ? nil : try backwardProfile(trainer, images: images)
        let timeline = profile.map { p in p.passed.map { Passed(ms: $0.ms * (backward / p.backward), bytes: $0.bytes) } } ?? []
        guard ranks.isLeader else { return nil }
        let step = median(times)
        return Row(config: config.name, ranks: ranks.count, threads: 1, batch: config.batch, images_per_s: Double(config.batch) / step,
                   step_ms: 1000 * step, allreduce_ms: reduce.isEmpty ? 0 : 1000 * median(reduce), gradient_mb: Double(weights * 4) / 1e6,
                   bucket_bytes: trainer.buckets.bucketCount == 0 ? 0 : trainer.buckets.bucketBytes, wait_ms: ranks.distributed ? 1000 * median(waits) : 0,
                   forward_ms: 1000 * median(forwards), backward_ms: backward, backward_profile: timeline)
    }

    /// When backward passed each node, on the batch with the last step's
    /// architectures (the median of 3 passes by backward time, in ms), and that backward's time.
    private static func backwardProfile(_ trainer: Trainer, images: Tensor) throws -> (backward: Double, passed: [Passed]) {
        let executor = trainer.executor
        let bytes = trainer.network.nodes.map { 4 * ($0.module?.parameters.reduce(0) { $0 + $1.count } ?? 0) }
        var passes = [(backward: Double, passed: [Passed])]()
        for _ in 0..<3 {
            let logits = try executor.forward(images, architectures: trainer.lastArchitectures, training: true)
            let gradient = Tensor(shape: logits.shape)
            gradient.fill(1 / Float(logits.count))
            let t1 = Timing.now()
            var passed = [Passed]()
            try executor.backward(gradient) { node in passed.append(Passed(ms: 1000 * (Timing.now() - t1), bytes: bytes[node])) }
            passes.append((1000 * (Timing.now() - t1), passed))
        }
        return passes.sorted { $0.backward < $1.backward }[1]
    }

    private static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    // MARK: The model of a step on N machines

    /// A link between machines: its speed and the latency of one message.
    public struct Link: Sendable {
        public let name: String, bitsPerSecond: Double, latencySeconds: Double
        public init(name: String, bitsPerSecond: Double, latencySeconds: Double) {
            (self.name, self.bitsPerSecond, self.latencySeconds) = (name, bitsPerSecond, latencySeconds)
        }
    }

    /// The step of `one` (a 1-rank row) on `machines` machines of 1 thread
    /// with a global batch of `batch` (nil: the row's): forward and backward
    /// scale with the images a machine has, the rest (loss, sampling, SGD
    /// update) does not shrink. Buckets of `bucket` bytes (nil: automatic)
    /// form as backward passes the nodes (`backward_profile`), each starting
    /// when complete and after the one before it: a ring all-reduce of
    /// 2·(N−1) messages, each of bytes/N, at the link's speed and latency. The
    /// step waits for the last. Bucket 0: one all-reduce after backward.
    public static func model(_ one: Row, machines n: Int, link: Link, bucket: Int?, batch: Int? = nil) -> (compute: Double, reduce: Double, exposed: Double, step: Double) {
        let share = Double(batch ?? one.batch) / Double(one.batch * n)
        let bucket = bucket ?? GradientBuckets.automaticBytes(gradientBytes: Int(one.gradient_mb * 1e6), ranks: n)
        let forward = one.forward_ms * share, backward = one.backward_ms * share
        let rest = max(0, one.step_ms - one.forward_ms - one.backward_ms)
        func transfer(_ bytes: Int) -> Double {
            n == 1 ? 0 : 2 * Double(n - 1) / Double(n) * Double(bytes) * 8 / link.bitsPerSecond * 1000 + 2 * Double(n - 1) * link.latencySeconds * 1000
        }
        var buckets = [(ready: Double, bytes: Int)](), filling = 0
        for p in one.backward_profile {
            filling += p.bytes
            if bucket > 0 && filling >= bucket { buckets.append((forward + p.ms * share, filling)); filling = 0 }
        }
        if filling > 0 || buckets.isEmpty { buckets.append((forward + backward, filling)) }
        var end = 0.0, total = 0.0
        for b in buckets {
            end = max(end, b.ready) + transfer(b.bytes)
            total += transfer(b.bytes)
        }
        let exposed = max(0, end - forward - backward)
        return (forward + backward + rest, total, exposed, forward + backward + exposed + rest)
    }

    // MARK: Table

    /// The measured rows with the model's efficiency beside each, then the
    /// model for `estimated` on a cluster of 1…32 machines, fused and overlapped.
    /// "auto (gradients × ranks / 32, 256k…25M)", "4M bytes".
    public static func describe(_ bucket: Int?) -> String {
        bucket.map { Format.quantity(Double($0), exact: true) + " bytes" } ?? "auto size (gradients × ranks / 32, 256k…25M bytes)"
    }

    /// Efficiency of a modelled step on N machines: the step of one machine
    /// with the same global batch, over N times this step.
    static func efficiency(_ one: Row, machines n: Int, step: Double, batch: Int) -> Double {
        model(one, machines: 1, link: Link(name: "", bitsPerSecond: 1, latencySeconds: 0), bucket: 0, batch: batch).step / (Double(n) * step)
    }

    public static func table(_ rows: [Row], hostsLink: Link?, cluster: Link, bucket: Int?, clusterBatch: Int? = nil) -> String {
        var table = Table([.left("config", 13), .right("ranks", 5), .right("link", 6), .right("bucket", 7), .right("img/s", 7), .right("step ms", 8),
                           .right("all-reduce ms", 14), .right("waited ms", 10), .right("hidden", 7), .right("speed-up", 9), .right("efficiency", 11),
                           .right("model", 6)])
        for r in rows where r.config != estimated {
            let one = rows.first { $0.config == r.config && $0.ranks == 1 }
            let speedup = one.map { r.images_per_s / $0.images_per_s }
            let onLink = r.ranks > 1 ? hostsLink : nil
            let modelled = one.flatMap { o in onLink.map { 100 * o.step_ms / (Double(r.ranks) * model(o, machines: r.ranks, link: $0, bucket: r.bucket_bytes).step) } }
            let hidden = r.allreduce_ms > 0 ? max(0, 1 - r.wait_ms / r.allreduce_ms) : 0
            table.add([r.config, String(r.ranks), r.ranks == 1 ? "-" : onLink?.name ?? "shm", r.ranks == 1 ? "-" : r.bucket_bytes == 0 ? "fused" : Format.quantity(Double(r.bucket_bytes), exact: true),
                       Format.fixed(r.images_per_s, 1), Format.fixed(r.step_ms, 1), r.ranks > 1 ? Format.fixed(r.allreduce_ms, 1) : "-",
                       r.ranks > 1 ? Format.fixed(r.wait_ms, 1) : "-", r.ranks > 1 ? Format.fixed(100 * hidden, 0) + "%" : "-",
                       speedup.map { Format.fixed($0, 2) + "x" } ?? "-", speedup.map { Format.fixed(100 * $0 / Double(r.ranks), 0) + "%" } ?? "-",
                       modelled.map { Format.fixed($0, 0) + "%" } ?? "-"])
        }
        var lines = table.lines
        lines += ["", "all-reduce ms: one blocking all-reduce of every gradient; waited ms: what the step waited for its all-reduces after backward",
                  "(median); hidden: the all-reduce's part under backward; model: the efficiency the model below predicts for the row."]
        guard let c = rows.first(where: { $0.config == estimated && $0.ranks == 1 }) else { return lines.joined(separator: "\n") }
        let batch = clusterBatch ?? c.batch
        lines += ["", "\(estimated) on a cluster of N machines like this one (one rank of 1 thread each, global batch \(batch)), \(cluster.name) links, "
                      + "\(Format.fixed(cluster.latencySeconds * 1e3, 2)) ms per message:",
                  "measured here: forward \(Format.fixed(c.forward_ms, 0)) ms, backward \(Format.fixed(c.backward_ms, 0)) ms, the rest of the step "
                      + "\(Format.fixed(max(0, c.step_ms - c.forward_ms - c.backward_ms), 0)) ms; \(Format.fixed(c.gradient_mb, 1)) MB of gradients per step.",
                  "Model: forward and backward scale with the images a machine has (the global batch / N), the rest does not; ring all-reduce",
                  "2·(N−1)/N · bytes / speed + 2·(N−1) · latency,",
                  "fused after backward, or overlapped: buckets of \(describe(bucket)),", "each started when backward has finished it."]
        var estimate = Table([.right("machines", 9), .right("compute ms", 11), .right("all-reduce ms", 14), .right("fused step", 11), .right("efficiency", 11),
                              .right("overlapped step", 16), .right("waited ms", 10), .right("efficiency", 11)])
        for n in [1, 2, 4, 8, 16, 32] {
            let fused = model(c, machines: n, link: cluster, bucket: 0, batch: batch), overlapped = model(c, machines: n, link: cluster, bucket: bucket, batch: batch)
            func efficiency(_ step: Double) -> String { Format.fixed(100 * Self.efficiency(c, machines: n, step: step, batch: batch), 0) + "%" }
            estimate.add([String(n), Format.fixed(fused.compute, 0), Format.fixed(fused.reduce, 0), Format.fixed(fused.step, 0), efficiency(fused.step),
                          Format.fixed(overlapped.step, 0), Format.fixed(overlapped.exposed, 0), efficiency(overlapped.step)])
        }
        lines += estimate.lines
        return lines.joined(separator: "\n")
    }

    /// "10Gb", "1Gb", "100Mb", "25G" (bits per second).
    public static func parseLink(_ text: String) -> Double? {
        var t = text.lowercased()
        if t.hasSuffix("bps") { t.removeLast(3) } else if t.hasSuffix("bit") { t.removeLast(3) } else if t.hasSuffix("b") { t.removeLast() }
        return parseNumber(t.uppercased().replacingOccurrences(of: "K", with: "k")).flatMap { $0 > 0 ? $0 : nil }
    }
}
