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
/// command's name, exit status 1 (2 for a `ShellFailure` or a `UsageError`, as for the shell's parse errors).
func perform(_ what: String, _ body: () throws -> Int32) -> Never {
    do { leave(try body()) } catch let failure as ShellFailure {
        let text = "\(failure)"
        StandardStreams.error((text.hasPrefix("bsn") ? "" : what + ": ") + text + "\n")
        leave(2)
    } catch let usage as UsageError {
        StandardStreams.error("\(what): \(usage)\n")
        leave(2)
    } catch {
        StandardStreams.error("\(what): \(error)\n")
        leave(1)
    }
}

/// A module's refusal of the options (a `UsageError`) as the parser's own: said with the usage, exit status 2.
func validated<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as UsageError { throw ValidationError(e.description) }
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
    @Option(name: .customLong("set"), help: ArgumentHelp("$NAME in the script is VALUE (repeatable).", valueName: "NAME=VALUE"),
            transform: Assignment.init(parsing:))
    var assignments: [Assignment] = []

    func run() {
        let variables = Dictionary(assignments.map { ($0.name, $0.value) }) { _, last in last }
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

        private var configuration: ConvBenchmark.Configuration {
            get throws { try ConvBenchmark.Configuration(quick: quick, algorithm: algorithm, channels: channels, sizes: sizes, seconds: seconds) }
        }

        func validate() throws { _ = try validated { try configuration } }

        func run() throws {
            let configuration = try configuration
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

        private var request: BenchCommands.ScaleRequest {
            get throws {
                try BenchCommands.ScaleRequest(ranks: ranks, hosts: hosts, link: link, clusterLink: clusterLink, latency: latency, bucket: bucket,
                                               clusterBatch: clusterBatch, steps: steps, json: json)
            }
        }

        func validate() throws { _ = try validated { try request } }

        func run() throws {
            if let row { perform("bsn bench scale") { try BenchCommands.scaleRow(row, steps: steps, bucket: try BenchCommands.ScaleRequest.bucket(bucket), ranks: BSNCommand.ranks).map(say) ?? 0 } }
            let request = try request
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

    private var configuration: Fuzzer.Configuration {
        get throws {
            try Fuzzer.Configuration(cases: cases, files: files, special: special, shared: shared, everyday: everyday, kills: kills, seed: seed,
                                     jobs: jobs, memoryMB: memoryMB, deadline: deadline, output: output, keep: keep, formats: formats)
        }
    }

    func validate() throws { _ = try validated { try configuration } }

    func run() throws {
        let configuration = try configuration
        perform("bsn fuzz") { try Fuzzer.runFromShell(configuration) }
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

    func run() { perform("bsn sweep-child") { try Shell.sweepChild(parent: parent, index: index, threads: threads) } }
}

struct SweepWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sweep-worker", abstract: "Internal: one child of a sweep, started by the notebook's sweep command.",
                                                    shouldDisplay: false)
    @Option(help: "The sessions folder.") var sessions = ""
    @Option(help: "Threads.") var threads = 1
    @Argument(help: "The child, as JSON.") var child: String
    func run() { leave(SweepWorker.run(root: sessions, threads: threads, child: child)) }
}

Shell.reportPeakMemoryAtExitIfAsked()

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
