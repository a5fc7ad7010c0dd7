import Foundation

/// Every command, in the order `help` lists them.
public enum Registry {
    public static let commands: [any Command] = [
        Help(), LoadCommand(), DataCommand(), BuildCommand(), SummaryCommand(), BudgetCommand(), CostsCommand(),
        SetCommand(), ScheduleCommand(), WarmupCommand(), TrainCommand(), EvalCommand(),
        SampleCommand(), InspectCommand(), ArchCommand(), ExportCommand(), RenderCommand(),
        SaveCommand(), OpenCommand(), NewCommand(), SessionsCommand(), HistoryCommand(), QuitCommand(),
    ]
    public static let aliases = ["exit": "quit", "?": "help"]

    /// How `help` groups the commands.
    static let groups: [(String, [String])] = [
        ("data", ["load", "data"]), ("model", ["build", "summary"]), ("budget and costs", ["budget", "costs"]),
        ("training", ["set", "schedule", "warmup", "train", "eval"]),
        ("architectures", ["sample", "inspect", "arch", "export"]), ("pictures", ["render"]),
        ("sessions", ["save", "open", "new", "sessions", "history", "quit", "help"]),
    ]

    public static var names: [String] { commands.map(\.name) }

    public static func find(_ name: String) -> (any Command)? {
        let n = aliases[name] ?? name
        return commands.first { $0.name == n }
    }
}

extension Notebook {
    /// Prints one JSON object (for `--json`).
    func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        console.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

struct Help: Command {
    let name = "help"
    let usage = "help [command]"
    let summary = "lists the commands, or explains one"
    let example = "help train"
    var words: [String] { Registry.names }

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        if let topic = a.next() {
            try a.finish()
            guard let c = Registry.find(topic) else {
                throw UsageError("no command '\(topic)'" + didYouMean(topic, in: Registry.names))
            }
            nb.console.print(c.help)
            return
        }
        try a.finish()
        var lines = ["Commands (help <command> or <command> --help: usage, details and an example):"]
        for (group, names) in Registry.groups {
            lines.append("")
            lines.append(group)
            for name in names {
                if let c = Registry.find(name) { lines.append("  " + pad(c.name, 10) + c.summary) }
            }
        }
        lines += ["", "Scripts: bsn run file.bsn [--echo] [--keep-going]; # starts a comment; set name value, then $name."]
        nb.console.print(lines.joined(separator: "\n"))
    }
}

struct HistoryCommand: Command {
    let name = "history"
    let usage = "history [n] [--output]"
    let summary = "the session's cells: number, command (! when it failed), and with --output what it printed"
    let example = "history 5 --output"
    let words = ["--output"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let n = try a.next().map { w -> Int in
            guard let n = parseWhole(w), n > 0 else { throw UsageError("history: expected a number of cells, got '\(w)'") }
            return n
        }
        let withOutput = a.flag("output")
        try a.finish()
        // The cell running this command is the last one: leave it out.
        let earlier = Array(nb.session.cells.dropLast())
        let cells = earlier.suffix(n ?? earlier.count)
        if cells.isEmpty { nb.console.print("(no cells yet)") }
        for c in cells {
            nb.console.print(String(format: "[%d]%@ %@", c.number, c.failed ? "!" : " ", c.command))
            if withOutput && !c.output.isEmpty {
                nb.console.print(c.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "      " + $0 }.joined(separator: "\n"))
            }
        }
    }
}

struct QuitCommand: Command {
    let name = "quit"
    let usage = "quit [--no-save]"
    let summary = "saves the session and leaves (Ctrl-D does the same)"
    let example = "quit"
    let words = ["--no-save"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let noSave = a.flag("no-save")
        try a.finish()
        if !noSave {
            try nb.save()
            nb.console.print("saved session '\(nb.session.name)' in \(nb.store.folder(nb.session.name).path)")
        }
        nb.quitRequested = true
    }
}
