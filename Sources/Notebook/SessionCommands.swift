import Foundation
import Interface
import Session

struct SaveCommand: Command {
    let name = "save"
    let group = CommandGroup.sessions
    let effect: CommandEffect = .reads
    let usage = "save [name]"
    let summary = "saves the whole session to sessions/<name>/ (atomic, checksummed); with a name: save as (the old folder stays as last saved)"
    let example = "save cifar-run-1"

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let newName = a.next()
        try a.finish()
        return try nb.store.save(nb.session, as: newName)
    }
}

struct OpenCommand: Command {
    let name = "open"
    let group = CommandGroup.sessions
    let effect: CommandEffect = .reads
    let usage = "open <name>"
    let summary = "saves the current session, then opens a saved one where it stopped"
    let example = "open cifar-run-1"

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let target = try a.required("a session name (sessions lists them)")
        try a.finish()
        let progress = { (done: Int, total: Int) in nb.console.progress("decoding images \(done)/\(total)") }
        let (opened, report) = try nb.store.switchSession(from: nb.session, to: target, progress: progress)
        nb.session = opened
        return report
    }
}

struct SessionsCommand: Command {
    let name = "sessions"
    let group = CommandGroup.sessions
    let effect: CommandEffect = .leaderOnly
    let usage = "sessions [--json]"
    let summary = "the saved sessions with their dataset, model, steps and last accuracy"
    let example = "sessions"
    let words = ["--json"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        try a.finish()
        return nb.store.sessions(current: nb.session.name)
    }
}

struct NewCommand: Command {
    let name = "new"
    let group = CommandGroup.sessions
    let effect: CommandEffect = .changesState
    let usage = "new <name>"
    let summary = "saves the current session and starts an empty one with this name"
    let example = "new cifar-run-2"

    struct Output: Interface.Output {
        let saved: SessionReport?, created: String
        var text: String {
            let removed = saved.map { $0.removedFiles.isEmpty ? "" : SessionStore.describeRemoved($0.removedFiles) + "\n" } ?? ""
            return removed + (saved.map { "saved session '\($0.name)'\n" } ?? "") + "new session '\(created)'"
        }
    }

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Interface.Output {
        let target = try a.required("a name for the new session")
        try a.finish()
        let (fresh, saved) = try nb.store.newSession(target, from: nb.session)
        nb.session = fresh
        return Output(saved: saved, created: target)
    }
}
