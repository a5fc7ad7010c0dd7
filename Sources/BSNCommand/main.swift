import Benchmarks
import Foundation
import Fuzz
import Interface
import Layers
import Notebook
import Session
import SuperNet
import Tensor

// The executable: the notebook (interactive, or a script), and the benchmarks.

let usage = """
usage: bsn [--session NAME]         the notebook (a REPL on a terminal; reads a script from stdin otherwise)
       bsn run FILE.bsn [--echo] [--keep-going] [--session NAME] [--set NAME=VALUE …]
                                    runs a script of notebook commands ($NAME in it is VALUE);
                                    FILE - reads the script from standard input
       bsn <command>

  bench conv [--json] [--quick] [--algorithm direct|direct512|direct256|gemm] [--channels 32,64] [--sizes 32,16]
                                  conv throughput on CNF shapes vs. the sgemm ceiling
                                  (default: each shape's measured algorithm)
  bench train [--json] [--config NAME] [--seconds S]
                                  training / inference images/s and peak memory of the
                                  CNF (C=32, 64, 128) and ResNet-20 configurations
  bench scale [--json] [--ranks N] [--link 10Gb] [--steps S]
                                  data-parallel training: 1 rank x 1 thread vs N ranks x 1 thread
                                  under mpirun, all-reduce time, and a cluster estimate for CNF C=128
  bench data [--json] [--quick]   input pipeline images/s (CIFAR- and Part-Labels-sized data
                                  generated on the fly), without and with prefetch
  infer MODEL IMAGE [IMAGE …] [--json]
                                  runs a model written by export model on PNG or JPEG images
  export-onnx MODEL OUT.onnx      writes a model file (export model) as ONNX (opset 17)
  info                            version, OpenBLAS core, conv algorithms and their cache, threads
  help                            this text
"""

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    leave(2)
}

/// Ends the process with `status`. Under mpirun a failing rank ends every
/// rank (MPI_Abort): the others may be waiting for it in a collective call.
func leave(_ status: Int32) -> Never {
    if status != 0 && Ranks.distributed { Ranks.abort(status) }
    exit(status)
}

// BSN_PEAK_MEMORY=1: at exit, the process's peak resident memory (VmHWM) on
// stderr, for tests and the fuzz harness (a spawning parent's size would
// inflate a child's rusage).
if ProcessInfo.processInfo.environment["BSN_PEAK_MEMORY"] != nil {
    atexit {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let kb = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }?.split(separator: " ").dropFirst().first ?? "?"
        FileHandle.standardError.write(Data("bsn: peak resident memory \(kb) kB\n".utf8))
    }
}

// Under mpirun, MPI starts before anything else (a plain bsn never starts it) and ends at exit.
Ranks.start()
atexit { Ranks.finish() }

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "run":
    runScript(Array(arguments.dropFirst()))
case nil, "--session":
    startNotebook(arguments)
case "bench":
    let rest = Array(arguments.dropFirst())
    switch rest.first {
    case "conv": benchConv(Array(rest.dropFirst()))
    case "train": benchTrain(Array(rest.dropFirst()))
    case "data": benchData(Array(rest.dropFirst()))
    case "scale": benchScale(Array(rest.dropFirst()))
    default: fail("bsn bench: unknown benchmark '\(rest.first ?? "")' (available: conv, train, data, scale)\n\n" + usage)
    }
case "infer":
    inferFromShell(Array(arguments.dropFirst()))
case "export-onnx":
    exportONNXFromShell(Array(arguments.dropFirst()))
case "sweep-worker":   // internal: one child of a sweep, started by the notebook's sweep command
    sweepWorker(Array(arguments.dropFirst()))
case "fuzz":       // a developer's tool, not in the usage text: see docs/architecture.md
    fuzz(Array(arguments.dropFirst()))
case "info":
    print("bsn 0.1")
    print("OpenBLAS core: \(BLAS.coreName)" + (BLAS.coreSwitchedFrom.map { " (selected by bsn; OpenBLAS detected \($0))" } ?? ""))
    print("conv algorithms: " + ConvolutionAlgorithm.available.map(\.summary).joined(separator: "; "))
    print("conv choice: " + (ConvolutionChoices.forced.map { "forced by BSN_CONV_ALGORITHM: \($0.rawValue)" } ?? "measured per shape"))
    print("conv cache: \(ConvolutionChoices.shared.summary)")
    print("CPU: \(ConvolutionChoices.cpu)")
    print("threads: \(Parallel.threads)")
case "help", "--help", "-h":
    print(usage)
default:
    fail("bsn: unknown command '\(arguments[0])'\n\n" + usage)
}

/// The options of `bsn <what>` through the notebook's argument parser; a mistake exits with the usage.
func parse(_ what: String, _ words: [String], valued: Set<String> = [], _ body: (inout Arguments) throws -> Void) {
    if words.contains("--help") || words.contains("-h") {
        print(usage)
        exit(0)
    }
    do {
        var a = try Arguments(command: "bsn \(what)", words: words, valued: valued)
        try body(&a)
        try a.finish()
    } catch {
        fail("\(error)\n\n" + usage)
    }
}

/// Prints a benchmark's report: JSON, or its table.
func printReport<T: Encodable>(_ report: T, json: Bool, table: () -> String) {
    if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: (try? encoder.encode(report)) ?? Data(), as: UTF8.self))
    } else {
        print(table())
    }
}

func benchConv(_ arguments: [String]) {
    var configuration = ConvBenchmark.Configuration()
    var json = false
    parse("bench conv", arguments, valued: ["algorithm", "channels", "sizes"]) { a in
        json = a.flag("json")
        if a.flag("quick") { configuration = .quick }
        if let algorithm: ConvolutionAlgorithm = try a.choice("algorithm") {
            if algorithm == .direct && !ConvolutionAlgorithm.directKernelsAvailable {
                fail("bsn bench conv: the direct kernels need a CPU with AVX2 and FMA")
            }
            configuration.algorithm = algorithm
        }
        if let channels = try a.wholeList("channels") { configuration.channels = channels }
        if let sizes = try a.wholeList("sizes") { configuration.sizes = sizes }
    }
    let benchmark = ConvBenchmark(configuration)
    do {
        let report = try benchmark.run { step in
            if !json { FileHandle.standardError.write(Data("  \(step)…\n".utf8)) }
        }
        printReport(report, json: json) { report.table }
    } catch {
        fail("bsn bench conv: \(error)")
    }
}

func benchTrain(_ arguments: [String]) {
    var json = false, seconds = 2.0, only: String?, child: [String]?
    let names = TrainBenchmark.configs.map(\.name)
    parse("bench train", arguments, valued: ["config", "seconds", "row"]) { a in
        json = a.flag("json")
        if let value = try a.double("seconds") {
            guard value > 0 else { throw UsageError("bsn bench train: --seconds takes a positive number") }
            seconds = value
        }
        if let name = a.option("config") {
            guard names.contains(name) else { throw UsageError("bsn bench train: --config takes one of \(names.joined(separator: ", "))" + didYouMean(name, in: names)) }
            only = name
        }
        // Internal: one row (config,mode,gates), run by the parent in a child process.
        child = a.option("row").map { $0.split(separator: ",").map(String.init) }
    }
    if let child {
        guard child.count == 3, let config = TrainBenchmark.configs.first(where: { $0.name == child[0] }), let mode = ExecutionMode(rawValue: child[1]) else {
            fail("bsn bench train: bad row \(child.joined(separator: ","))")
        }
        do {
            let row = try TrainBenchmark.measure(config, mode: mode, gatesOn: child[2], seconds: seconds)
            print(String(decoding: try JSONEncoder().encode(row), as: UTF8.self))
        } catch { fail("bsn bench train: \(error)") }
        return
    }
    let ceiling = SgemmCeiling.measure()
    var rows = [TrainBenchmark.Row]()
    let configs = TrainBenchmark.configs.filter { only == nil || $0.name == only }
    for (config, mode, gates) in TrainBenchmark.plan(configs: configs) {
        if !json { FileHandle.standardError.write(Data("  \(config.name) \(mode.rawValue) gates \(gates)…\n".utf8)) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["bench", "train", "--row", [config.name, mode.rawValue, gates].joined(separator: ","), "--seconds", "\(seconds)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        do { try process.run() } catch { fail("bsn bench train: cannot start a child process: \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let row = try? JSONDecoder().decode(TrainBenchmark.Row.self, from: data) else {
            fail("bsn bench train: the \(config.name) \(mode.rawValue) row failed")
        }
        rows.append(row)
    }
    struct Report: Codable { let sgemm_gflops: Double; let blas_core: String; let threads: Int; let rows: [TrainBenchmark.Row] }
    printReport(Report(sgemm_gflops: ceiling.gflops, blas_core: BLAS.coreName, threads: Parallel.threads, rows: rows), json: json) {
        TrainBenchmark.table(rows, sgemm: ceiling.gflops)
    }
}

func benchData(_ arguments: [String]) {
    var json = false, quick = false
    parse("bench data", arguments) { a in
        json = a.flag("json")
        quick = a.flag("quick")
    }
    let ceiling = SgemmCeiling.measure()
    do {
        let report = try DataBenchmark(quick: quick).run { step in
            if !json { FileHandle.standardError.write(Data("  \(step)…\n".utf8)) }
        }
        struct Output: Codable { let sgemm_gflops: Double; let threads: Int; let report: DataBenchmark.Report }
        printReport(Output(sgemm_gflops: ceiling.gflops, threads: Parallel.threads, report: report), json: json) {
            DataBenchmark.table(report) + String(format: "\n%d threads; sgemm ceiling %.1f GFLOP/s (same run)", Parallel.threads, ceiling.gflops)
        }
    } catch {
        fail("bsn bench data: \(error)")
    }
}

func fuzz(_ arguments: [String]) {
    var c = Fuzzer.Configuration()
    let usage = """
    usage: bsn fuzz [--cases N (2000)] [--files N (300)] [--special N (files/10, at least 40)] [--shared N (files/40, at least 10)]
                    [--kills N (0)] [--seed S] [--jobs K (2)] [--memory-mb M (4096)] [--deadline S (30)] [--output DIR (fuzz-out)] [--keep] [--quick]
    """
    if arguments.contains("--help") || arguments.contains("-h") {
        print(usage)
        exit(0)
    }
    do {
        var a = try Arguments(command: "bsn fuzz", words: arguments,
                              valued: ["cases", "files", "special", "shared", "kills", "seed", "jobs", "memory-mb", "deadline", "output"])
        if a.flag("quick") { (c.commandLines, c.files) = (2000, 300) }
        c.commandLines = try a.int("cases", default: c.commandLines, range: 0...Int.max)!
        c.files = try a.int("files", default: c.files, range: 0...Int.max)!
        c.specialFiles = try a.int("special", default: max(40, c.files / 10), range: 0...Int.max)!
        c.sharedRounds = try a.int("shared", default: max(10, c.files / 40), range: 0...Int.max)!
        c.kills = try a.int("kills", default: c.kills, range: 0...Int.max)!
        c.seed = UInt64(try a.int("seed", default: Int(c.seed), range: 0...Int.max)!)
        c.jobs = try a.int("jobs", default: c.jobs)!
        c.memoryMB = try a.int("memory-mb", default: c.memoryMB, range: 256...Int.max)!
        c.deadline = Double(try a.int("deadline", default: Int(c.deadline))!)
        if let output = a.option("output") { c.output = URL(fileURLWithPath: output) }
        c.keep = a.flag("keep")
        try a.finish()
    } catch {
        fail("\(error)\n" + usage)
    }
    do {
        let interactive = isatty(STDERR_FILENO) == 1
        let report = try Fuzzer(c).run { line in
            FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[2K" + line : line + "\n").utf8))
        }
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        print(report.summary)
        exit(report.failures.isEmpty ? 0 : 1)
    } catch {
        fail("bsn fuzz: \(error)")
    }
}

/// A script's text: a file (pipes and /dev/stdin included), or standard input for "-".
func readScript(_ file: String) -> String {
    let handle: FileHandle
    if file == "-" {
        handle = FileHandle.standardInput
    } else {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isFolder) else { fail("bsn run: cannot read \(file) (no such file)") }
        guard !isFolder.boolValue else { fail("bsn run: \(file) is a folder, expected a script file") }
        guard let h = FileHandle(forReadingAtPath: file) else { fail("bsn run: cannot read \(file) (permission denied?)") }
        handle = h
    }
    let data: Data
    do { data = try handle.readToEnd() ?? Data() } catch { fail("bsn run: cannot read \(file) (\(error.localizedDescription))") }
    guard let text = String(data: data, encoding: .utf8) else { fail("bsn run: \(file) is not a UTF-8 text file") }
    return text
}

/// A new session, or the saved one of that name, with what `open` says of it (nil for a new one).
func session(named name: String, store: SessionStore) -> (Session, SessionReport?) {
    do { try SessionStore.check(name: name) } catch { fail("bsn: \(error)") }
    if store.exists(name) {
        do {
            let interactive = isatty(STDERR_FILENO) == 1
            let (s, report) = try store.reopen(name, progress: interactive ? { done, total in
                FileHandle.standardError.write(Data("\r\u{1B}[2Kdecoding images \(done)/\(total)".utf8))
            } : nil)
            if interactive { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            return (s, report)
        } catch { fail("bsn: cannot open session '\(name)': \(error)") }
    }
    return (Session(name: name), nil)
}

func startNotebook(_ arguments: [String]) {
    var name: String?
    var options = ArraySlice(arguments)
    while let option = options.popFirst() {
        switch option {
        case "--session":
            guard let n = options.popFirst() else { fail("bsn: --session takes a name") }
            name = n
        case "--help", "-h":
            print(usage)
            exit(0)
        default: fail("bsn: unknown option '\(option)'\n\n" + usage)
        }
    }
    let store = SessionStore.default
    let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .current, formatOptions: [.withYear, .withMonth, .withDay, .withTime])
    // Under mpirun the REPL is not offered: rank 0 reads the script from standard input and gives it to the others.
    let interactive = !Ranks.distributed && isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
    let (opened, report) = session(named: name ?? "notebook-\(stamp)", store: store)
    let nb = Notebook(session: opened, store: store, console: Console(interactive: interactive, muted: !Ranks.isLeader))
    nb.sweepWorker = thisExecutable()
    if interactive { exit(REPL.run(nb, opened: report)) }
    // What was opened, as a status line (stderr when stdout is piped).
    if let report { nb.console.status(report.text) }
    Interrupts.install()
    let input = Ranks.isLeader ? FileHandle.standardInput.readDataToEndOfFile() : Data()
    let text = String(decoding: Ranks.broadcast(input), as: UTF8.self)
    var status = Script.run(text, file: "<stdin>", in: nb, options: .init())
    // End of input is Ctrl-D (and SIGTERM ends it too): a session that changed is saved, and a save that fails is the exit status.
    let end = status == Interrupts.terminatedStatus ? "<stdin>: SIGTERM" : "<stdin>: end of input"
    if !nb.quitRequested && nb.session.hasUnsavedChanges() && !nb.execute("quit", location: end, implicit: true) { status = 1 }
    leave(status)
}

func runScript(_ arguments: [String]) {
    var file: String?, name: String?, options = Script.Options(), variables = [String: String]()
    var rest = ArraySlice(arguments)
    while let a = rest.popFirst() {
        switch a {
        case "--help", "-h":
            print(usage)
            exit(0)
        case "--echo": options.echo = true
        case "--keep-going": options.keepGoing = true
        case "--session":
            guard let n = rest.popFirst() else { fail("bsn run: --session takes a name") }
            name = n
        case "--set":
            guard let pair = rest.popFirst(), let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                fail("bsn run: --set takes NAME=VALUE (e.g. --set data=$HOME/cifar-10-batches-bin)")
            }
            variables[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        default:
            if a.hasPrefix("-") && a != "-" { fail("bsn run: unknown option '\(a)'\n\n" + usage) }
            guard file == nil else { fail("bsn run: one script at a time (got \(file!) and \(a))") }
            file = a
        }
    }
    guard let file else { fail("bsn run: which script? (bsn run samples/quickstart.bsn, or bsn run - for standard input)") }
    // Under mpirun rank 0 reads the script and gives it to the others (standard input reaches rank 0 alone).
    let text = String(decoding: Ranks.broadcast(Ranks.isLeader ? Data(readScript(file).utf8) : Data()), as: UTF8.self)
    Interrupts.install()
    let store = SessionStore.default
    let base = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
    // --session continues (or creates) a named session; otherwise the script
    // starts a fresh session named after it (its save replaces the old one).
    let fresh = file == "-" ? "stdin" : base.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
    let opened = name.map { session(named: $0, store: store) }
    let nb = Notebook(session: opened?.0 ?? Session(name: fresh.isEmpty ? "script" : fresh),
                      store: store, console: Console(interactive: false, muted: !Ranks.isLeader))
    if let report = opened?.1 { nb.console.status(report.text) }
    nb.session.variables.merge(variables) { _, new in new }
    nb.sweepWorker = thisExecutable()
    var status = Script.run(text, file: file, in: nb, options: options)
    // SIGTERM: training stopped at the next batch and saved itself; a session that was open (--session) keeps the rest too.
    if status == Interrupts.terminatedStatus && name != nil && nb.session.hasUnsavedChanges() && !nb.quitRequested
        && !nb.execute("quit", location: "\(file): SIGTERM", implicit: true) { status = 1 }
    leave(status)
}

/// This binary, for the processes it starts (sweep workers, benchmark rows).
func thisExecutable() -> URL { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath() }

/// `bsn sweep-worker --sessions DIR --threads T CHILD-JSON`: trains one child
/// of a sweep to its target step, printing one SweepEvent JSON per line.
/// SIGINT or SIGTERM, or the sweep process going away, stops it at the next
/// batch, saved (exit 130).
func sweepWorker(_ arguments: [String]) {
    var root = "", threads = 1, spec = ""
    parse("sweep-worker", arguments, valued: ["sessions", "threads"]) { a in
        root = a.option("sessions") ?? ""
        threads = try a.int("threads", default: 1, range: 1...256)!
        spec = try a.required("the child, as JSON")
    }
    guard let child = try? JSONDecoder().decode(SweepChild.self, from: Data(spec.utf8)), !root.isEmpty else {
        fail("bsn sweep-worker: needs --sessions DIR and a child as JSON")
    }
    Interrupts.install()
    signal(SIGTERM) { _ in Interrupts.sigint.cancel() }
    let parent = getppid()
    Thread.detachNewThread {
        while getppid() == parent { Thread.sleep(forTimeInterval: 0.5) }
        Interrupts.sigint.cancel()
    }
    let encoder = JSONEncoder()
    do {
        try SessionStore(root: URL(fileURLWithPath: root)).runSweepChild(child, threads: threads, cancel: Interrupts.sigint) { e in
            if let line = try? encoder.encode(e) { FileHandle.standardOutput.write(line + Data([0x0A])) }
        }
    } catch {
        FileHandle.standardError.write(Data("bsn sweep-worker: \(child.name): \(error)\n".utf8))
        exit(1)
    }
    exit(Interrupts.sigint.isCancelled ? 130 : 0)
}

/// `bsn infer MODEL IMAGE…`: a model file (export model) on images, without a session.
func inferFromShell(_ arguments: [String]) {
    var paths = [String](), json = false, fit = ImageFit.crop
    parse("infer", arguments) { a in
        json = a.flag("json")
        fit = try a.choice("fit") ?? .crop
        while let p = a.next() { paths.append(p) }
    }
    guard paths.count >= 2 else { fail("bsn infer: needs a model file and at least one image (bsn infer found.bsnmodel cat.png)") }
    do {
        let report = try ExportedModel(file: paths[0]).infer(Array(paths.dropFirst()), fit: fit)
        printReport(report, json: json) { report.text }
    } catch {
        FileHandle.standardError.write(Data("bsn infer: \(error)\n".utf8))
        exit(1)
    }
}

/// `bsn export-onnx MODEL OUT.onnx`: a model file (export model) as ONNX, without a session.
func exportONNXFromShell(_ arguments: [String]) {
    var paths = [String]()
    parse("export-onnx", arguments) { a in while let p = a.next() { paths.append(p) } }
    guard paths.count == 2 else { fail("bsn export-onnx: needs a model file and the ONNX file to write (bsn export-onnx found.bsnmodel found.onnx)") }
    do {
        print(try ExportedModel(file: paths[0]).exportONNX(to: paths[1]).text)
    } catch {
        FileHandle.standardError.write(Data("bsn export-onnx: \(error)\n".utf8))
        exit(1)
    }
}

func benchScale(_ arguments: [String]) {
    var json = false, ranks = 2, steps = 10, link = "10Gb", row: String?
    parse("bench scale", arguments, valued: ["ranks", "steps", "link", "row"]) { a in
        json = a.flag("json")
        ranks = try a.int("ranks", default: 2, range: 2...64)!
        steps = try a.int("steps", default: 10, range: 1...1000)!
        link = a.option("link") ?? link
        row = a.option("row")              // internal: one row, in this process (under mpirun: every rank)
    }
    let configs = Dictionary(uniqueKeysWithValues: TrainBenchmark.configs.map { ($0.name, $0) })
    if let row {
        guard let config = configs[row] else { fail("bsn bench scale: no configuration \(row)") }
        do {
            if let r = try ScaleBenchmark.measure(config, steps: steps) { print(String(decoding: try JSONEncoder().encode(r), as: UTF8.self)) }
        } catch { fail("bsn bench scale: \(error)") }
        return
    }
    guard let bits = ScaleBenchmark.parseLink(link) else { fail("bsn bench scale: --link takes a speed like 10Gb, 25Gb or 100Mb, got '\(link)'") }
    guard let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        fail("bsn bench scale: needs Open MPI's mpirun (Debian: apt-get install openmpi-bin libopenmpi-dev)")
    }
    let ceiling = SgemmCeiling.measure(threads: 1)
    let me = thisExecutable().path
    var rows = [ScaleBenchmark.Row]()
    func run(_ executable: String, _ args: [String], _ what: String) {
        if !json { FileHandle.standardError.write(Data("  \(what)…\n".utf8)) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        let pipe = Pipe()
        process.standardOutput = pipe
        do { try process.run() } catch { fail("bsn bench scale: cannot start \(executable): \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let r = try? JSONDecoder().decode(ScaleBenchmark.Row.self, from: Data(line.utf8)) else {
            fail("bsn bench scale: the row \(what) failed")
        }
        rows.append(r)
    }
    let root = getuid() == 0 ? ["--allow-run-as-root"] : []
    for name in ScaleBenchmark.measured {
        run(me, ["bench", "scale", "--row", name, "--steps", "\(steps)"], "\(name), 1 rank")
        run(mpirun, root + ["--oversubscribe", "-np", "\(ranks)", me, "bench", "scale", "--row", name, "--steps", "\(steps)"], "\(name), \(ranks) ranks")
    }
    run(me, ["bench", "scale", "--row", ScaleBenchmark.estimated, "--steps", "2"], "\(ScaleBenchmark.estimated), 1 rank (for the cluster estimate)")
    struct Report: Codable { let sgemm_gflops_1_thread: Double; let cores: Int; let link_bits_per_s: Double; let rows: [ScaleBenchmark.Row] }
    printReport(Report(sgemm_gflops_1_thread: ceiling.gflops, cores: ProcessInfo.processInfo.activeProcessorCount, link_bits_per_s: bits, rows: rows), json: json) {
        "bsn bench scale — \(ProcessInfo.processInfo.activeProcessorCount) cores, 1 thread per rank, sgemm ceiling of 1 thread \(Format.fixed(ceiling.gflops, 1)) GFLOP/s (same run)\n\n"
            + ScaleBenchmark.table(rows, linkBitsPerSecond: bits, linkName: link)
    }
}
