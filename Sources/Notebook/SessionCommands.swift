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
        let oldName = nb.session.name
        if let newName {
            try SessionStore.check(name: newName)
            nb.session.name = newName
        }
        do { return try nb.store.saveSession(nb.session) } catch {
            nb.session.name = oldName           // not saved there: the session stays what it was
            throw error
        }
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
        let opened: Session, report: SessionReport, left: SessionReport?
        if target == nb.session.name {
            // The current session, again (as last saved): saved first if it changed, then read back under its own lock.
            left = try nb.saveBeforeLeaving()
            (opened, report) = try nb.store.reopen(target, holding: nb.session.lock, progress: progress)
        } else {
            // Read the target completely before touching the current session.
            (opened, report) = try nb.store.reopen(target, progress: progress)
            left = try nb.saveBeforeLeaving()
        }
        nb.session = opened
        return SessionReport(action: .opened, name: report.name, folder: report.folder, contents: report.contents,
                             removedFiles: (left?.removedFiles ?? []) + report.removedFiles, readOnly: report.readOnly)
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
        try SessionStore.check(name: target)
        guard !nb.store.exists(target) else { throw UsageError("new: a session '\(target)' exists already (open \(target) to continue it)") }
        let saved = try nb.saveBeforeLeaving()
        let fresh = Session(name: target, seed: nb.session.settings.seed)
        fresh.variables = nb.session.variables
        nb.session = fresh
        return Output(saved: saved, created: target)
    }
}
