import Foundation
import Interface
import Render
import Session
import Tensor

/// One notebook command: its name, usage, one-line help and an example next
/// to the code that runs it. Adding a command is one type and one line in
/// `Registry.commands`. A command parses its words, calls one Session verb
/// and returns what it has to show; the notebook prints it (text, or JSON
/// with `--json`).
public protocol Command: Sendable {
    var name: String { get }
    /// "train <n> steps|epochs"
    var usage: String { get }
    var summary: String { get }
    var example: String { get }
    /// More help (options, defaults), shown by `help <command>`.
    var details: String { get }
    /// Sub-commands and options offered by tab completion ("epochs", "lambda=", "--json").
    var words: [String] { get }
    /// Where `help` lists it.
    var group: CommandGroup { get }
    /// What it does besides printing: whether `export script` replays it, whether rank 0 alone runs it under mpirun.
    var effect: CommandEffect { get }
    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output
}

extension Command {
    public var details: String { "" }
    public var words: [String] { [] }
    public var help: String {
        var text = "\(usage)\n  \(summary)"
        if !details.isEmpty { text += "\n\n" + details.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") }
        text += "\n\nexample:\n  \(example)"
        return text
    }
}

/// Where output goes: stdout (and stderr for errors), copied into the
/// current cell. When stderr is a terminal (the REPL, or a script run from
/// one), progress lines are redrawn in place there; otherwise they are not
/// printed at all. Status lines (what the
/// notebook says on its own: the save at the end of input, files removed
/// when a session opens) go to stdout on a terminal and to stderr when
/// stdout is piped, so that a piped stdout holds the commands' outputs
/// alone (with `--json`, one JSON object per command).
public final class Console {
    public let interactive: Bool
    /// A follower rank under mpirun: only errors are printed (prefixed with the rank); rank 0 prints the rest.
    public let muted: Bool
    /// Nothing is printed, only kept in the cell (the kernel protocol: a `NotebookListener` hears the outputs).
    private let quiet: Bool
    /// This process's rank (under mpirun), which prefixes a follower's errors.
    private let rank: Int
    public private(set) var captured = ""
    private var progressShown = false
    private var boardHeight = 0

    /// Progress lines are drawn (stderr is a terminal).
    public let showsProgress: Bool

    /// On rank `rank` of a run under mpirun, only rank 0 prints all it says. A `quiet` console prints nothing.
    public init(interactive: Bool, rank: Int = 0, quiet: Bool = false) {
        let muted = rank != 0
        self.rank = rank
        self.interactive = interactive && !muted && !quiet
        self.muted = muted
        self.quiet = quiet
        showsProgress = !muted && !quiet && (interactive || isatty(STDERR_FILENO) == 1)
    }

    public func print(_ text: String) {
        endProgress()
        if !muted && !quiet { output(text + "\n") }
        captured += text + "\n"
    }

    /// Bytes for the terminal only (an inline picture): not kept in the cell.
    public func raw(_ text: String) {
        endProgress()
        if muted || quiet { return }
        output(text)
    }

    /// Standard output, whose reader may be gone (`bsn run x.bsn | head`): then the work stops as after SIGTERM.
    private func output(_ text: String) {
        if !StandardStreams.output(text) { Interrupts.closeOutput() }
    }

    /// Whether stdout is a terminal (status lines go there; else to stderr).
    private let stdoutIsTerminal = isatty(STDOUT_FILENO) == 1

    /// A line the notebook says on its own, not a command's output.
    public func status(_ text: String) {
        endProgress()
        if muted || quiet { return }
        if stdoutIsTerminal { output(text + "\n") } else { StandardStreams.error(text + "\n") }
        captured += text + "\n"
    }

    public func error(_ text: String) {
        endProgress()
        if !quiet { StandardStreams.error((muted ? "rank \(rank): " : "") + text + "\n") }
        captured += text + "\n"
    }

    /// A progress line, redrawn in place (terminal only; not kept in the cell).
    public func progress(_ text: String) {
        guard showsProgress else { return }
        StandardStreams.error("\r\u{1B}[2K" + text)
        progressShown = true
    }

    /// A block of lines redrawn in place (terminal only; not kept in the cell): a live table.
    public func board(_ lines: [String]) {
        guard interactive else { return }
        endProgress()
        let up = boardHeight > 0 ? "\u{1B}[\(boardHeight)A\r\u{1B}[J" : ""
        StandardStreams.error(up + lines.joined(separator: "\n") + "\n")
        boardHeight = lines.count
    }

    /// Erases the live block (its final state is printed with the command's output).
    public func endBoard() {
        guard boardHeight > 0 else { return }
        StandardStreams.error("\u{1B}[\(boardHeight)A\r\u{1B}[J")
        boardHeight = 0
    }

    public func endProgress() {
        guard progressShown else { return }
        StandardStreams.error("\r\u{1B}[2K")
        progressShown = false
    }

    func startCell() { captured = "" }
}

/// Ctrl-C (SIGINT): at the prompt it clears the line; while a command runs
/// it cancels the long work (training, evaluation, loading) at the next batch.
/// SIGTERM (`kill`, a scheduler's stop before its kill) does the same, and
/// then the notebook saves what changed and exits with 143.
/// The signal handler can only reach a global, so these tokens are the one
/// place where the signals land; the Session API itself only sees tokens.
/// A closed standard output (its reader is gone) is a stop like SIGTERM:
/// `closeOutput` cancels both tokens, and the notebook saves and exits with 141.
public enum Interrupts {
    public static let sigint = Cancellation()
    public static let sigterm = Cancellation()
    /// The exit status after SIGTERM (128 + 15).
    public static let terminatedStatus: Int32 = 143
    /// The exit status when standard output closed (128 + SIGPIPE, as a shell reports a process its pipe ended).
    public static let outputClosedStatus: Int32 = 141
    /// Set when the notebook's output (standard output, the kernel's frames) found its reader gone.
    public static let outputClosed = Cancellation()
    /// The notebook's output has no reader any more: the work stops at its next batch, then the notebook saves and exits.
    static func closeOutput() {
        outputClosed.cancel()
        sigterm.cancel()
        sigint.cancel()
    }
    /// The status a stop by signal or closed output ends with, or nil when nothing stopped the notebook.
    public static var stopStatus: Int32? {
        guard sigterm.isCancelled else { return nil }
        return outputClosed.isCancelled ? outputClosedStatus : terminatedStatus
    }
    /// What stopped the notebook, for its last line ("SIGTERM", "its output closing").
    static var stopCause: String { outputClosed.isCancelled ? "its output closing (its reader is gone)" : "SIGTERM" }
    public static func install() {
        signal(SIGINT) { _ in Interrupts.sigint.cancel() }
        signal(SIGTERM) { _ in
            Interrupts.sigterm.cancel()
            Interrupts.sigint.cancel()
        }
    }
}

/// Where `help` lists a command, in this order.
public enum CommandGroup: String, CaseIterable, Sendable {
    case data, model, budget = "budget and costs", training, architectures, selection = "model selection", pictures, sessions
}

/// What a command does besides printing.
public struct CommandEffect: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// It changes the session (or may): `export script` replays it.
    public static let changesState = CommandEffect(rawValue: 1)
    /// It prints or writes files only: under mpirun rank 0 alone runs it (the others keep the same state).
    public static let leaderOnly = CommandEffect(rawValue: 2)
    /// It only reads (and prints).
    public static let reads: CommandEffect = []
}

/// What a rich front end (the Jupyter kernel, `KernelServer`) hears of a
/// cell besides the console's text: each output, each error, the lines and
/// live displays shown while a command works.
public protocol NotebookListener: AnyObject {
    /// A command's output (its pictures included: `ShowsPicture`); `asJSON` when the command was given `--json`.
    func shown(_ output: any Output, asJSON: Bool)
    /// A command failed: its one-line error.
    func failed(_ message: String)
    /// A line said while a command works (a sweep's notes).
    func said(_ line: String)
    /// A live display, created on first use of its key and replaced on each update.
    func live(_ display: LiveDisplay)
}

/// A display a long command keeps up to date (training's table and curves, a sweep's table).
public struct LiveDisplay {
    /// Names the display: the same key replaces the display's contents.
    public let key: String
    public let text: String, html: String
    public init(key: String, text: String, html: String) { (self.key, self.text, self.html) = (key, text, html) }
}

/// What a failed command prints on stdout with `--json`.
struct ErrorOutput: Output {
    let error: String
    var text: String { error }
}

/// Runs command lines against a session and keeps the numbered cells.
public final class Notebook {
    public var session: Session
    public let store: SessionStore
    public let console: Console
    /// Cancels the command in progress (Ctrl-C).
    public let cancellation: Cancellation
    public var quitRequested = false
    /// Whether pictures are shown under their cell (`set inline`).
    public var inlinePictures = InlinePictures.auto
    /// The image protocol the terminal speaks, when one was detected (the REPL asks at start).
    public var terminalImages: TerminalImage.Kind?
    /// The executable a sweep runs its children in (`bsn sweep-worker`); nil runs them in this process, one after the other.
    public var sweepWorker: URL?
    /// Hears every output, error and live display (the Jupyter kernel's protocol); nil on a terminal or in a script.
    public var listener: NotebookListener?
    /// The cell in progress prints JSON (`--json`): live lines are left out.
    private(set) var printsJSON = false
    /// The cell in progress is the notebook's own (`execute(implicit:)`): its output is a status line.
    private var showsStatus = false
    /// What the notebook's own cells' status lines start with ("train.bsn:6: stopped: "), when set.
    var statusPrefix: String?
    /// Cells since the session was opened or created (numbers continue the session's).
    public var nextCell: Int { (session.cells.last?.number ?? 0) + 1 }

    public init(session: Session, store: SessionStore, console: Console, cancellation: Cancellation = Interrupts.sigint) {
        self.session = session
        self.store = store
        self.console = console
        self.cancellation = cancellation
    }

    /// A line shown while a command works (a row of the training table); not part of its JSON.
    func live(_ line: String) {
        if printsJSON { return }
        console.print(line)
        listener?.said(line)
    }

    /// The cancellation token for a command's long work, reset: a Ctrl-C from before does not stop it.
    var freshCancellation: Cancellation {
        cancellation.reset()
        return cancellation
    }


    /// The longest line a cell runs (bytes).
    static let longestLine = 1 << 20

    /// Runs one line as a cell; returns false when the command failed (its
    /// one-line error is printed, prefixed with `location` (file:line) when
    /// given; nothing else changes). With `--json` the cell prints exactly one
    /// JSON object on stdout: its output, or `{"error": …}` when it failed (the
    /// error is on stderr too). An `implicit` cell is one the notebook runs on
    /// its own (the save at the end of input): its output is a status line.
    @discardableResult
    public func execute(_ line: String, location: String? = nil, implicit: Bool = false) -> Bool {
        // No command is a megabyte long: such a line (a paste gone wrong) is one error, recorded by its start.
        let length = line.utf8.count, tooLong = length > Self.longestLine
        let line = tooLong ? String(line.prefix(200)) + "…" : line
        let number = nextCell, current = session
        console.startCell()
        var ok = true
        // Set for the whole cell, its error included (a word "--json" asks for JSON even when the line fails to parse).
        printsJSON = line.split(whereSeparator: \.isWhitespace).contains("--json")
        showsStatus = implicit
        defer { (printsJSON, showsStatus) = (false, false) }
        do {
            if tooLong { throw UsageError("a line of \(length) bytes is too long for a command (at most \(Self.longestLine))") }
            let words = try tokenize(line, variables: session.variables)
            guard let name = words.first else { return true }       // blank or comment: not a cell
            guard let command = Registry.find(name) else {
                throw UsageError("unknown command '\(shown(name))'" + didYouMean(name, in: Registry.names) + " (help lists the commands)")
            }
            // The cell is recorded before the command runs, so that a save
            // made by the command (save, train, quit) includes it.
            session.record(cell: number, command: line)
            var arguments = try Arguments(command: command.name, words: Array(words.dropFirst()))
            printsJSON = arguments.flag("json")
            if arguments.flag("help") {
                show(Message(command.help))
            } else if !store.ranks.isLeader && command.effect.contains(.leaderOnly) {
                // Under mpirun rank 0 writes the files and prints; the others keep the same state.
            } else {
                show(try command.run(&arguments, self))
            }
        } catch {
            ok = false
            if let partial = error as? FailureWithOutput { show(partial.output) }
            // Errors of the Session API say what went wrong; the command's name (and its sub-command) say where.
            // A pasted megabyte that a message quotes is shown by its start.
            var text = shortenedWords("\(error)")
            if error is SessionError {
                // "lr: expected …" from the verb becomes "set lr: expected …".
                let place = place(of: line), sub = place.split(separator: " ").dropFirst().first.map(String.init)
                text = sub.map { text.hasPrefix($0 + ":") } == true ? "\(place.split(separator: " ")[0]) \(text)" : "\(place): \(text)"
            }
            console.error((location.map { $0 + ": " } ?? "") + "error: " + text)
            listener?.failed(text)
            // With --json the cell's one object on stdout: the error (a partial output was that object already).
            if printsJSON && !(error is FailureWithOutput) && !console.muted { console.print(ErrorOutput(error: text).json) }
        }
        // Under mpirun every rank finishes the command before any starts the next (rank 0's files are written).
        store.ranks.barrier()
        guard session === current else { return ok }            // open replaced the session: its cells are its own
        session.record(cell: number, command: line, output: console.captured, failed: !ok)
        return ok
    }

    /// Prints what a command returned: its text, or its JSON with `--json`.
    private func show(_ output: any Output) {
        listener?.shown(output, asJSON: printsJSON)
        if printsJSON { return console.print(output.json) }
        if showsStatus { return output.text.isEmpty ? () : console.status((statusPrefix ?? "") + output.text) }
        if !output.text.isEmpty { console.print(output.text) }
        showInline(output)
    }

    /// "set lr", "export arch", "train": the command and, when it is one of the command's own words, its first argument.
    private func place(of line: String) -> String {
        let words = (try? tokenize(line, variables: session.variables)) ?? []
        guard let name = words.first, let command = Registry.find(name) else { return words.first ?? "" }
        if words.count > 1, command.words.contains(words[1]) { return "\(command.name) \(words[1])" }
        return command.name
    }

}
