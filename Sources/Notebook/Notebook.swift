import Foundation
import Session
import Synchronization

/// One notebook command: its name, usage, one-line help and an example next
/// to the code that runs it. Adding a command is one type and one line in
/// `Registry.commands`.
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
    func run(_ a: inout Arguments, _ nb: Notebook) throws
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
/// current cell. On a terminal, progress lines are redrawn in place on
/// stderr; in scripts they are not printed at all.
public final class Console {
    public let interactive: Bool
    public private(set) var captured = ""
    private var progressShown = false

    public init(interactive: Bool) { self.interactive = interactive }

    public func print(_ text: String) {
        endProgress()
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
        captured += text + "\n"
    }

    public func error(_ text: String) {
        endProgress()
        FileHandle.standardError.write(Data((text + "\n").utf8))
        captured += text + "\n"
    }

    /// A progress line, redrawn in place (terminal only; not kept in the cell).
    public func progress(_ text: String) {
        guard interactive else { return }
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + text).utf8))
        progressShown = true
    }

    public func endProgress() {
        guard progressShown else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
        progressShown = false
    }

    func startCell() { captured = "" }
}

/// Ctrl-C: at the prompt it clears the line; while a command runs it asks
/// long work (training) to stop at the next batch boundary.
public enum Interrupt {
    private static let flag = Atomic<Bool>(false)
    public static var requested: Bool { flag.load(ordering: .relaxed) }
    public static func request() { flag.store(true, ordering: .relaxed) }
    public static func clear() { flag.store(false, ordering: .relaxed) }
}

/// Runs command lines against a session and keeps the numbered cells.
public final class Notebook {
    public var session: Session
    public let store: SessionStore
    public let console: Console
    public var quitRequested = false
    /// Cells since the session was opened or created (numbers continue the session's).
    public var nextCell: Int { (session.cells.last?.number ?? 0) + 1 }

    public init(session: Session, store: SessionStore, console: Console) {
        self.session = session
        self.store = store
        self.console = console
    }

    /// Runs one line as a cell; returns false when the command failed (its
    /// one-line error is printed, prefixed with `location` (file:line) when
    /// given; nothing else changes).
    @discardableResult
    public func execute(_ line: String, location: String? = nil) -> Bool {
        let number = nextCell, current = session
        console.startCell()
        var ok = true
        do {
            let words = try tokenize(line, variables: session.variables)
            guard let name = words.first else { return true }       // blank or comment: not a cell
            guard let command = Registry.find(name) else {
                let shown = name.count > 40 ? name.prefix(40) + "…" : Substring(name)
                throw UsageError("unknown command '\(shown)'" + didYouMean(name, in: Registry.names) + " (help lists the commands)")
            }
            // The cell is recorded before the command runs, so that a save
            // made by the command (save, train, quit) includes it.
            session.cells.append(Cell(number: number, command: line, output: "", failed: false))
            var arguments = try Arguments(command: command.name, words: Array(words.dropFirst()))
            if arguments.flag("help") {
                console.print(command.help)
            } else {
                try command.run(&arguments, self)
            }
        } catch {
            ok = false
            console.error((location.map { $0 + ": " } ?? "") + "error: \(error)")
        }
        guard session === current else { return ok }            // open replaced the session: its cells are its own
        if session.cells.last?.number == number {
            session.cells[session.cells.count - 1].output = console.captured
            session.cells[session.cells.count - 1].failed = !ok
        } else {
            session.cells.append(Cell(number: number, command: line, output: console.captured, failed: !ok))
        }
        return ok
    }

    /// Saves the session (autosave after training and on quit), and says
    /// which stale files of earlier, interrupted saves it removed.
    public func save() throws {
        let removed = try store.save(session)
        if !removed.isEmpty { console.print(SessionStore.describeRemoved(removed)) }
    }

    /// Saves the session before it is replaced, unless nothing happened in it.
    /// Returns whether it saved.
    func saveBeforeLeaving() throws -> Bool {
        guard !session.cells.isEmpty || session.network != nil else { return false }
        try save()
        return true
    }
}
