import Foundation
import Interface
import Session

/// Every command, in the order `help` lists them.
public enum Registry {
    public static let commands: [any Command] = [
        Help(), LoadCommand(), DataCommand(), BuildCommand(), SummaryCommand(), BudgetCommand(), CostsCommand(),
        SetCommand(), ScheduleCommand(), WarmupCommand(), TrainCommand(), EvalCommand(),
        SampleCommand(), InspectCommand(), ArchCommand(), ExportCommand(), SweepCommand(), ParetoCommand(), InferCommand(), RenderCommand(),
        SaveCommand(), OpenCommand(), NewCommand(), SessionsCommand(), HistoryCommand(), ClearCommand(), QuitCommand(),
    ]
    public static let aliases = ["exit": "quit", "?": "help"]

    /// The commands `export script` leaves out (they change nothing), by every name they answer to.
    static var readOnly: Set<String> {
        Set(commands.filter { !$0.effect.contains(.changesState) }.map(\.name) + aliases.filter { find($0.value)?.effect.contains(.changesState) == false }.map(\.key))
    }

    public static var names: [String] { commands.map(\.name) }

    public static func find(_ name: String) -> (any Command)? {
        let n = aliases[name] ?? name
        return commands.first { $0.name == n }
    }
}

struct Help: Command {
    let name = "help"
    let group = CommandGroup.sessions
    let effect: CommandEffect = .leaderOnly
    let usage = "help [command]"
    let summary = "lists the commands, or explains one"
    let example = "help train"
    var words: [String] { Registry.names }

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        if let topic = a.next() {
            try a.finish()
            guard let c = Registry.find(topic) else {
                throw UsageError("no command '\(shown(topic))'" + didYouMean(topic, in: Registry.names))
            }
            return Message(c.help)
        }
        try a.finish()
        var lines = ["Commands (help <command> or <command> --help: usage, details and an example):"]
        for group in CommandGroup.allCases {
            lines.append("")
            lines.append(group.rawValue)
            // Help last in its group, as the last thing to ask.
            for c in Registry.commands.filter({ $0.group == group }).sorted(by: { ($0.name == "help" ? 1 : 0) < ($1.name == "help" ? 1 : 0) }) {
                lines.append("  " + Table.pad(c.name, 10) + c.summary)
            }
        }
        lines += ["", "Scripts: bsn run file.bsn [--echo] [--keep-going]; # starts a comment; set name value, then $name.",
                  "Every command takes --json: its output as one JSON object."]
        return Message(lines.joined(separator: "\n"))
    }
}

struct HistoryCommand: Command {
    let name = "history"
    let group = CommandGroup.sessions
    let effect: CommandEffect = .leaderOnly
    let usage = "history [n] [--output]"
    let summary = "the session's cells: number, command (! when it failed), and with --output what it printed"
    let example = "history 5 --output"
    let words = ["--output"]

    /// The cells, and with `--output` what each printed.
    struct History: Output {
        let cells: [Cell], withOutput: Bool
        var text: String {
            guard !cells.isEmpty else { return "(no cells yet)" }
            return cells.map { c in
                var text = String(format: "[%d]%@ %@", c.number, c.failed ? "!" : " ", c.command)
                if withOutput && !c.output.isEmpty {
                    text += "\n" + c.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "      " + $0 }.joined(separator: "\n")
                }
                return text
            }.joined(separator: "\n")
        }
        func encode(to encoder: any Encoder) throws {
            enum Key: String, CodingKey { case cells }
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(withOutput ? cells : cells.map { Cell(number: $0.number, command: $0.command, output: "", failed: $0.failed) }, forKey: .cells)
        }
    }

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let n = try a.next().map { w -> Int in
            guard let n = parseWhole(w), n > 0 else { throw UsageError("history: expected a number of cells, got '\(w)'") }
            return n
        }
        let withOutput = a.flag("output")
        try a.finish()
        // The cell running this command is the last one: leave it out.
        let earlier = Array(nb.session.cells.dropLast())
        return History(cells: Array(earlier.suffix(n ?? earlier.count)), withOutput: withOutput)
    }
}

struct QuitCommand: Command {
    let name = "quit"
    let group = CommandGroup.sessions
    let effect: CommandEffect = .reads
    let usage = "quit [--no-save]"
    let summary = "saves the session and leaves (Ctrl-D does the same)"
    let example = "quit"
    let words = ["--no-save"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let noSave = a.flag("no-save")
        try a.finish()
        let saved = noSave ? nil : try nb.store.saveSession(nb.session)
        nb.quitRequested = true
        return saved ?? Message("")
    }
}

struct ClearCommand: Command {
    let name = "clear"
    let group = CommandGroup.sessions
    let effect: CommandEffect = .reads
    let usage = "clear"
    let summary = "clears the terminal screen (as Ctrl-L does); nothing in a script or a pipe"
    let example = "clear"

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        try a.finish()
        if nb.console.interactive && !nb.printsJSON { nb.console.raw("\u{1B}[H\u{1B}[2J\u{1B}[3J") }
        return Message("")
    }
}
