import Foundation
import Interface
import Session
import Tensor

/// The notebook for a program that drives it (the Jupyter kernel in
/// `jupyter/bsn_kernel`): `bsn kernel-server [--session NAME]`.
///
/// Requests arrive on standard input, one JSON object per line:
///
///     {"id": 1, "execute": "load shapes\nbuild cnf W=2"}
///     {"id": 2, "complete": "bui", "cursor": 3}
///     {"id": 3, "inspect": "train 5 epochs", "cursor": 2}
///
/// Answers go out one JSON object per line (framed by the newline: JSON
/// text has none inside) on the file descriptor that was standard output.
/// Standard output itself is pointed at standard error first, so that no
/// stray print can break a frame. A cell's lines run in order, each a
/// notebook cell, and the first that fails or is interrupted ends it:
///
///     {"event": "ready", "session": …, "text": …}            once, at start
///     {"id": 1, "event": "output", "text": …, "html": …, "json": {…}, "pictures": [path…]}
///     {"id": 1, "event": "said", "text": …}                 a line said while a command works
///     {"id": 1, "event": "live", "key": …, "text": …, "html": …}   create or update a display
///     {"id": 1, "event": "error", "message": …, "line": n}
///     {"id": 1, "event": "done", "ok": true, "interrupted": false, "quit": false, "session": …}
///     {"id": 2, "event": "completions", "start": s, "matches": […]}
///     {"id": 3, "event": "help", "found": true, "text": …}
///
/// SIGINT stops the command in progress at its next batch (training saves
/// itself), as Ctrl-C does in the REPL. End of input saves a session that
/// changed and exits; SIGTERM does the same after the command in progress, with status 143.
public final class KernelServer: NotebookListener {
    private let out: FileHandle
    private let lock = NSLock()
    private var request = 0, line: Int?

    private init(out: FileHandle) { self.out = out }

    public static func run(session name: String?, ranks: any Communicator, worker: URL) throws -> Int32 {
        // The protocol's own descriptor; stdout from now on is stderr.
        let fd = dup(STDOUT_FILENO)
        guard fd >= 0, dup2(STDERR_FILENO, STDOUT_FILENO) >= 0 else { throw ShellFailure("bsn kernel-server: cannot set up its output (\(String(cString: strerror(errno))))") }
        let server = KernelServer(out: FileHandle(fileDescriptor: fd, closeOnDealloc: true))
        let store = SessionStore.default(ranks: ranks)
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .current, formatOptions: [.withYear, .withMonth, .withDay, .withTime])
        let (opened, report) = try Shell.open(name ?? "notebook-\(stamp)", in: store)
        let nb = Notebook(session: opened, store: store, console: Console(interactive: false, quiet: true))
        nb.sweepWorker = worker
        nb.listener = server
        nb.inlinePictures = .off
        Interrupts.install()
        server.send(["event": "ready", "session": nb.session.name,
                     "text": report?.text ?? "new session '\(nb.session.name)' (saved in \(store.folder(nb.session.name).path))"])
        while !nb.quitRequested && !Interrupts.sigterm.isCancelled, let text = readLine(strippingNewline: true) {
            guard let data = text.data(using: .utf8), let message = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                server.send(["event": "error", "message": "bsn kernel-server: a request must be one JSON object per line"])
                continue
            }
            server.request = message["id"] as? Int ?? 0
            if let code = message["execute"] as? String {
                server.execute(code, in: nb)
            } else if let line = message["complete"] as? String {
                let (start, matches) = Completion.complete(line, cursor: message["cursor"] as? Int ?? line.count, sessions: { store.list().map(\.name) })
                server.send(["event": "completions", "start": start, "matches": matches])
            } else if let line = message["inspect"] as? String {
                let command = Completion.command(in: line)
                server.send(["event": "help", "found": command != nil, "text": command?.help ?? ""])
            } else {
                server.send(["event": "error", "message": "bsn kernel-server: expected execute, complete or inspect"])
            }
        }
        // End of input (the kernel shut down) or SIGTERM: a session that changed is saved.
        var status: Int32 = Interrupts.sigterm.isCancelled ? Interrupts.terminatedStatus : 0
        nb.listener = nil
        if !nb.quitRequested && nb.session.hasUnsavedChanges() && !nb.execute("quit", implicit: true) { status = 1 }
        return status
    }

    /// Runs a cell's lines in order; the first that fails, is interrupted or quits ends the cell.
    private func execute(_ code: String, in nb: Notebook) {
        var ok = true
        nb.cancellation.reset()
        for (n, text) in code.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            line = n + 1
            ok = nb.execute(trimmed)
            if !ok || nb.cancellation.isCancelled || nb.quitRequested || Interrupts.sigterm.isCancelled { break }
        }
        line = nil
        send(["event": "done", "ok": ok, "interrupted": nb.cancellation.isCancelled, "quit": nb.quitRequested, "session": nb.session.name])
    }

    public func shown(_ output: any Output, asJSON: Bool) {
        var message: [String: Any] = ["event": "output", "text": asJSON ? output.json : output.text]
        if !asJSON, let tabular = output as? TabularOutput { message["html"] = tabular.html }
        if let json = try? JSONSerialization.jsonObject(with: Data(output.json.utf8)) { message["json"] = json }
        if let picture = (output as? ShowsPicture)?.picture {
            message["pictures"] = [URL(fileURLWithPath: picture).standardizedFileURL.path]
        }
        send(message)
    }

    public func failed(_ message: String) {
        var m: [String: Any] = ["event": "error", "message": message]
        if let line { m["line"] = line }
        send(m)
    }

    public func said(_ line: String) { send(["event": "said", "text": line]) }

    public func live(_ display: LiveDisplay) {
        send(["event": "live", "key": display.key, "text": display.text, "html": display.html])
    }

    /// One frame: the message as one line of JSON, with the request's id.
    private func send(_ message: [String: Any]) {
        var message = message
        if message["id"] == nil && message["event"] as? String != "ready" { message["id"] = request }
        guard let data = try? JSONSerialization.data(withJSONObject: message, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        lock.lock()
        defer { lock.unlock() }
        out.write(data + Data([0x0A]))
    }
}
