import Foundation
import Session

struct SaveCommand: Command {
    let name = "save"
    let usage = "save [name]"
    let summary = "saves the whole session to sessions/<name>/ (atomic, checksummed); with a name: save as (the old folder stays as last saved)"
    let example = "save cifar-run-1"

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let newName = a.next()
        try a.finish()
        if let newName {
            try SessionStore.check(name: newName)
            nb.session.name = newName
        }
        try nb.save()
        nb.console.print("saved session '\(nb.session.name)' in \(nb.store.folder(nb.session.name).path)")
    }
}

struct OpenCommand: Command {
    let name = "open"
    let usage = "open <name>"
    let summary = "saves the current session, then opens a saved one where it stopped"
    let example = "open cifar-run-1"

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let target = try a.required("a session name (sessions lists them)")
        try a.finish()
        // Read the target completely before touching the current session.
        var removed = [String]()
        let opened = try nb.store.open(target, progress: { done, total in nb.console.progress("decoding images \(done)/\(total)") },
                                       removed: { removed = $0 })
        _ = try nb.saveBeforeLeaving()
        nb.session = opened
        let s = opened
        nb.console.print("opened '\(target)': " + [s.dataset?.name, s.modelSpec?.fabric.summary, s.trainer.map { "step \($0.step)" }, "\(s.cells.count) cells"]
                            .compactMap { $0 }.joined(separator: ", "))
        if !removed.isEmpty { nb.console.print(SessionStore.describeRemoved(removed)) }
    }
}

struct SessionsCommand: Command {
    let name = "sessions"
    let usage = "sessions [--json]"
    let summary = "the saved sessions with their dataset, model, steps and last accuracy"
    let example = "sessions"
    let words = ["--json"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let json = a.flag("json")
        try a.finish()
        let list = nb.store.list()
        if json { return try nb.printJSON(list) }
        guard !list.isEmpty else { return nb.console.print("no saved sessions in \(nb.store.root.path)") }
        let nameWidth = max(12, (list.map(\.name.count).max() ?? 0) + 4)
        var lines = [pad("name", nameWidth) + pad("dataset", 30) + pad("model", 28) + padLeft("steps", 8) + padLeft("accuracy", 10) + "  saved"]
        for s in list {
            if let problem = s.problem { lines.append(pad(s.name, nameWidth) + "unreadable: \(problem)"); continue }
            lines.append(pad(s.name + (s.name == nb.session.name ? " *" : ""), nameWidth) + pad(s.dataset ?? "-", 30) + pad(s.model ?? "-", 28)
                         + padLeft(String(s.steps), 8) + padLeft(s.lastAccuracy.map { String(format: "%.3f", $0) } ?? "-", 10) + "  " + s.savedAt)
        }
        nb.console.print(lines.joined(separator: "\n"))
    }
}

struct NewCommand: Command {
    let name = "new"
    let usage = "new <name>"
    let summary = "saves the current session and starts an empty one with this name"
    let example = "new cifar-run-2"

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let target = try a.required("a name for the new session")
        try a.finish()
        try SessionStore.check(name: target)
        guard !FileManager.default.fileExists(atPath: nb.store.folder(target).appendingPathComponent("session.json").path) else {
            throw UsageError("new: a session '\(target)' exists already (open \(target) to continue it)")
        }
        if try nb.saveBeforeLeaving() { nb.console.print("saved session '\(nb.session.name)'") }
        let fresh = Session(name: target, seed: nb.session.settings.seed)
        fresh.variables = nb.session.variables
        nb.session = fresh
        nb.console.print("new session '\(target)'")
    }
}
