import Foundation
import Interface
import Layers
import Tensor

/// `bsn bench conv`: conv forward and forward+backward throughput on the
/// shapes of a Convolutional Neural Fabric (C channels everywhere, 32x32 down
/// to 1x1), against the FMA peak and the sgemm ceiling measured in the same run.
public struct ConvBenchmark {
    public struct Configuration {
        public var channels = [32, 64, 128]
        public var sizes = [32, 16, 8, 4, 2, 1]
        public var batch = 64
        public var minimumSeconds = 0.3
        public var ceilingSizes = [1024, 2048, 4096]
        /// nil: each shape's measured choice (`ConvolutionChoices`), as training uses.
        public var algorithm: (any ConvolutionAlgorithm)?
        public var threads = ProcessInfo.processInfo.activeProcessorCount
        public init() {}

        /// A few seconds' run for tests and smoke checks.
        public static var quick: Configuration {
            var c = Configuration()
            c.channels = [16]
            c.sizes = [8, 2]
            c.batch = 8
            c.minimumSeconds = 0.01
            c.ceilingSizes = [256]
            return c
        }
    }

    /// One measured convolution. `size` is the output resolution; `kind` is
    /// "same" (3x3 stride 1), "down" (3x3 stride 2 from 2·size) or "up"
    /// (nearest 2x upsampling from size/2, then 3x3 stride 1).
    public struct Row: Codable {
        public let channels: Int, size: Int, stride: Int
        public let kind: String, op: String
        /// The algorithm that ran ("direct512"; forward/input gradient/weight gradient when the passes differ).
        public let algorithm: String
        public let ms: Double, gflops: Double
        /// GFLOP/s over the FMA peak (the hardware's) and over the sgemm ceiling (OpenBLAS's, with its kernels).
        public let ratio_to_peak: Double, ratio_to_sgemm: Double
    }

    public struct Report: Codable {
        public let fma_peak: FMAPeak
        public let sgemm_gflops: Double
        public let sgemm_by_size: [String: Double]
        public let blas_core: String
        public let blas_core_detected: String?
        public let threads: Int
        public let batch: Int
        /// The algorithm's name when forced, "measured" when each shape uses its measured choice.
        public let conv_algorithm: String
        public let rows: [Row]
    }

    public let configuration: Configuration
    public init(_ configuration: Configuration = .init()) { self.configuration = configuration }

    public func run(progress: (String) -> Void = { _ in }) throws -> Report {
        progress("measuring the sgemm ceiling (\(configuration.ceilingSizes.map { "\($0)³" }.joined(separator: ", ")))")
        let ceiling = SgemmCeiling.measure(sizes: configuration.ceilingSizes)
        progress("measuring the FMA peak")
        let peak = FMAPeak.measure(threads: configuration.threads)
        BLAS.threads = 1
        var rows = [Row]()
        var rng = RNG(seed: 3)
        let context = ExecutionContext(threads: configuration.threads)
        let n = configuration.batch
        for c in configuration.channels {
            for size in configuration.sizes {
                var cases: [(String, Int, Int)] = [("same", size, 1)]                // (kind, input size, stride)
                if size * 2 <= configuration.sizes.max()! { cases.append(("down", size * 2, 2)) }
                if size >= 2 { cases.append(("up", size / 2, 1)) }
                for (kind, inputSize, stride) in cases {
                    progress("C=\(c) \(kind) \(size)x\(size)")
                    let conv = Conv2d(c, c, kernel: 3, stride: stride, rng: &rng, context: context)
                    conv.algorithm = configuration.algorithm
                    let up = kind == "up" ? Upsample2x(context: context) : nil
                    let x = Tensor(shape: [n, inputSize, inputSize, c])
                    rng.fillUniform(x, -1, 1)
                    let convInput = try up?.forward(x, training: true) ?? x
                    let algorithm = conv.algorithmSummary(height: convInput.dim(1), width: convInput.dim(2))
                    let flops = 2 * Double(n) * Double(conv.multiplyAccumulates(height: convInput.dim(1), width: convInput.dim(2)))
                    let dy = Tensor(shape: [n, size, size, c])
                    rng.fillUniform(dy, -1, 1)
                    let forward = try Timing.median(minimumSeconds: configuration.minimumSeconds) {
                        _ = try conv.forward(try up?.forward(x, training: true) ?? x, training: true)
                    }
                    let both = try Timing.median(minimumSeconds: configuration.minimumSeconds) {
                        _ = try conv.forward(try up?.forward(x, training: true) ?? x, training: true)
                        let g = try conv.backward(dy)
                        if let up { _ = try up.backward(g) }
                    }
                    for (op, seconds, work) in [("forward", forward, flops), ("forward+backward", both, 3 * flops)] {
                        let gflops = work / seconds / 1e9
                        rows.append(Row(channels: c, size: size, stride: stride, kind: kind, op: op, algorithm: algorithm, ms: seconds * 1e3,
                                        gflops: gflops, ratio_to_peak: gflops / max(peak.gflops, 1e-9), ratio_to_sgemm: gflops / ceiling.gflops))
                    }
                }
            }
        }
        return Report(fma_peak: peak, sgemm_gflops: ceiling.gflops,
                      sgemm_by_size: Dictionary(uniqueKeysWithValues: ceiling.bySize.map { ("\($0.size)", $0.gflops) }),
                      blas_core: BLAS.coreName, blas_core_detected: BLAS.coreSwitchedFrom,
                      threads: context.threads, batch: n,
                      conv_algorithm: (configuration.algorithm ?? context.convolutions.forced)?.name ?? "measured", rows: rows)
    }
}

extension ConvBenchmark.Report {
    /// The human-readable table.
    public var table: String {
        var lines = [String]()
        let core = blas_core_detected.map { "\(blas_core) (selected by bsn; OpenBLAS detected \($0))" } ?? blas_core
        lines.append("bsn bench conv — batch \(batch), \(threads) threads, OpenBLAS core \(core)")
        lines.append("conv algorithm: \(ConvolutionAlgorithms.named(conv_algorithm)?.summary ?? "measured per shape (algo column)")")
        lines.append("\(fma_peak.description), measured in this run: the hardware's ceiling")
        lines.append("sgemm ceiling: \(Format.fixed(sgemm_gflops, 1)) GFLOP/s  (" +
                     sgemm_by_size.sorted { Int($0.key)! < Int($1.key)! }.map { "\($0.key)³ \(Format.fixed($0.value, 1))" }.joined(separator: ", ") + ")")
        lines.append("")
        var table = Table([.left("C", 5), .left("out", 7), .left("conv", 6), .left("algo", max(11, (rows.map(\.algorithm.count).max() ?? 0) + 2)), .left("op", 18), .left("ms", 10), .left("GFLOP/s", 9),
                           .left("of peak", 9), .left("of sgemm", 9)])
        for row in rows {
            table.add(["\(row.channels)", "\(row.size)x\(row.size)", row.kind, row.algorithm, row.op,
                       Format.fixed(row.ms, 3), Format.fixed(row.gflops, 1), Format.fixed(100 * row.ratio_to_peak, 0) + "%",
                       Format.fixed(100 * row.ratio_to_sgemm, 0) + "%"])
        }
        lines += table.lines
        lines.append("")
        for c in Set(rows.map(\.channels)).sorted() {
            for op in ["forward", "forward+backward"] {
                let selected = rows.filter { $0.channels == c && $0.op == op }
                let work = selected.reduce(0) { $0 + $1.gflops * $1.ms }, time = selected.reduce(0) { $0 + $1.ms }
                lines.append("C=\(c) all shapes, \(op): \(Format.fixed(work / time, 1)) GFLOP/s (\(Format.fixed(100 * work / time / max(fma_peak.gflops, 1e-9), 0))% of the FMA peak, \(Format.fixed(100 * work / time / sgemm_gflops, 0))% of sgemm)")
            }
        }
        return lines.joined(separator: "\n")
    }
}


extension ConvBenchmark.Configuration {
    /// The configuration `bench conv`'s options describe, checked once:
    /// `--algorithm` a name this CPU runs, `--channels` and `--sizes` positive
    /// whole numbers separated by commas, `--seconds` above 0.
    public init(quick: Bool, algorithm: String?, channels: String?, sizes: String?, seconds: Double?) throws {
        self = quick ? .quick : Self()
        if let algorithm {
            guard let chosen = ConvolutionAlgorithms.named(algorithm) else {
                throw UsageError("--algorithm takes one of \(ConvolutionAlgorithms.names.joined(separator: ", "))" + didYouMean(algorithm, in: ConvolutionAlgorithms.names))
            }
            guard chosen.isAvailable else { throw UsageError("this CPU cannot run \(chosen.summary)") }
            self.algorithm = chosen
        }
        if let channels { self.channels = try Self.positiveList(channels, "--channels") }
        if let sizes { self.sizes = try Self.positiveList(sizes, "--sizes") }
        if let seconds {
            guard seconds > 0 && seconds <= 3600 else { throw UsageError("--seconds takes a number of seconds above 0 (at most 3600), got \(seconds)") }
            minimumSeconds = seconds
        }
    }

    private static func positiveList(_ text: String, _ option: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { throw UsageError("\(option) takes positive whole numbers separated by commas, got '\(text)'") }
        return values.map { $0! }
    }
}
