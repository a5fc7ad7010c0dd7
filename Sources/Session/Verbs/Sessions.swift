import Files
import Foundation
import Interface

/// What `sessions` shows: the saved sessions, the current one marked.
public struct SessionList: TabularOutput, Sendable {
    public let root: String, current: String?, sessions: [SessionStore.Listing]

    public var text: String { Block.text(blocks) }

    public var blocks: [Block] {
        guard !sessions.isEmpty else { return [.text("no saved sessions in \(root)")] }
        let nameWidth = max(12, (sessions.map(\.name.count).max() ?? 0) + 4)
        // Accuracies of each session's own deterministic architecture, by split: validation (every epoch) and test (when evaluated).
        var table = Table([.left("name", nameWidth), .left("dataset", 30), .left("model", 28), .right("steps", 8), .right("val acc", 9), .right("test acc", 9),
                           .left("  saved", 0)])
        for s in sessions {
            if let problem = s.problem { table.note(Table.pad(s.name, nameWidth) + "unreadable: \(problem)"); continue }
            // "in use by pid 4242 on node-3": the process that holds it now.
            let inUse = s.holder.map { holder in "  in use by " + (holder.range(of: " (").map { String(holder[..<$0.lowerBound]) } ?? holder) } ?? ""
            table.add([s.name + (s.name == current ? " *" : ""), s.dataset ?? "-", s.model ?? "-", String(s.steps),
                       s.validationAccuracy.map { Format.fixed($0, 3) } ?? "-", s.testAccuracy.map { Format.fixed($0, 3) } ?? "-",
                       "  " + s.savedAt + (s.name == current ? "" : inUse)])
        }
        return [.table(table)]
    }
}

/// What `save` and `open` report.
public struct SessionReport: Output, Sendable {
    public enum Action: String, Codable, Sendable { case saved, opened, created }
    public let action: Action, name: String, folder: String
    /// For `opened`: dataset, model, step and cell count.
    public let contents: [String]
    /// Stale files of earlier, interrupted saves that were removed.
    public let removedFiles: [String]
    /// For `opened`: why it is read-only (another process holds it), when it is.
    public var readOnly: String? = nil
    /// For `opened`: what loading its dataset again said (a changed folder, a warning).
    public var notes: [String] = []

    public init(action: Action, name: String, folder: String, contents: [String], removedFiles: [String], readOnly: String? = nil) {
        (self.action, self.name, self.folder, self.contents, self.removedFiles, self.readOnly) = (action, name, folder, contents, removedFiles, readOnly)
    }

    public var text: String {
        var lines: [String]
        switch action {
        case .saved: lines = ["saved session '\(name)' in \(folder)"]
        case .opened: lines = ["opened '\(name)': " + contents.joined(separator: ", ")]
        case .created: lines = ["new session '\(name)'"]
        }
        if !removedFiles.isEmpty { lines.insert(SessionStore.describeRemoved(removedFiles), at: action == .saved ? 0 : 1) }
        if let readOnly { lines.append(SessionStore.describeReadOnly(readOnly)) }
        return (lines + notes).joined(separator: "\n")
    }
}

extension SessionStore {
    /// Whether a session of that name has been saved here.
    public func exists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: folder(name).appendingPathComponent("session.json").path)
    }

    /// Saves `session` (atomic, checksummed), saying which stale files it removed.
    @discardableResult
    public func saveSession(_ session: Session) throws -> SessionReport {
        let removed = try save(session)
        return SessionReport(action: .saved, name: session.name, folder: folder(session.name).path, contents: [], removedFiles: removed)
    }

    /// The saved sessions, `current` marked.
    public func sessions(current: String? = nil) -> SessionList {
        SessionList(root: root.path, current: current, sessions: list())
    }

    /// Opens a saved session where it stopped, and what the notebook says about it.
    public func reopen(_ name: String, holding: FolderLock? = nil, progress: ((Int, Int) -> Void)? = nil) throws -> (Session, SessionReport) {
        var removed = [String]()
        let s = try open(name, holding: holding, progress: progress, removed: { removed = $0 })
        let contents = [s.dataset?.name, s.modelSpec?.fabric.summary, s.trainer.map { "step \($0.step)" }, "\(s.cells.count) cells"].compactMap { $0 }
        var report = SessionReport(action: .opened, name: name, folder: folder(name).path, contents: contents, removedFiles: removed, readOnly: s.readOnlyBecause)
        report.notes = s.dataset?.notes ?? []
        if case let .space(source)? = s.modelSpec?.fabric, let note = source.fileChangeNote { report.notes.append(note) }
        return (s, report)
    }
}

extension SessionStore {
    /// A name for a notebook started without one, that no session in this
    /// folder has: `notebook-<date>T<hhmmss>-<pid>`, then `-2`, `-3`… while a
    /// folder of that name exists. Two notebooks started in the same second
    /// (scripts piped in a loop) get two sessions: the pid tells them apart.
    public func freshName(at date: Date = Date(), pid: Int32 = getpid()) -> String {
        let stamp = ISO8601DateFormatter.string(from: date, timeZone: .current, formatOptions: [.withYear, .withMonth, .withDay, .withTime])
        let base = "notebook-\(stamp)-\(pid)"
        var name = base, n = 1
        while FileManager.default.fileExists(atPath: folder(name).path) || (try? FileManager.default.destinationOfSymbolicLink(atPath: folder(name).path)) != nil {
            n += 1
            name = "\(base)-\(n)"
        }
        return name
    }

    /// The saved session of that name where it stopped, with what the notebook
    /// says of it; or, when none is saved, a new session of that name (nil report).
    public func openOrCreate(_ name: String, progress: ((Int, Int) -> Void)? = nil) throws -> (Session, SessionReport?) {
        try SessionStore.check(name: name)
        if let refusal = refusal(of: name) { throw SessionError("cannot open session '\(name)': \(refusal)") }
        guard exists(name) else { return (Session(name: name, ranks: ranks), nil) }
        do {
            let (s, report) = try reopen(name, progress: progress)
            return (s, report)
        } catch {
            throw SessionError("cannot open session '\(name)': \(error)")
        }
    }
}

extension SessionStore {
    /// Saves `session` if it changed since it was opened or saved (besides the
    /// cell asking, with `besidesCurrentCell`): what leaving it for another keeps.
    public func saveIfChanged(_ session: Session, besidesCurrentCell: Bool = false) throws -> SessionReport? {
        guard session.hasUnsavedChanges(besidesCurrentCell: besidesCurrentCell) else { return nil }
        return try saveSession(session)
    }

    /// Saves `session`, under `name` when given (save as: the old folder stays
    /// as last saved). A save that fails leaves the session's name as it was.
    public func save(_ session: Session, as name: String?) throws -> SessionReport {
        guard let name else { return try saveSession(session) }
        try SessionStore.check(name: name)
        let old = session.name
        session.name = name
        do { return try saveSession(session) } catch {
            session.name = old
            throw error
        }
    }

    /// Leaves `current` for the saved session `target`: the target is read
    /// completely first (or, when it is the current one, the current is saved
    /// first and read back under its own lock); the current is saved if it
    /// changed. The report names the files either save or open removed.
    public func switchSession(from current: Session, to target: String, besidesCurrentCell: Bool = true,
                              progress: ((Int, Int) -> Void)? = nil) throws -> (Session, SessionReport) {
        let opened: Session, report: SessionReport, left: SessionReport?
        if target == current.name {
            left = try saveIfChanged(current, besidesCurrentCell: besidesCurrentCell)
            (opened, report) = try reopen(target, holding: current.lock, progress: progress)
        } else {
            (opened, report) = try reopen(target, progress: progress)
            left = try saveIfChanged(current, besidesCurrentCell: besidesCurrentCell)
        }
        var combined = SessionReport(action: .opened, name: report.name, folder: report.folder, contents: report.contents,
                                     removedFiles: (left?.removedFiles ?? []) + report.removedFiles, readOnly: report.readOnly)
        combined.notes = report.notes
        return (opened, combined)
    }

    /// Leaves `current` (saved if it changed) for an empty session `name`
    /// with the same seed and variables; refuses a name saved already.
    public func newSession(_ name: String, from current: Session, besidesCurrentCell: Bool = true) throws -> (Session, saved: SessionReport?) {
        try SessionStore.check(name: name)
        guard !exists(name) else { throw SessionError("a session '\(name)' exists already (open \(name) to continue it)") }
        let saved = try saveIfChanged(current, besidesCurrentCell: besidesCurrentCell)
        let fresh = Session(name: name, seed: current.settings.seed, ranks: ranks)
        fresh.variables = current.variables
        return (fresh, saved)
    }
}
