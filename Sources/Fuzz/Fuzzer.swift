import Dispatch
import Foundation
import Interface
import Tensor

/// `bsn fuzz`: random command scripts and mutated files of every format bsn
/// reads, each batch run by the real binary in its own folder under limits.
/// An exit by a signal (a Swift trap, an abort, a segfault), an exit status
/// other than 0, 1 or 2, or a run still alive after SIGINT and a grace
/// period is a failure: its folder (script, files, output) is kept under
/// `<output>/failures/` with a `reproduce.sh`.
public struct Fuzzer: Sendable {
    public struct Configuration: Sendable {
        /// Random command lines, and mutated files, in all.
        public var commandLines = 2000, files = 300
        /// The formats of the mutated files.
        public var formats = FileMutations.Format.allCases
        public var seed: UInt64 = 1
        /// Children run at once.
        public var jobs = 2
        /// Seconds before SIGINT, then seconds before SIGKILL (a hang).
        public var deadline = 30.0, grace = 20.0
        /// `ulimit -v` of each child.
        public var memoryMB = 4096
        public var linesPerScript = 25, filesPerScript = 8
        /// Rounds of kill -9 at a random moment of train + save, each followed by open and save.
        public var kills = 0
        /// Cases of the special-files recipe (FIFOs, folders, device nodes, links where files are read or written).
        public var specialFiles = 40
        /// Rounds of the concurrency recipe (several processes on one sessions folder).
        public var sharedRounds = 10
        /// Cases of the everyday-use recipe (closed pipes, cache bytes, planted links, nested loops, CRLF, huge words).
        public var everydayCases = 12
        public var output = URL(fileURLWithPath: "fuzz-out")
        /// Keep every batch's folder (script, files, output), not only failures.
        public var keep = false
        public init() {}
    }

    public struct Failure: Sendable {
        public let kind: String, folder: String, detail: String
    }

    public struct Report: Sendable {
        public var commandScripts = 0, commandLines = 0, fileScripts = 0, files = 0, kills = 0
        public var specialScripts = 0, specialFiles = 0, sharedRounds = 0, everydayCases = 0
        public var interrupted = 0
        public var peakResident = 0
        public var failures: [Failure] = []
        public var seconds = 0.0
        public var summary: String {
            var lines = [String(format: "%d command lines in %d scripts, %d mutated files in %d scripts, %d special files in %d scripts, %d concurrency rounds, %d everyday-use cases, %d kill -9 rounds, %.0f s: %d failures (%d runs needed SIGINT at the deadline; largest peak resident memory %@)",
                                commandLines, commandScripts, files, fileScripts, specialFiles, specialScripts, sharedRounds, everydayCases, kills, seconds, failures.count, interrupted,
                                Memory.format(Double(peakResident)))]
            for f in failures { lines.append("  \(f.kind): \(f.folder) — \(f.detail)") }
            return lines.joined(separator: "\n")
        }
    }

    public let configuration: Configuration
    public init(_ configuration: Configuration) { self.configuration = configuration }

    private enum Job: Sendable { case commands(Int), files(Int), special(Int), shared(Int), everyday(Int) }

    /// Runs every batch; `progress` gets a line after each.
    public func run(progress: @escaping @Sendable (String) -> Void) throws -> Report {
        let c = configuration, fm = FileManager.default
        let binary = try selfPath()
        try fm.createDirectory(at: c.output, withIntermediateDirectories: true)
        let work = c.output.appendingPathComponent("work")
        try? fm.removeItem(at: work)
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        let template = try makeTemplate(in: work, binary: binary)

        let commandJobs = (c.commandLines + c.linesPerScript - 1) / max(c.linesPerScript, 1)
        let fileJobs = (c.files + c.filesPerScript - 1) / max(c.filesPerScript, 1)
        let specialJobs = (c.specialFiles + c.filesPerScript - 1) / max(c.filesPerScript, 1)
        let everydayJobs = (c.everydayCases + Self.everydayPerScript - 1) / Self.everydayPerScript
        // The concurrency rounds first: each starts several processes, better spread over the run than left to its end.
        let jobs: [Job] = (0..<c.sharedRounds).map(Job.shared) + (0..<everydayJobs).map(Job.everyday) + (0..<commandJobs).map(Job.commands)
            + (0..<fileJobs).map(Job.files) + (0..<specialJobs).map(Job.special)
        let state = Shared()
        let start = Date()
        let workers = max(1, c.jobs)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let index = state.nextJob(below: jobs.count) {
                do {
                    let outcome = try runJob(jobs[index], number: index, binary: binary, work: work, template: template)
                    let line = state.record(outcome, total: jobs.count)
                    progress(line)
                } catch {
                    state.add(Failure(kind: "harness", folder: "-", detail: "\(error)"))
                }
            }
        }
        var report = state.report
        if c.kills > 0 {
            let failures = try killRounds(binary: binary, work: work, progress: progress)
            report.kills = c.kills
            report.failures += failures
        }
        report.seconds = Date().timeIntervalSince(start)
        if !c.keep { try? fm.removeItem(at: work) }
        return report
    }

    /// Everyday-use cases in one job's script.
    static let everydayPerScript = 4

    /// What one job ran and how it ended.
    struct JobOutcome {
        var commandLines = 0, files = 0, specialFiles = 0, sharedRounds = 0, everydayCases = 0
        var result: Child.Result
        var failure: Failure?
    }

    private func runJob(_ job: Job, number: Int, binary: String, work: URL, template: URL) throws -> JobOutcome {
        let c = configuration, fm = FileManager.default
        let folder = work.appendingPathComponent("job-\(number)")
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        var rng = RNG(seed: c.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(number))
        var lines = [String](), counted = (lines: 0, files: 0), kind = ""
        var special: SpecialFiles?
        switch job {
        case .shared:
            var round = SharedSessions(rng: rng, template: template, binary: binary, memoryKB: c.memoryMB * 1024)
            let start = Date()
            let problems = try round.round(in: folder)
            let result = Child.Result(outcome: .exited(problems.isEmpty ? 0 : 1), peakResident: 0, seconds: Date().timeIntervalSince(start), interrupted: false)
            guard !problems.isEmpty else {
                if !c.keep { try? fm.removeItem(at: folder) }
                return JobOutcome(sharedRounds: 1, result: result, failure: nil)
            }
            let kept = try keep(folder, as: "shared-\(c.seed)-\(number)")
            return JobOutcome(sharedRounds: 1, result: result, failure: Failure(kind: "shared", folder: kept.path, detail: problems.joined(separator: "; ").prefix(600).description))
        case .everyday(let k):
            return try everyday(k, number: number, rng: &rng, binary: binary, folder: folder)
        case .special(let k):
            var s = SpecialFiles(rng: RNG(seed: rng.next()), template: template)
            lines = try s.prepare(in: folder)
            let count = min(c.filesPerScript, c.specialFiles - k * c.filesPerScript)
            for i in 0..<count { lines += ["# case \(i)"] + (try s.makeCase(in: folder, index: i)) }
            special = s
            kind = "special"
            counted.files = count
        case .commands(let k):
            var scripts = CommandScripts(rng: rng)
            let count = min(c.linesPerScript, c.commandLines - k * c.linesPerScript)
            lines = scripts.script(lines: count)
            counted.lines = count
            kind = "commands"
        case .files(let k):
            var mutations = FileMutations(rng: RNG(seed: rng.next()), template: template)
            let count = min(c.filesPerScript, c.files - k * c.filesPerScript)
            for i in 0..<count {
                let format = mutations.pick(c.formats)
                lines += ["# case \(i): \(format.rawValue)"] + (try mutations.makeCase(format, in: folder, index: i))
            }
            counted.files = count
            kind = "files"
        }
        try (lines.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("case.bsn"), atomically: false, encoding: .utf8)
        let child = Child(binary: binary, arguments: ["run", "case.bsn", "--keep-going"], folder: folder,
                          memoryLimitKB: c.memoryMB * 1024, deadline: c.deadline, grace: c.grace)
        let result = try child.run()
        let stderr = (try? String(contentsOf: folder.appendingPathComponent("stderr.txt"), encoding: .utf8)) ?? ""
        var failure: String?
        switch result.outcome {
        case .exited(let s) where [0, 1, 2].contains(s) || (s == 130 && result.interrupted):
            if stderr.contains("Fatal error") || stderr.contains("runtime failure") { failure = "a Swift runtime error, exit \(s)" }
        case .exited(let s): failure = "exit status \(s)"
        case .signalled(let s): failure = "killed by signal \(s) (\(String(cString: strsignal(s))))"
        case .hung: failure = "still running \(Int(c.deadline + c.grace)) s after start and SIGINT: a hang"
        }
        if failure == nil, let special, let problem = special.check(folder) { failure = problem }
        let (files, specials) = special == nil ? (counted.files, 0) : (0, counted.files)
        guard let failure else {
            if !c.keep { try? fm.removeItem(at: folder) }
            return JobOutcome(commandLines: counted.lines, files: files, specialFiles: specials, result: result, failure: nil)
        }
        let kept = try keep(folder, as: "\(kind)-\(c.seed)-\(number)")
        let reproduce = """
        #!/bin/sh
        # \(failure)
        cd "$(dirname "$0")" && BSN_SESSIONS=sessions HOME=. ulimit -v \(c.memoryMB * 1024) && exec \(binary) run case.bsn --keep-going

        """
        try reproduce.write(to: kept.appendingPathComponent("reproduce.sh"), atomically: false, encoding: .utf8)
        chmod(kept.appendingPathComponent("reproduce.sh").path, 0o755)
        let lastError = stderr.split(separator: "\n").last { $0.contains("rror") }.map(String.init) ?? ""
        return JobOutcome(commandLines: counted.lines, files: files, specialFiles: specials, result: result,
                          failure: Failure(kind: kind, folder: kept.path, detail: failure + (lastError.isEmpty ? "" : "; \(lastError.prefix(200))")))
    }

    /// A job of everyday-use cases: a bash script around the binary (EverydayCases) that says FAIL for each miss.
    private func everyday(_ k: Int, number: Int, rng: inout RNG, binary: String, folder: URL) throws -> JobOutcome {
        let c = configuration, fm = FileManager.default
        let count = min(Self.everydayPerScript, c.everydayCases - k * Self.everydayPerScript)
        var cases = EverydayCases(rng: RNG(seed: rng.next())), lines = [EverydayCases.preamble]
        for i in 0..<count { lines += cases.makeCase(cases.pick(EverydayCases.Kind.allCases), index: i) }
        lines.append(EverydayCases.ending)
        try lines.joined(separator: "\n").write(to: folder.appendingPathComponent("case.sh"), atomically: false, encoding: .utf8)
        var child = Child(binary: "/bin/bash", arguments: ["case.sh"], folder: folder, memoryLimitKB: c.memoryMB * 1024,
                          deadline: 120 * Double(count), grace: c.grace)
        child.environment["BSN"] = binary
        let result = try child.run()
        let said = (try? String(contentsOf: folder.appendingPathComponent("stdout.txt"), encoding: .utf8)) ?? ""
        var failure: String?
        switch result.outcome {
        case .exited(0): break
        case .exited(let s): failure = said.split(separator: "\n").filter { $0.hasPrefix("FAIL") }.joined(separator: "; ") + (s == 1 ? "" : " (exit \(s))")
        case .signalled(let s): failure = "the case script was killed by signal \(s)"
        case .hung: failure = "still running \(Int(child.deadline + c.grace)) s after start: a hang"
        }
        guard let failure else {
            if !c.keep { try? fm.removeItem(at: folder) }
            return JobOutcome(everydayCases: count, result: result, failure: nil)
        }
        let kept = try keep(folder, as: "everyday-\(c.seed)-\(number)")
        let reproduce = "#!/bin/sh\n# \(failure.prefix(300))\ncd \"$(dirname \"$0\")\" && rm -rf sessions cache && BSN=\(binary) HOME=. BSN_SESSIONS=sessions exec bash case.sh\n"
        try reproduce.write(to: kept.appendingPathComponent("reproduce.sh"), atomically: false, encoding: .utf8)
        chmod(kept.appendingPathComponent("reproduce.sh").path, 0o755)
        return JobOutcome(everydayCases: count, result: result, failure: Failure(kind: "everyday", folder: kept.path, detail: String(failure.prefix(600))))
    }

    /// Moves a failed job's folder under `<output>/failures/`.
    private func keep(_ folder: URL, as name: String) throws -> URL {
        let fm = FileManager.default
        let kept = configuration.output.appendingPathComponent("failures/\(name)")
        try? fm.removeItem(at: kept)
        try fm.createDirectory(at: kept.deletingLastPathComponent(), withIntermediateDirectories: true)
        try fm.moveItem(at: folder, to: kept)
        return kept
    }

    /// Crash consistency: `kills` rounds of kill -9 at a random moment while a
    /// session trains and saves in a loop. After each, the session must open
    /// (at a saved step, never behind the previous round's) and, once saved
    /// again, hold one generation and no temporary file.
    private func killRounds(binary: String, work: URL, progress: @Sendable (String) -> Void) throws -> [Failure] {
        let c = configuration, fm = FileManager.default
        let folder = work.appendingPathComponent("kills")
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        let scripts = ["setup.bsn": "load shapes train=128 val=16 test=16\nset batch 16\nbuild cnf W=2 S=3 C=4\nsave k\n",
                       "loop.bsn": String(repeating: "train 2 steps\nsave\n", count: 40), "check.bsn": "save\n"]
        for (name, text) in scripts { try text.write(to: folder.appendingPathComponent(name), atomically: false, encoding: .utf8) }
        func run(_ arguments: [String], killAfter: Double? = nil) throws -> Child.Result {
            var child = Child(binary: binary, arguments: arguments, folder: folder, memoryLimitKB: c.memoryMB * 1024, deadline: 120, grace: 20)
            child.killAfter = killAfter
            return try child.run()
        }
        guard try run(["run", "setup.bsn"]).outcome == .exited(0) else { throw FuzzError("kill rounds: cannot make the session") }
        var rng = RNG(seed: c.seed &+ 0x5EED), lastStep = 0, failures = [Failure]()
        let session = folder.appendingPathComponent("sessions/k")
        for round in 0..<c.kills {
            _ = try run(["run", "loop.bsn", "--session", "k"], killAfter: 0.05 + 0.6 * Double(rng.uniform()))
            let check = try run(["run", "check.bsn", "--session", "k"])
            let manifest = (try? String(contentsOf: session.appendingPathComponent("session.json"), encoding: .utf8)) ?? ""
            let step = manifest.range(of: "\"step\" : ").flatMap { Int(manifest[$0.upperBound...].prefix { $0.isNumber }) } ?? -1
            let names = (try? fm.contentsOfDirectory(atPath: session.path)) ?? []
            var problem: String?
            if check.outcome != .exited(0) {
                problem = "the session does not open after kill -9: " + ((try? String(contentsOf: folder.appendingPathComponent("stderr.txt"), encoding: .utf8)) ?? "")
            } else if step < lastStep || step % 2 != 0 {
                problem = "reopened at step \(step) after step \(lastStep)"
            } else if names.contains(where: { $0.contains(".tmp-") }) || names.filter({ $0.hasPrefix("state-") }).count != 1 {
                problem = "stale files after a save: \(names.sorted())"
            }
            lastStep = max(lastStep, step)
            progress("[kill -9 \(round + 1)/\(c.kills)] step \(step)" + (problem.map { "  ← \($0)" } ?? ""))
            if let problem {
                let kept = c.output.appendingPathComponent("failures/kills-\(c.seed)-\(round)")
                try? fm.removeItem(at: kept)
                try fm.createDirectory(at: kept.deletingLastPathComponent(), withIntermediateDirectories: true)
                try fm.copyItem(at: folder, to: kept)
                failures.append(Failure(kind: "kills", folder: kept.path, detail: problem))
            }
        }
        return failures
    }

    /// A small trained session, its exported architecture and model, and a picture, made by the binary itself.
    private func makeTemplate(in work: URL, binary: String) throws -> URL {
        let folder = work.appendingPathComponent("template")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let script = """
        load shapes train=64 val=16 test=16
        set batch 16
        build cnf W=2 S=3 C=4
        budget flops 300k lambda=1e-5
        train 2 epochs
        eval test
        export arch arch.json
        export model model.bsnmodel
        render arch image.png
        save base
        """
        try script.write(to: folder.appendingPathComponent("make.bsn"), atomically: false, encoding: .utf8)
        let r = try Child(binary: binary, arguments: ["run", "make.bsn"], folder: folder, memoryLimitKB: configuration.memoryMB * 1024,
                          deadline: 120, grace: 10).run()
        guard r.outcome == .exited(0) else {
            let err = (try? String(contentsOf: folder.appendingPathComponent("stderr.txt"), encoding: .utf8)) ?? ""
            throw FuzzError("cannot make the template session (\(r.outcome)): \(err)")
        }
        return folder
    }

    private func selfPath() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw FuzzError("cannot find the bsn binary (/proc/self/exe)") }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The job counter and the report, shared by the worker threads.
private final class Shared: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0, done = 0
    private(set) var report = Fuzzer.Report()

    func nextJob(below count: Int) -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard next < count else { return nil }
        next += 1
        return next - 1
    }

    func add(_ failure: Fuzzer.Failure) {
        lock.lock(); report.failures.append(failure); lock.unlock()
    }

    func record(_ o: Fuzzer.JobOutcome, total: Int) -> String {
        lock.lock(); defer { lock.unlock() }
        done += 1
        if o.commandLines > 0 { report.commandScripts += 1; report.commandLines += o.commandLines }
        if o.files > 0 { report.fileScripts += 1; report.files += o.files }
        if o.specialFiles > 0 { report.specialScripts += 1; report.specialFiles += o.specialFiles }
        report.sharedRounds += o.sharedRounds
        report.everydayCases += o.everydayCases
        if o.result.interrupted { report.interrupted += 1 }
        report.peakResident = max(report.peakResident, o.result.peakResident)
        if let f = o.failure { report.failures.append(f) }
        return "[\(done)/\(total)] \(report.commandLines) command lines, \(report.files) files, \(report.specialFiles) special, \(report.sharedRounds) concurrency rounds, \(report.everydayCases) everyday cases, \(report.failures.count) failures"
            + (o.failure.map { "  ← \($0.kind): \($0.detail)" } ?? "")
    }
}

extension Fuzzer {
    /// `bsn fuzz`: runs, with progress on stderr (redrawn on a terminal), prints the summary; exit status 1 when a case failed.
    public static func runFromShell(_ configuration: Configuration) throws -> Int32 {
        let interactive = isatty(STDERR_FILENO) == 1
        let report = try Fuzzer(configuration).run { line in
            try? FileHandle.standardError.write(contentsOf: Data((interactive ? "\r\u{1B}[2K" + line : line + "\n").utf8))
        }
        if interactive { try? FileHandle.standardError.write(contentsOf: Data("\n".utf8)) }
        print(report.summary)
        return report.failures.isEmpty ? 0 : 1
    }
}

extension Fuzzer.Configuration {
    /// The configuration `bsn fuzz`'s options describe, checked once; counts
    /// not given take their defaults: special files files/10 (at least 40),
    /// shared-folder rounds and everyday cases files/40 (at least 10 and 12).
    public init(cases: Int?, files: Int?, special: Int?, shared: Int?, everyday: Int?, kills: Int, seed: UInt64, jobs: Int,
                memoryMB: Int, deadline: Int, output: String, keep: Bool, formats: String?) throws {
        for (name, value) in [("--cases", cases), ("--files", files), ("--special", special), ("--shared", shared), ("--everyday", everyday), ("--kills", kills)]
        where (value ?? 0) < 0 {
            throw UsageError("\(name) takes a whole number of at least 0")
        }
        guard memoryMB >= 256 else { throw UsageError("--memory-mb takes at least 256") }
        guard jobs >= 1, deadline >= 1 else { throw UsageError("--jobs and --deadline take at least 1") }
        self.init()
        if let formats {
            self.formats = try formats.split(separator: ",").map { name in
                guard let format = FileMutations.Format(rawValue: String(name)) else { throw UsageError("--formats: no format '\(name)'") }
                return format
            }
        }
        commandLines = cases ?? commandLines
        self.files = files ?? self.files
        specialFiles = special ?? max(40, self.files / 10)
        sharedRounds = shared ?? max(10, self.files / 40)
        everydayCases = everyday ?? max(12, self.files / 40)
        (self.kills, self.seed, self.jobs, self.memoryMB, self.deadline) = (kills, seed, jobs, memoryMB, Double(deadline))
        self.output = URL(fileURLWithPath: output)
        self.keep = keep
    }
}
