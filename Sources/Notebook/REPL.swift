import CReadline
import Foundation
import Interface
import Session
import Tensor

/// The interactive notebook on a terminal, through GNU readline: line
/// editing, history (~/.bsn_history, plus the session's own cells), Ctrl-R
/// search, tab completion of commands, their words and file paths, numbered
/// prompts. Ctrl-C clears the line at the prompt and stops training at the
/// next batch; Ctrl-D saves and quits.
///
/// readline runs in its callback mode: the main loop waits for input with
/// poll(), so a Ctrl-C (the signal handler only sets a flag) is handled
/// between keystrokes, outside the signal handler.
public enum REPL {
    nonisolated(unsafe) private static var pendingLine: String?
    nonisolated(unsafe) private static var gotLine = false
    nonisolated(unsafe) private static var endOfInput = false
    nonisolated(unsafe) private static var candidates: [String] = []
    nonisolated(unsafe) private static var candidateIndex = 0
    /// The saved sessions' names (`open` completes them).
    nonisolated(unsafe) private static var sessionNames: () -> [String] = { [] }

    public static var historyFile: String {
        ProcessInfo.processInfo.environment["BSN_HISTORY"] ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".bsn_history").path
    }

    /// Returns the exit status: 0, or 1 when the user left without the save that failed.
    /// `opened`: what `open` would say of the session the notebook starts in (nil: a new one).
    public static func run(_ nb: Notebook, opened: SessionReport? = nil) -> Int32 {
        Interrupts.install()
        nb.terminalImages = TerminalImages.detect(askTerminal: true)
        bsn_rl_setup { text, start, _ in REPL.complete(text, start: Int(start)) }
        sessionNames = { nb.store.list().map(\.name) }
        using_history()
        read_history(historyFile)
        stifle_history(5000)
        for c in nb.session.cells { add_history(c.command) }

        nb.console.print("bsn — Budgeted Super Networks. help lists the commands; Ctrl-D saves and quits.")
        nb.console.print(opened?.text ?? "new session '\(nb.session.name)' (saved in \(nb.store.folder(nb.session.name).path))")
        var status: Int32 = 0, saveFailed = false
        while !nb.quitRequested {
            guard let line = readLine(prompt: "[\(nb.nextCell)]> ", interrupt: nb.cancellation) else {
                // Ctrl-D: save and quit; if the save fails, stay (a second Ctrl-D leaves without it).
                StandardStreams.output("\n")
                if saveFailed { status = 1; break }
                if Interrupts.sigterm.isCancelled {
                    // SIGTERM at the prompt: save what changed and leave with 143.
                    if !nb.session.hasUnsavedChanges() || nb.execute("quit") { status = Interrupts.terminatedStatus } else { status = 1 }
                    break
                }
                if nb.execute("quit") { break }
                saveFailed = true
                nb.console.error("the session is not saved: fix the cause, or save <other-name>; Ctrl-D again leaves without saving")
                continue
            }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            add_history(trimmed)
            append_history(1, historyFile)
            nb.execute(trimmed)
            saveFailed = false              // the next Ctrl-D tries to save again
            if Interrupts.sigterm.isCancelled {
                // SIGTERM during the command (it stopped at the next batch): save and leave with 143.
                status = !nb.session.hasUnsavedChanges() || nb.execute("quit") ? Interrupts.terminatedStatus : 1
                break
            }
        }
        history_truncate_file(historyFile, 5000)
        return status
    }

    /// One line from readline (nil at end of input). Ctrl-C clears the line.
    private static func readLine(prompt: String, interrupt: Cancellation) -> String? {
        gotLine = false
        endOfInput = false
        rl_callback_handler_install(prompt) { line in
            if let line {
                REPL.pendingLine = String(cString: line)
                free(line)
            } else {
                REPL.endOfInput = true
            }
            REPL.gotLine = true
            rl_callback_handler_remove()
        }
        interrupt.reset()
        while !gotLine {
            if Interrupts.sigterm.isCancelled {
                rl_callback_handler_remove()
                return nil
            }
            var fds = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            // A timeout, so that a Ctrl-C arriving while a key is processed (not in poll) is seen too.
            let ready = poll(&fds, 1, 100)
            if interrupt.isCancelled {
                interrupt.reset()
                // Leave an incremental search (Ctrl-R) first, then show the line as it was, whole, with ^C after it.
                rl_callback_sigcleanup()
                bsn_rl_point_to_end()
                rl_redisplay()
                rl_free_line_state()
                rl_replace_line("", 0)
                // ^C, then erase what a search's longer display left on the line.
                StandardStreams.output("^C\u{1B}[K\n")
                rl_on_new_line()
                rl_redisplay()
                continue
            }
            if ready > 0 { rl_callback_read_char() }
        }
        return endOfInput ? nil : pendingLine
    }

    /// Completion: command names first, then the command's words and file paths.
    private static func complete(_ text: UnsafePointer<CChar>?, start: Int) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        let prefix = text.map { String(cString: $0) } ?? ""
        let line = String(cString: bsn_rl_line_buffer())
        switch Completion.candidates(prefix: prefix, before: String(line.prefix(start)), sessions: sessionNames) {
        case .words(let words): candidates = words
        case .paths: return rl_completion_matches(text, rl_filename_completion_function)
        }
        bsn_rl_completion_done(candidates.count == 1 && candidates[0].hasSuffix("=") ? 0 : 32)
        candidateIndex = 0
        return rl_completion_matches(text) { _, state in
            if state == 0 { REPL.candidateIndex = 0 }
            guard REPL.candidateIndex < REPL.candidates.count else { return nil }
            defer { REPL.candidateIndex += 1 }
            return strdup(REPL.candidates[REPL.candidateIndex])
        }
    }
}
