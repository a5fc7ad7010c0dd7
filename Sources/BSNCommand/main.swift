import ArgumentParser
import Benchmarks
import Foundation
import Fuzz
import Interface
import Layers
import MPISupport
import Notebook
import Session
import Tensor

// The executable: the shell's command line, declared with swift-argument-parser
// (help, validation and completion scripts come from these declarations); each
// command calls one function of a module. The notebook's own commands are the
// Notebook module's registry.

/// A closed pipe is an error of a write (EPIPE), not the death of the process:
/// the notebook then stops its work, saves and leaves (StandardStreams).
StandardStreams.ignoreBrokenPipes()

/// Under mpirun MPI starts before anything else (a plain bsn never starts it) and ends at exit.
let ranks = Ranks.start()
atexit { Ranks.finish() }

/// This binary, for the processes it starts (sweep workers, benchmark rows).
let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()

/// Ends the process with `status`. Under mpirun a failing rank ends every
/// rank (MPI_Abort): the others may be waiting for it in a collective call.
func leave(_ status: Int32) -> Never {
    if status != 0 && ranks.distributed { Ranks.abort(status) }
    exit(status)
}

/// Runs a command's function: its errors are said on stderr after the
/// command's name, exit status 1 (2 for a `ShellFailure`, as for the shell's parse errors).
func perform(_ what: String, _ body: () throws -> Int32) -> Never {
    do { leave(try body()) } catch let failure as ShellFailure {
        let text = "\(failure)"
        StandardStreams.error((text.hasPrefix("bsn") ? "" : what + ": ") + text + "\n")
        leave(2)
    } catch {
        StandardStreams.error("\(what): \(error)\n")
        leave(1)
    }
}

/// Prints a command's output (a report's table or JSON line) and succeeds.
func say(_ text: String) -> Int32 {
    print(text)
    return 0
}

struct BSN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bsn",
        abstract: "Budgeted Super Networks: find neural network architectures that are accurate and cheap.",
        discussion: "Without a command, the notebook: a REPL on a terminal, a script read from standard input otherwise. Its commands are listed by `help` inside it; docs/user-guide.md describes them all.",
        subcommands: [NotebookCommand.self, Run.self, Bench.self, Infer.self, ExportONNX.self, Info.self, FuzzCommand.self, SweepWorkerCommand.self,
                      KernelServerCommand.self, SweepChildCommand.self],
        defaultSubcommand: NotebookCommand.self)
}

struct NotebookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "notebook", abstract: "The notebook (the default): a REPL on a terminal; reads a script from stdin otherwise.")
    @Option(help: "Open (or create) this saved session.") var session: String?
    func run() { perform("bsn") { try Shell.notebook(session: session, ranks: ranks, worker: executable) } }
}

struct KernelServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel-server",
        abstract: "The notebook over a line-framed JSON protocol on stdin/stdout, for the Jupyter kernel (jupyter/bsn_kernel; docs/architecture.md).")
    @Option(help: "Open (or create) this saved session.") var session: String?
    func run() { perform("bsn kernel-server") { try KernelServer.run(session: session, ranks: ranks, worker: executable) } }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a script of notebook commands.")
    @Argument(help: "The script (FILE.bsn; - reads standard input).") var file: String
    @Flag(help: "Print each command before its output.") var echo = false
    @Flag(help: "Go on after a command fails.") var keepGoing = false
    @Option(help: "Continue (or create) this saved session instead of a fresh one named after the script.") var session: String?
    @Option(name: .customLong("set"), help: ArgumentHelp("$NAME in the script is VALUE (repeatable).", valueName: "NAME=VALUE"))
    var assignments: [String] = []

    func validate() throws {
        for pair in assignments where !(pair.firstIndex(of: "=").map { $0 != pair.startIndex } ?? false) {
            throw ValidationError("--set takes NAME=VALUE (e.g. --set data=$HOME/cifar-10-batches-bin), got '\(pair)'")
        }
    }

    func run() {
        let variables = Dictionary(assignments.map { pair in
            let eq = pair.firstIndex(of: "=")!
            return (String(pair[..<eq]), String(pair[pair.index(after: eq)...]))
        }) { _, last in last }
        perform("bsn run") {
            try Shell.run(file, session: session, variables: variables, options: .init(echo: echo, keepGoing: keepGoing), ranks: ranks, worker: executable)
        }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks, each printed with its configuration and the sgemm ceiling measured in the same run.",
        subcommands: [Conv.self, Train.self, Scale.self, DataPipeline.self])

    struct Conv: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Convolution throughput on CNF shapes against the sgemm ceiling.")
        @Flag(help: "One JSON object instead of the table.") var json = false
        @Flag(help: "A few seconds' run (C=16, 8x8 and 2x2, batch 8).") var quick = false
        @Option(help: ArgumentHelp("The algorithm of every pass (default: each shape's measured choice).",
                                   valueName: ConvolutionAlgorithms.names.joined(separator: "|"))) var algorithm: String?
        @Option(help: "Channel counts, comma-separated (default 32,64,128).") var channels: String?
        @Option(help: "Output sizes, comma-separated (default 32,16,8,4,2,1).") var sizes: String?
        @Option(help: "Seconds each row is timed for, at least (default 0.3; longer gives steadier medians).") var seconds: Double?

        func validate() throws {
            if let seconds, !(seconds > 0 && seconds <= 3600) { throw ValidationError("--seconds takes a number of seconds above 0 (at most 3600), got \(seconds)") }
            if let algorithm, ConvolutionAlgorithms.named(algorithm) == nil {
                throw ValidationError("--algorithm takes one of \(ConvolutionAlgorithms.names.joined(separator: ", "))" + didYouMean(algorithm, in: ConvolutionAlgorithms.names))
            }
            _ = try list(channels, "--channels")
            _ = try list(sizes, "--sizes")
        }

        private func list(_ text: String?, _ name: String) throws -> [Int]? {
            guard let text else { return nil }
            let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { throw ValidationError("\(name) takes positive whole numbers separated by commas, got '\(text)'") }
            return values.map { $0! }
        }

        func run() throws {
            var configuration = quick ? ConvBenchmark.Configuration.quick : ConvBenchmark.Configuration()
            if let name = algorithm, let chosen = ConvolutionAlgorithms.named(name) {
                guard chosen.isAvailable else { throw ValidationError("this CPU cannot run \(chosen.summary)") }
                configuration.algorithm = chosen
            }
            if let channels = try list(channels, "--channels") { configuration.channels = channels }
            if let sizes = try list(sizes, "--sizes") { configuration.sizes = sizes }
            if let seconds { configuration.minimumSeconds = seconds }
            perform("bsn bench conv") { say(try BenchCommands.conv(configuration, json: json)) }
        }
    }

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Training and inference images/s and peak memory of the CNF (C=32, 64, 128) and ResNet-20 configurations.")
        @Flag(help: "One JSON object instead of the table.") var json = false
        @Option(help: ArgumentHelp("One configuration.", valueName: TrainBenchmark.configs.map(\.name).joined(separator: "|"))) var config: String?
        @Option(help: "Seconds each row is timed for.") var seconds = 2.0
        @Option(help: .hidden) var row: String?

        func validate() throws {
            guard seconds > 0 else { throw ValidationError("--seconds takes a positive number") }
            let names = TrainBenchmark.configs.map(\.name)
            if let config, !names.contains(config) { throw ValidationError("--config takes one of \(names.joined(separator: ", "))" + didYouMean(config, in: names)) }
        }

        func run() {
            if let row { perform("bsn bench train") { say(try BenchCommands.trainRow(row, seconds: seconds)) } }
            perform("bsn bench train") { say(try BenchCommands.train(only: config, seconds: seconds, json: json, executable: executable)) }
        }
    }

    struct Scale: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Data-parallel training: 1 rank x 1 thread against N ranks x 1 thread under mpirun, the gradients' all-reduce overlapped with backward and fused after it, and a model of the step on a cluster.",
            discussion: "With --hosts N the N-rank rows run on test hosts made by `sudo scripts/test-hosts.sh up N 1gbit 0.1ms` (network namespaces joined by links of that speed), one rank each; otherwise on this machine (shared memory).")
        @Flag(help: "One JSON object instead of the table.") var json = false
        @Option(help: "Ranks under mpirun on this machine (2…64).") var ranks = 2
        @Option(help: "Run the N-rank rows on N test hosts (2…16).") var hosts: Int?
        @Option(help: "Link speed: of the test hosts (checked), and of the model beside the rows (10Gb, 1Gb, 100Mb…).") var link = "10Gb"
        @Option(help: "Link speed of the cluster model (default: --link).") var clusterLink: String?
        @Option(help: "Latency of one message in the model (0.1ms, 50us…).") var latency = "0.1ms"
        @Option(help: "Bytes per all-reduce bucket of the overlapped rows and the model (1M, 25M…; auto: gradients × ranks / 32, 256k…25M).") var bucket = "auto"
        @Option(help: "Global batch of the cluster model (default: the configuration's, 32).") var clusterBatch: Int?
        @Option(help: "Training steps timed per row (1…1000).") var steps = 10
        @Option(help: .hidden) var row: String?

        /// The bucket: bytes, 0 (fused) or nil (auto); a bad word is nil too (`validate` refuses it first).
        private var bucketBytes: Int? { bucket == "auto" ? nil : parseWhole(bucket) }

        func validate() throws {
            guard (2...64).contains(ranks) else { throw ValidationError("--ranks takes a whole number in 2…64") }
            if let hosts, !(2...16).contains(hosts) { throw ValidationError("--hosts takes a whole number in 2…16") }
            guard (1...1000).contains(steps) else { throw ValidationError("--steps takes a whole number in 1…1000") }
            guard let ms = parseMilliseconds(latency), ms >= 0, ms < 1000 else { throw ValidationError("--latency takes a duration like 0.1ms or 50us, got '\(latency)'") }
            guard bucket == "auto" || bucketBytes.map({ (try? Settings.Declared.allreduceBucket.checked($0)) != nil }) == true else {
                throw ValidationError("--bucket takes a size in bytes from 4k to 4G (1M, 25M), auto, or 0 for one all-reduce, got '\(bucket)'")
            }
            if let clusterBatch, !(1...1_000_000).contains(clusterBatch) { throw ValidationError("--cluster-batch takes a whole number in 1…1000000") }
        }

        func run() {
            if let row { perform("bsn bench scale") { try BenchCommands.scaleRow(row, steps: steps, bucket: bucketBytes, ranks: BSNCommand.ranks).map(say) ?? 0 } }
            var request = BenchCommands.ScaleRequest()
            (request.ranks, request.hosts, request.link, request.clusterLink, request.steps, request.json) = (ranks, hosts, link, clusterLink, steps, json)
            request.latencyMs = parseMilliseconds(latency) ?? 0.1
            (request.bucket, request.clusterBatch) = (bucketBytes, clusterBatch)
            perform("bsn bench scale") { say(try BenchCommands.scale(request, executable: executable)) }
        }
    }

    struct DataPipeline: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "data", abstract: "Input pipeline images/s (CIFAR- and Part-Labels-sized data generated on the fly), without and with prefetch.")
        @Flag(help: "One JSON object instead of the table.") var json = false
        @Flag(help: "A few seconds' run.") var quick = false
        func run() { perform("bsn bench data") { say(try BenchCommands.data(quick: quick, json: json)) } }
    }
}

extension ImageFit: ExpressibleByArgument {}

struct Infer: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a model written by `export model` on PNG or JPEG images.")
    @Argument(help: "The model file.") var model: String
    @Argument(help: "The images.") var images: [String]
    @Flag(help: "One JSON object instead of the table.") var json = false
    @Option(help: "How an image of another size is brought to the model's: crop (the shorter side, then the centre) or stretch.") var fit = ImageFit.crop

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("needs a model file and at least one image (bsn infer found.bsnmodel cat.png)") }
    }

    func run() {
        perform("bsn infer") {
            let report = try ExportedModel(file: model).infer(images, fit: fit)
            return say(json ? report.json : report.text)
        }
    }
}

struct ExportONNX: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export-onnx", abstract: "Write a model file (export model) as ONNX (opset 17).")
    @Argument(help: "The model file.") var model: String
    @Argument(help: "The ONNX file to write.") var output: String
    func run() { perform("bsn export-onnx") { say(try ExportedModel(file: model).exportONNX(to: output).text) } }
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Version, OpenBLAS core, convolution algorithms and their cache, threads.")
    func run() { perform("bsn info") { say(BenchCommands.info(threads: Settings().threads)) } }
}

struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fuzz", abstract: "A developer's tool: random scripts and mutated files run through this binary (docs/architecture.md).",
                                                    shouldDisplay: false)
    @Option(help: "Command scripts' lines.") var cases: Int?
    @Option(help: "Mutated files.") var files: Int?
    @Option(help: "Special files (default files/10, at least 40).") var special: Int?
    @Option(help: "Shared-folder rounds (default files/40, at least 10).") var shared: Int?
    @Option(help: "Everyday-use cases: closed pipes, cache bytes, planted links, nested loops, CRLF, huge words (default files/40, at least 12).") var everyday: Int?
    @Option(help: "Processes killed mid-write.") var kills = 0
    @Option(help: "The seed.") var seed: UInt64 = 1
    @Option(help: "Jobs at once.") var jobs = 2
    @Option(name: .customLong("memory-mb"), help: "Memory limit of a case, MB (at least 256).") var memoryMB = 4096
    @Option(help: "Seconds a case may take.") var deadline = 30
    @Option(help: "Where failing cases are kept.") var output = "fuzz-out"
    @Flag(help: "Keep every case's folder.") var keep = false
    @Flag(help: "The quick pass (2000 lines, 300 files).") var quick = false
    @Option(help: "Mutated files only of these formats, comma-separated (\(Fuzzer.Configuration().formats.map(\.rawValue).joined(separator: ", "))).")
    var formats: String?

    func validate() throws {
        for name in formats?.split(separator: ",") ?? [] where FileMutations.Format(rawValue: String(name)) == nil {
            throw ValidationError("--formats: no format '\(name)'")
        }
        for (name, value) in [("--cases", cases), ("--files", files), ("--special", special), ("--shared", shared), ("--everyday", everyday), ("--kills", kills)] where (value ?? 0) < 0 {
            throw ValidationError("\(name) takes a whole number of at least 0")
        }
        guard memoryMB >= 256 else { throw ValidationError("--memory-mb takes at least 256") }
        guard jobs >= 1, deadline >= 1 else { throw ValidationError("--jobs and --deadline take at least 1") }
    }

    func run() {
        var c = Fuzzer.Configuration()
        c.commandLines = cases ?? c.commandLines
        c.files = files ?? c.files
        c.specialFiles = special ?? max(40, c.files / 10)
        c.sharedRounds = shared ?? max(10, c.files / 40)
        c.everydayCases = everyday ?? max(12, c.files / 40)
        (c.kills, c.seed, c.jobs, c.memoryMB, c.deadline) = (kills, seed, jobs, memoryMB, Double(deadline))
        c.output = URL(fileURLWithPath: output)
        c.keep = keep
        if let formats { c.formats = formats.split(separator: ",").compactMap { FileMutations.Format(rawValue: String($0)) } }
        perform("bsn fuzz") { try Fuzzer.runFromShell(c) }
    }
}

struct SweepChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep-child",
        abstract: "Train one child of a sweep planned with `sweep … --plan`: a task of a job array (Slurm's sbatch --array).",
        discussion: "A second task on a child that is training exits at once with status 0; a rerun continues the child from its last save.")
    @Argument(help: "The planned sweep's session.") var parent: String
    @Argument(help: "The child's index (0…n-1; default: $SLURM_ARRAY_TASK_ID).") var index: Int?
    @Option(help: "Threads (default: $SLURM_CPUS_PER_TASK, else every core).") var threads: Int?

    func validate() throws {
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads takes 1…256") }
        if index == nil && Int(ProcessInfo.processInfo.environment["SLURM_ARRAY_TASK_ID"] ?? "") == nil {
            throw ValidationError("give the child's index, or run as a job-array task (SLURM_ARRAY_TASK_ID)")
        }
    }

    func run() {
        let env = ProcessInfo.processInfo.environment
        let index = self.index ?? Int(env["SLURM_ARRAY_TASK_ID"]!)!
        let threads = self.threads ?? Int(env["SLURM_CPUS_PER_TASK"] ?? "").map { min(max($0, 1), 256) } ?? ProcessInfo.processInfo.activeProcessorCount
        perform("bsn sweep-child") {
            Interrupts.install()
            let outcome = try SweepTask.run(store: SessionStore.default(), parent: parent, index: index, threads: threads, cancel: Interrupts.sigint) {
                print($0)
            }
            print(outcome.message)
            return Interrupts.sigterm.isCancelled && outcome.status != 0 ? Interrupts.terminatedStatus : outcome.status
        }
    }
}

struct SweepWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sweep-worker", abstract: "Internal: one child of a sweep, started by the notebook's sweep command.",
                                                    shouldDisplay: false)
    @Option(help: "The sessions folder.") var sessions = ""
    @Option(help: "Threads.") var threads = 1
    @Argument(help: "The child, as JSON.") var child: String
    func run() { leave(SweepWorker.run(root: sessions, threads: threads, child: child)) }
}

// BSN_PEAK_MEMORY=1: at exit, the process's peak resident memory (VmHWM) on
// stderr, for tests and the fuzz harness (a spawning parent's size would
// inflate a child's rusage).
if ProcessInfo.processInfo.environment["BSN_PEAK_MEMORY"] != nil {
    atexit {
        StandardStreams.error("bsn: peak resident memory \(Int(Memory.peakResident() / 1024)) kB\n")
    }
}

// A first word that is no command is a typo of one (not an argument of the notebook).
let words = Array(CommandLine.arguments.dropFirst())
let commands = BSN.configuration.subcommands.map { $0._commandName } + ["help"]
if let first = words.first, !first.hasPrefix("-"), !commands.contains(first) {
    let shown = BSN.configuration.subcommands.filter { $0.configuration.shouldDisplay }.map { $0._commandName }
    StandardStreams.error("bsn: unknown command '\(first)'\(didYouMean(first, in: shown)) (bsn --help lists them)\n")
    leave(2)
}
do {
    var command = try BSN.parseAsRoot(words)
    try command.run()
} catch {
    // Usage mistakes exit with 2, as they always have; help and completion scripts with 0.
    let code = BSN.exitCode(for: error)
    if code == .success { BSN.exit(withError: error) }
    StandardStreams.error(BSN.fullMessage(for: error) + "\n")
    leave(code == .validationFailure ? 2 : code.rawValue)
}
