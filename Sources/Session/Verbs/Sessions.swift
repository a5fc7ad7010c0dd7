import Files
import Foundation
import Interface

/// What `sessions` shows: the saved sessions, the current one marked.
public struct SessionList: Output, Sendable {
    public let root: String, current: String?, sessions: [SessionStore.Listing]

    public var text: String {
        guard !sessions.isEmpty else { return "no saved sessions in \(root)" }
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
        return table.text
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
        return lines.joined(separator: "\n")
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
        return (s, SessionReport(action: .opened, name: name, folder: folder(name).path, contents: contents, removedFiles: removed, readOnly: s.readOnlyBecause))
    }
}
