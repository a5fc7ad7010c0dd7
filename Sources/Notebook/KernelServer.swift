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
    /// The frames' descriptor (standard output as it was at start).
    private let out: Int32
    private let lock = NSLock()
    /// The id of the request in progress: what its line said (a number or a string), or null when it held none.
    private var request: Any = NSNull()
    private var line: Int?

    private init(out: Int32) { self.out = out }

    public static func run(session name: String?, ranks: any Communicator, worker: URL) throws -> Int32 {
        // The protocol's own descriptor; stdout from now on is stderr.
        let fd = dup(STDOUT_FILENO)
        guard fd >= 0, dup2(STDERR_FILENO, STDOUT_FILENO) >= 0 else { throw ShellFailure("bsn kernel-server: cannot set up its output (\(String(cString: strerror(errno))))") }
        let server = KernelServer(out: fd)
        let store = SessionStore.default(ranks: ranks)
        let (opened, report) = try Shell.open(name, in: store)
        let nb = Notebook(session: opened, store: store, console: Console(interactive: false, quiet: true))
        nb.sweepWorker = worker
        nb.listener = server
        nb.inlinePictures = .off
        Interrupts.install()
        server.send(["event": "ready", "session": nb.session.name,
                     "text": report?.text ?? "new session '\(nb.session.name)' (saved in \(store.folder(nb.session.name).path))"])
        while !nb.quitRequested && !Interrupts.sigterm.isCancelled, let text = readLine(strippingNewline: true) {
            // A line that does not parse is answered with the id it holds, if one can be read from it.
            server.request = requestID(in: text)
            guard text.utf8.count <= longestRequest else {
                server.send(["event": "error", "message": "bsn kernel-server: a request of \(text.utf8.count) bytes; at most \(longestRequest)"])
                continue
            }
            guard let data = text.data(using: .utf8), let message = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                server.send(["event": "error", "message": "bsn kernel-server: a request must be one JSON object per line"])
                continue
            }
            server.request = message["id"].flatMap { $0 is NSNumber || $0 is String ? $0 : nil } ?? NSNull()
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
        // End of input (the kernel shut down), SIGTERM or the frames' pipe closing: a session that changed is saved.
        var status: Int32 = Interrupts.stopStatus ?? 0
        if Interrupts.outputClosed.isCancelled { StandardStreams.error("bsn kernel-server: its frames' reader is gone; saving and leaving\n") }
        nb.listener = nil
        if !nb.quitRequested && nb.session.hasUnsavedChanges() && !nb.execute("quit", implicit: true) { status = 1 }
        return status
    }

    /// Runs a cell's lines in order; the first that fails, is interrupted or quits ends the cell.
    private func execute(_ code: String, in nb: Notebook) {
        var ok = true
        nb.cancellation.reset()
        for (n, text) in splitLines(code).enumerated() {
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

    /// One frame: the message as one line of JSON, with the request's id. When
    /// the frames' reader is gone (the kernel died), the work in progress stops
    /// at its next batch and the server saves and leaves.
    private func send(_ message: [String: Any]) {
        var message = message
        if message["id"] == nil && message["event"] as? String != "ready" { message["id"] = request }
        guard let data = try? JSONSerialization.data(withJSONObject: message, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        lock.lock()
        defer { lock.unlock() }
        if Interrupts.outputClosed.isCancelled { return }
        if !StandardStreams.write(data + Data([0x0A]), to: out) { Interrupts.closeOutput() }
    }

    /// The longest request line parsed (bytes): a cell's lines are at most 1 MiB each.
    static let longestRequest = 16 << 20

    /// The `"id"` of a request line that does not parse as a whole: a number
    /// or a string right after `"id":` near its start, else null.
    static func requestID(in line: String) -> Any {
        let head = String(decoding: line.utf8.prefix(4096), as: UTF8.self)
        guard let key = head.range(of: "\"id\"") else { return NSNull() }
        var rest = head[key.upperBound...].drop { $0 == " " || $0 == "\t" }
        guard rest.first == ":" else { return NSNull() }
        rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" }
        if rest.first == "\"" {
            let body = rest.dropFirst()
            guard let end = body.firstIndex(of: "\""), !body[..<end].contains("\\") else { return NSNull() }
            return String(body[..<end])
        }
        let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == "-") }
        return Int(digits).map { $0 as Any } ?? NSNull()
    }
}
