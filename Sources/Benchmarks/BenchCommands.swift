import Foundation
import Interface
import Layers
import SuperNet
import Tensor

/// The benchmarks as the shell runs them (`bsn bench …`, `bsn info`): each
/// returns what to print, the report as one JSON line or its table, and
/// says its steps on stderr unless the output is JSON. Rows that need a
/// process of their own (peak memory, mpirun) run through `RowRunner`.
public enum BenchCommands {
    private static func step(_ text: String, quiet: Bool) {
        if !quiet { StandardStreams.error("  \(text)…\n") }
    }

    /// `bsn bench conv`.
    public static func conv(_ configuration: ConvBenchmark.Configuration, json: Bool) throws -> String {
        let report = try ConvBenchmark(configuration).run { step($0, quiet: json) }
        return json ? JSONLine.encode(report) : report.table
    }

    /// `bsn bench train`: the sgemm ceiling and the FMA peak, then every row of the plan in a child process of its own.
    public static func train(only: String?, seconds: Double, json: Bool, executable: URL) throws -> String {
        let ceiling = SgemmCeiling.measure(), peak = FMAPeak.measure()
        let configs = TrainBenchmark.configs.filter { only == nil || $0.name == only }
        var rows = [TrainBenchmark.Row]()
        for (config, mode, gates) in TrainBenchmark.plan(configs: configs) {
            let what = "\(config.name) \(mode.rawValue) gates \(gates)"
            step(what, quiet: json)
            rows.append(try RowRunner.run(executable, ["bench", "train", "--row", [config.name, mode.rawValue, gates].joined(separator: ","), "--seconds", "\(seconds)"],
                                          what: what, as: TrainBenchmark.Row.self))
        }
        struct Report: Codable { let cpu: String; let fma_peak: FMAPeak; let sgemm_gflops: Double; let blas_core: String; let threads: Int; let rows: [TrainBenchmark.Row] }
        let threads = ProcessInfo.processInfo.activeProcessorCount
        return json ? JSONLine.encode(Report(cpu: ConvolutionChoices.cpu, fma_peak: peak, sgemm_gflops: ceiling.gflops, blas_core: BLAS.coreName, threads: threads, rows: rows))
                    : TrainBenchmark.table(rows, sgemm: ceiling.gflops, peak: peak, threads: threads)
    }

    /// One row of `bench train` ("config,mode,gates"), in this process: its JSON line.
    public static func trainRow(_ spec: String, seconds: Double) throws -> String {
        let parts = spec.split(separator: ",").map(String.init)
        guard parts.count == 3, let config = TrainBenchmark.configs.first(where: { $0.name == parts[0] }),
              let mode = ExecutionMode(rawValue: parts[1]) else { throw ShellFailure("bsn bench train: bad row \(spec)") }
        return JSONLine.encode(try TrainBenchmark.measure(config, mode: mode, gatesOn: parts[2], seconds: seconds))
    }

    /// `bsn bench data`.
    public static func data(quick: Bool, json: Bool) throws -> String {
        let ceiling = SgemmCeiling.measure(), peak = FMAPeak.measure()
        let report = try DataBenchmark(quick: quick).run { step($0, quiet: json) }
        struct Output: Codable { let cpu: String; let fma_peak: FMAPeak; let sgemm_gflops: Double; let threads: Int; let report: DataBenchmark.Report }
        let threads = ProcessInfo.processInfo.activeProcessorCount, cpu = ConvolutionChoices.cpu
        return json ? JSONLine.encode(Output(cpu: cpu, fma_peak: peak, sgemm_gflops: ceiling.gflops, threads: threads, report: report))
                    : DataBenchmark.table(report) + String(format: "\nCPU: %@; %d threads; sgemm ceiling %.1f GFLOP/s, %@ (same run)", cpu, threads, ceiling.gflops, peak.description)
    }

    /// What `bench scale` measures and models.
    public struct ScaleRequest: Sendable {
        public var ranks = 2, steps = 10
        /// Test hosts to run the N-rank rows on (`scripts/test-hosts.sh up N`), or nil: this machine's shared memory.
        public var hosts: Int?
        /// The hosts' link speed (and the model's beside the rows), the cluster model's, and the latency of one message.
        public var link = "10Gb", clusterLink: String?, latencyMs = 0.1
        /// Bytes per all-reduce bucket of the overlapped rows and the model (nil: automatic).
        public var bucket: Int?
        /// The cluster model's global batch (nil: the configuration's).
        public var clusterBatch: Int?
        public var json = false
        public init() {}

        /// The request `bench scale`'s options describe, checked once.
        public init(ranks: Int, hosts: Int?, link: String, clusterLink: String?, latency: String, bucket: String, clusterBatch: Int?,
                    steps: Int, json: Bool) throws {
            guard (2...64).contains(ranks) else { throw UsageError("--ranks takes a whole number in 2…64") }
            if let hosts, !(2...16).contains(hosts) { throw UsageError("--hosts takes a whole number in 2…16") }
            guard (1...1000).contains(steps) else { throw UsageError("--steps takes a whole number in 1…1000") }
            guard let ms = parseMilliseconds(latency), ms >= 0, ms < 1000 else { throw UsageError("--latency takes a duration like 0.1ms or 50us, got '\(latency)'") }
            if let clusterBatch, !(1...1_000_000).contains(clusterBatch) { throw UsageError("--cluster-batch takes a whole number in 1…1000000") }
            (self.ranks, self.hosts, self.link, self.clusterLink, self.latencyMs, self.clusterBatch, self.steps, self.json)
                = (ranks, hosts, link, clusterLink, ms, clusterBatch, steps, json)
            self.bucket = try Self.bucket(bucket)
        }

        /// `--bucket`: bytes per all-reduce bucket as `set allreduce-bucket` takes them (4k…4G), auto (nil), or off or 0 (one all-reduce).
        public static func bucket(_ word: String) throws -> Int? {
            if word == "auto" { return nil }
            if word == "off" || word == "0" { return 0 }
            guard let bytes = parseWhole(word), GradientBuckets.chosenBytes.contains(bytes) else {
                throw UsageError("--bucket takes a size in bytes from 4k to 4G (1M, 25M), auto, or off (0) for one all-reduce, got '\(word)'")
            }
            return bytes
        }
    }

    /// `bsn bench scale`: each configuration on 1 rank, then on N ranks under
    /// mpirun (overlapped, then fused), then the cluster model's row.
    public static func scale(_ request: ScaleRequest, executable: URL) throws -> String {
        let json = request.json
        func link(_ text: String) throws -> ScaleBenchmark.Link {
            guard let bits = ScaleBenchmark.parseLink(text) else { throw ShellFailure("bsn bench scale: a link takes a speed like 10Gb, 25Gb or 100Mb, got '\(text)'") }
            return ScaleBenchmark.Link(name: text, bitsPerSecond: bits, latencySeconds: request.latencyMs / 1000)
        }
        let hostsLink = try link(request.link), cluster = try link(request.clusterLink ?? request.link)
        let launcher = try request.hosts.map { try TestHosts(count: $0, link: hostsLink) }
        let ranks = request.hosts ?? request.ranks
        guard let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ShellFailure("bsn bench scale: needs Open MPI's mpirun (Debian: apt-get install openmpi-bin libopenmpi-dev)")
        }
        let ceiling = SgemmCeiling.measure(threads: 1), peak = FMAPeak.measure(threads: 1)
        let me = executable.path, root = getuid() == 0 ? ["--allow-run-as-root"] : []
        var rows = [ScaleBenchmark.Row]()
        func run(_ program: String, _ arguments: [String], _ what: String) throws {
            step(what, quiet: json)
            rows.append(try RowRunner.run(URL(fileURLWithPath: program), arguments, what: what, as: ScaleBenchmark.Row.self))
        }
        func row(_ name: String, steps: Int, bucket: Int?) -> [String] {
            [me, "bench", "scale", "--row", name, "--steps", "\(steps)", "--bucket", bucket.map(String.init) ?? "auto"]
        }
        let place = launcher.map { "\($0.count) test hosts, \(request.link) links" } ?? "this machine"
        for name in ScaleBenchmark.measured {
            try run(me, Array(row(name, steps: request.steps, bucket: 0).dropFirst()), "\(name), 1 rank")
            for bucket in [request.bucket, 0] {
                let what = "\(name), \(ranks) ranks on \(place), " + (bucket == 0 ? "fused all-reduce" : "buckets of " + ScaleBenchmark.describe(bucket))
                if let launcher { try run(launcher.script, ["mpirun", "\(ranks)"] + row(name, steps: request.steps, bucket: bucket), what) }
                else { try run(mpirun, root + ["--oversubscribe", "-np", "\(ranks)"] + row(name, steps: request.steps, bucket: bucket), what) }
            }
        }
        try run(me, Array(row(ScaleBenchmark.estimated, steps: 3, bucket: 0).dropFirst()), "\(ScaleBenchmark.estimated), 1 rank (for the cluster model)")
        struct Report: Codable {
            let cpu: String, sgemm_gflops_1_thread: Double, fma_peak_1_thread: FMAPeak, cores: Int
            let hosts: String?, link_bits_per_s: Double, cluster_link_bits_per_s: Double, latency_ms: Double, bucket_bytes: Int?, cluster_batch: Int?
            let rows: [ScaleBenchmark.Row]
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        if json {
            return JSONLine.encode(Report(cpu: ConvolutionChoices.cpu, sgemm_gflops_1_thread: ceiling.gflops, fma_peak_1_thread: peak, cores: cores,
                                          hosts: launcher?.description, link_bits_per_s: hostsLink.bitsPerSecond, cluster_link_bits_per_s: cluster.bitsPerSecond,
                                          latency_ms: request.latencyMs, bucket_bytes: request.bucket, cluster_batch: request.clusterBatch, rows: rows))
        }
        return "bsn bench scale — \(ConvolutionChoices.cpu), \(cores) cores, 1 thread per rank, sgemm ceiling of 1 thread \(Format.fixed(ceiling.gflops, 1)) GFLOP/s, "
            + "\(peak.description) (same run)\n" + (launcher.map { "ranks on \($0.description)\n" } ?? "") + "\n"
            + ScaleBenchmark.table(rows, hostsLink: launcher == nil ? nil : hostsLink, cluster: cluster, bucket: request.bucket, clusterBatch: request.clusterBatch)
    }

    /// One row of `bench scale`, in this process (under mpirun: every rank): its JSON line on rank 0, nil elsewhere.
    public static func scaleRow(_ name: String, steps: Int, bucket: Int?, ranks: any Communicator) throws -> String? {
        guard let config = TrainBenchmark.configs.first(where: { $0.name == name }) else { throw ShellFailure("bsn bench scale: no configuration \(name)") }
        return try ScaleBenchmark.measure(config, steps: steps, bucket: bucket, ranks: ranks).map(JSONLine.encode)
    }

    /// `bsn info`: version, OpenBLAS core, the registered convolution algorithms and their cache, threads, the FMA peak (measured now).
    public static func info(threads: Int) -> String {
        [
            "bsn 0.1",
            "OpenBLAS core: \(BLAS.coreName)" + (BLAS.coreSwitchedFrom.map { " (selected by bsn; OpenBLAS detected \($0))" } ?? ""),
            "conv algorithms: " + ConvolutionAlgorithms.available.map(\.summary).joined(separator: "; "),
            "conv choice: " + (ConvolutionChoices.forcedByEnvironment.map { "forced by BSN_CONV_ALGORITHM: \($0.name)" } ?? "measured per shape and pass"),
            "conv cache: \(ConvolutionChoices().summary)",
            "CPU: \(ConvolutionChoices.cpu)",
            "threads: \(threads)",
            "\(FMAPeak.measure(threads: threads).description), measured now",
        ].joined(separator: "\n")
    }
}

/// Runs one benchmark row in a child process (of this binary, or mpirun
/// starting it): its peak memory is its own. The row is the last line of
/// its standard output that is a JSON object.
public enum RowRunner {
    public static func run<Row: Decodable>(_ executable: URL, _ arguments: [String], what: String, as: Row.Type) throws -> Row {
        let (status, output) = try self.output(executable, arguments)
        guard status == 0,
              let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let row = try? JSONDecoder().decode(Row.self, from: Data(line.utf8)) else {
            throw ShellFailure("the row \(what) failed")
        }
        return row
    }

    /// Runs a program to its end: its status and standard output (its errors go to ours, or nowhere).
    static func output(_ executable: URL, _ arguments: [String], quiet: Bool = false) throws -> (status: Int32, stdout: String) {
        let process = Process(), pipe = Pipe()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = pipe
        if quiet { process.standardError = FileHandle.nullDevice }
        do { try process.run() } catch { throw ShellFailure("cannot start \(executable.path): \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
