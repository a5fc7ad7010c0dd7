import Foundation
import Interface
import Session

struct SampleCommand: Command {
    let name = "sample"
    let usage = "sample [n] [--json]"
    let summary = "draws n architectures from the gate distribution and prints their costs"
    let example = "sample 5"
    let words = ["--json"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let countWord = a.next() ?? "5"
        guard let n = parseWhole(countWord), (1...10_000).contains(n) else { throw UsageError("sample: expected a number of architectures in 1…10000, got '\(countWord)'") }
        try a.finish()
        return try nb.session.sample(n)
    }
}

struct InspectCommand: Command {
    let name = "inspect"
    let usage = "inspect [--all] [--json]"
    let summary = "the gate distribution: per-gate probability and entropy, expected vs deterministic cost vs budget"
    let example = "inspect"
    let words = ["--all", "--json"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let all = a.flag("all")
        try a.finish()
        return try nb.session.inspect(all: all)
    }
}

struct ArchCommand: Command {
    let name = "arch"
    let usage = "arch"
    let summary = "the deterministic architecture (gates with p > 0.5), pruned to its input → output paths"
    let example = "arch"

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        try a.finish()
        return try nb.session.architecture()
    }
}

struct ExportCommand: Command {
    let name = "export"
    let usage = "export arch <file.json> | export script <file.bsn>"
    let summary = "writes the deterministic architecture (loadable with build from), or the session's commands as a script"
    let example = "export arch found.json"
    let words = ["arch", "script"]
    /// Commands left out of an exported script: they change nothing a replay needs.
    static let readOnly: Set<String> = ["help", "history", "data", "summary", "costs", "inspect", "sample", "arch", "sessions", "export", "quit", "exit", "open", "save"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let what = try a.required("arch or script")
        let path = try a.required("a file name")
        try a.finish()
        switch what {
        case "arch": return try nb.session.exportArchitecture(to: path)
        case "script": return try nb.session.exportScript(to: path, readOnlyCommands: Self.readOnly)
        default: throw UsageError("export: expected arch or script, got '\(what)'")
        }
    }
}
