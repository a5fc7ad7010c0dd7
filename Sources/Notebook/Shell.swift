import Foundation
import Interface
import Session
import Tensor

/// The notebook from the shell: `bsn [--session NAME]` (the REPL on a
/// terminal, a script from standard input otherwise) and `bsn run FILE`.
/// Each returns the process's exit status.
public enum Shell {
    /// `bsn [--session NAME]`: the saved session of that name (or a new one, or
    /// a fresh notebook-<time> without a name). Under mpirun the REPL is not
    /// offered: rank 0 reads the script from standard input and gives it to the others.
    public static func notebook(session name: String?, ranks: any Communicator, worker: URL) throws -> Int32 {
        let store = SessionStore.default(ranks: ranks)
        let interactive = !ranks.distributed && isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
        let (opened, report) = try open(name, in: store)
        let nb = Notebook(session: opened, store: store, console: Console(interactive: interactive, rank: ranks.rank))
        nb.sweepWorker = worker
        if interactive { return REPL.run(nb, opened: report) }
        // What was opened, as a status line (stderr when stdout is piped).
        if let report { nb.console.status(report.text) }
        Interrupts.install()
        let input = ranks.isLeader ? FileHandle.standardInput.readDataToEndOfFile() : Data()
        let text = String(decoding: ranks.broadcast(input), as: UTF8.self)
        var status = Script.run(text, file: "<stdin>", in: nb, options: .init())
        // End of input is Ctrl-D (SIGTERM and a closed output end it too): a session that changed is saved, and a save that fails is the exit status.
        let end = Interrupts.stopStatus != nil ? "<stdin>: \(Interrupts.stopCause)" : "<stdin>: end of input"
        if !nb.quitRequested && nb.session.hasUnsavedChanges() && !nb.execute("quit", location: end, implicit: true) { status = 1 }
        return status
    }

    /// `bsn sweep-child PARENT [INDEX] [--threads T]`: trains one child of a
    /// planned sweep, as a job-array task. The index defaults to
    /// `$SLURM_ARRAY_TASK_ID`, the threads to `$SLURM_CPUS_PER_TASK`, else every
    /// core. SIGTERM (Slurm's time limit) stops it at the next batch, saved.
    public static func sweepChild(parent: String, index: Int?, threads: Int?) throws -> Int32 {
        let env = ProcessInfo.processInfo.environment
        guard let index = index ?? Int(env["SLURM_ARRAY_TASK_ID"] ?? "") else {
            throw UsageError("give the child's index, or run as a job-array task (SLURM_ARRAY_TASK_ID)")
        }
        let slurm = Int(env["SLURM_CPUS_PER_TASK"] ?? "").map { min(max($0, 1), 256) }
        let threads = threads ?? slurm ?? ProcessInfo.processInfo.activeProcessorCount
        guard (try? Settings.Declared.threads.checked(threads)) != nil else {
            throw UsageError("--threads takes \(Settings.Declared.threads.domain.expected), got \(threads)")
        }
        Interrupts.install()
        let outcome = try SweepTask.run(store: SessionStore.default(), parent: parent, index: index, threads: threads, cancel: Interrupts.sigint) {
            print($0)
        }
        print(outcome.message)
        return Interrupts.sigterm.isCancelled && outcome.status != 0 ? Interrupts.terminatedStatus : outcome.status
    }

    /// `BSN_PEAK_MEMORY=1`: at exit, the process's peak resident memory
    /// (VmHWM) on stderr, for tests and the fuzz harness (a spawning parent's
    /// size would inflate a child's rusage).
    public static func reportPeakMemoryAtExitIfAsked() {
        guard ProcessInfo.processInfo.environment["BSN_PEAK_MEMORY"] != nil else { return }
        atexit { StandardStreams.error("bsn: peak resident memory \(Int(Memory.peakResident() / 1024)) kB\n") }
    }

    /// `bsn run FILE`: runs a script of notebook commands (`$NAME` in it is
    /// `variables[NAME]`); FILE "-" is standard input. With a session name it
    /// continues (or creates) that session; otherwise the script starts a
    /// fresh session named after it (its save replaces the old one).
    public static func run(_ file: String, session name: String?, variables: [String: String], options: Script.Options,
                           ranks: any Communicator, worker: URL) throws -> Int32 {
        // Standard input reaches rank 0 alone: it reads the script and gives it to the others.
        let text = String(decoding: ranks.broadcast(ranks.isLeader ? Data(try readScript(file).utf8) : Data()), as: UTF8.self)
        Interrupts.install()
        let store = SessionStore.default(ranks: ranks)
        let base = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        let fresh = file == "-" ? "stdin" : base.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        let opened = try name.map { try open($0, in: store) }
        let nb = Notebook(session: opened?.0 ?? Session(name: fresh.isEmpty ? "script" : fresh, ranks: ranks),
                          store: store, console: Console(interactive: false, rank: ranks.rank))
        if let report = opened?.1 { nb.console.status(report.text) }
        for (name, value) in variables { nb.session.define(name, as: value) }
        nb.sweepWorker = worker
        var status = Script.run(text, file: file, in: nb, options: options)
        // A script stopped (SIGTERM, a closed output; training stopped at the
        // next batch and saved itself) keeps what it did; so does one that
        // failed when its session is on disk (--session, or saved by the
        // script): the cells that ran, the failing one marked.
        let stopped = Interrupts.stopStatus != nil
        if status != 0 && (stopped || name != nil || nb.session.isSaved) && nb.session.hasUnsavedChanges() && !nb.quitRequested {
            let cause = stopped ? Interrupts.stopCause : status == 130 ? "Ctrl-C" : "a command failed"
            nb.statusPrefix = "\(file): \(cause): "
            if !nb.execute("quit", location: "\(file): \(cause)", implicit: true) { status = 1 }
        }
        return status
    }

    /// The session of that name, saying on a terminal how far the decoding of
    /// its images is; without a name, a new session of a name no other has.
    static func open(_ name: String?, in store: SessionStore) throws -> (Session, SessionReport?) {
        guard let name else {
            // Under mpirun every rank takes rank 0's name (their pids differ).
            let fresh = String(decoding: store.ranks.broadcast(Data(store.freshName().utf8)), as: UTF8.self)
            return (Session(name: fresh, ranks: store.ranks), nil)
        }
        let interactive = isatty(STDERR_FILENO) == 1
        do {
            let opened = try store.openOrCreate(name, progress: interactive ? { done, total in
                StandardStreams.error("\r\u{1B}[2Kdecoding images \(done)/\(total)")
            } : nil)
            if interactive { StandardStreams.error("\r\u{1B}[2K") }
            return opened
        } catch {
            throw ShellFailure("bsn: \(error)")
        }
    }

    /// A script's text: a file (pipes and /dev/stdin included), or standard input for "-".
    static func readScript(_ file: String) throws -> String {
        let handle: FileHandle
        if file == "-" {
            handle = FileHandle.standardInput
        } else {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isFolder) else { throw ShellFailure("bsn run: cannot read \(file) (no such file)") }
            guard !isFolder.boolValue else { throw ShellFailure("bsn run: \(file) is a folder, expected a script file") }
            guard let h = FileHandle(forReadingAtPath: file) else { throw ShellFailure("bsn run: cannot read \(file) (permission denied?)") }
            handle = h
        }
        let data: Data
        do { data = try handle.readToEnd() ?? Data() } catch { throw ShellFailure("bsn run: cannot read \(file) (\(error.localizedDescription))") }
        guard let text = String(data: data, encoding: .utf8) else { throw ShellFailure("bsn run: \(file) is not a UTF-8 text file") }
        return text
    }
}
