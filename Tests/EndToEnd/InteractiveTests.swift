import Foundation
import TestSupport
import XCTest

/// The REPL on a pseudo-terminal: prompts, completion, Ctrl-C, Ctrl-D.
final class InteractiveTests: XCTestCase {
    /// A bsn process whose terminal is the slave side of a pty we drive.
    final class Terminal {
        let process = Process()
        var master: Int32 = -1
        var transcript = ""

        /// Sessions and history go into `folder` unless `environment` says otherwise.
        init(environment: [String: String] = [:], folder: URL, arguments: [String] = []) throws {
            var slave: Int32 = -1
            guard openpty(&master, &slave, nil, nil, nil) == 0 else { throw XCTSkip("no pseudo-terminals here") }
            process.executableURL = URL(fileURLWithPath: try bsnBinaryPath())
            process.currentDirectoryURL = folder
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            // A plain terminal unless the test says otherwise (the host's own terminal must not leak in).
            for k in ["KITTY_WINDOW_ID", "KONSOLE_VERSION", "TERM_PROGRAM", "LC_TERMINAL"] { env[k] = nil }
            env["TERM"] = "xterm"
            env["BSN_SESSIONS"] = folder.appendingPathComponent("sessions").path
            env["BSN_HISTORY"] = folder.appendingPathComponent("h").path
            for (k, v) in environment { env[k] = v }
            process.environment = env
            let handle = FileHandle(fileDescriptor: slave, closeOnDealloc: true)
            process.standardInput = handle
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        deinit {
            if process.isRunning { process.terminate() }
            close(master)
        }

        func type(_ text: String) { _ = text.utf8CString.withUnsafeBufferPointer { write(master, $0.baseAddress, $0.count - 1) } }

        /// Where the previous wait's marker ended: each wait looks at what came after it.
        var cursor = 0

        /// Reads until `marker` appears after the previous marker (or the
        /// timeout); returns the text from there to the end of the marker.
        @discardableResult
        func wait(for marker: String, timeout: Double = 60, file: StaticString = #filePath, line: UInt = #line) -> String {
            let deadline = Date().addingTimeInterval(timeout)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let unseen = transcript.utf8.dropFirst(cursor)
                if let r = String(unseen)?.range(of: marker) {
                    let text = String(unseen)!
                    let found = String(text[..<r.upperBound])
                    cursor += found.utf8.count
                    return found
                }
                guard Date() < deadline else { break }
                var fds = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                guard poll(&fds, 1, 200) > 0 else { if process.isRunning { continue } else { break } }
                let n = read(master, &buffer, buffer.count)
                if n <= 0 { break }
                transcript += String(decoding: buffer[0..<n], as: UTF8.self)
            }
            XCTFail("waited for '\(marker)', got: \(String(transcript.utf8.dropFirst(cursor)).map { $0.suffix(600) } ?? "")", file: file, line: line)
            return ""
        }
    }

    func testCompletionCtrlCAndCtrlD() throws {
        let folder = try temporaryFolder(self)
        let sessions = folder.appendingPathComponent("sessions").path
        let t = try Terminal(folder: folder)

        t.wait(for: "[1]> ")
        // Tab completes a command name, then an option.
        t.type("hel\t")
        t.wait(for: "help ")
        t.type("tra\t")
        t.wait(for: "train")
        t.type("\n")
        t.wait(for: "example:")
        t.wait(for: "[2]> ")

        t.type("load shapes train=3000 val=0 test=0\n")
        t.wait(for: "[3]> ")
        t.type("build cnf W=4 S=4 C=16\n")
        t.wait(for: "[4]> ")
        t.type("train 40 epochs\n")
        t.wait(for: "ETA")                               // the progress bar is drawn
        kill(t.process.processIdentifier, SIGINT)        // Ctrl-C during training
        let stopped = t.wait(for: "[5]> ")
        XCTAssertTrue(stopped.contains("interrupted after"), stopped)
        XCTAssertTrue(stopped.contains("saved session"), stopped)

        // Ctrl-C at the prompt clears the line; the REPL goes on.
        t.type("half-typed garbage")
        t.wait(for: "garbage")
        kill(t.process.processIdentifier, SIGINT)
        t.wait(for: "^C")
        t.type("history\n")
        let history = t.wait(for: "[6]> ")
        XCTAssertTrue(history.contains("[4]  train 40 epochs"), history)
        XCTAssertFalse(history.contains("half-typed garbage\r\n[5]"), history)

        // A mistyped command suggests the right one.
        t.type("inspekt\n")
        XCTAssertTrue(t.wait(for: "[7]> ").contains("did you mean 'inspect'?"))

        // Ctrl-D saves and quits.
        t.type("\u{04}")
        t.wait(for: "saved session")
        let deadline = Date().addingTimeInterval(20)
        while t.process.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(t.process.isRunning)
        XCTAssertEqual(t.process.terminationStatus, 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: sessions)
        XCTAssertEqual(names.count, 1)
        let manifest = try String(contentsOfFile: "\(sessions)/\(names[0])/session.json", encoding: .utf8)
        XCTAssertTrue(manifest.contains("\"step\" : "), "the trainer state was saved")
    }

    /// --session says what it opened; open + Tab completes session names; Ctrl-C leaves a Ctrl-R search with the whole line shown; clear clears.
    func testOpeningCompletionSearchAndClear() throws {
        let folder = try temporaryFolder(self)
        let made = try runBSN(["run", "-"], environment: ["BSN_SESSIONS": folder.appendingPathComponent("sessions").path],
                              input: "load shapes train=64 val=16 test=16\nbuild cnf W=2 S=3 C=4\ntrain 2 steps\nsave alphabet\n", workingDirectory: folder.path)
        XCTAssertEqual(made.status, 0, made.stderr)
        let t = try Terminal(folder: folder)
        t.wait(for: "[1]> ")
        t.type("open alph\t")
        t.wait(for: "alphabet ")
        t.type("\n")
        // The opened session's cells continue: it has 4.
        XCTAssertTrue(t.wait(for: "[5]> ").contains("opened 'alphabet': shapes"))
        // Ctrl-R finds the line, Ctrl-C leaves the search: the line is shown whole, then ^C, then a clean prompt.
        t.type("\u{12}alph")
        t.wait(for: "(reverse-i-search)")
        t.wait(for: "alph")
        usleep(200_000)
        kill(t.process.processIdentifier, SIGINT)
        let interrupted = t.wait(for: "^C")
        XCTAssertTrue(interrupted.contains("[5]> open alphabet"), interrupted.debugDescription)
        t.wait(for: "[5]> ")
        t.type("clear\n")
        XCTAssertTrue(t.wait(for: "[6]> ").contains("\u{1B}[2J"), "clear clears the screen")
        t.type("quit --no-save\n")
        let deadline = Date().addingTimeInterval(20)
        while t.process.isRunning && Date() < deadline { usleep(20_000) }

        // bsn --session NAME says what it opened, as open does.
        let second = try Terminal(folder: folder, arguments: ["--session", "alphabet"])
        XCTAssertTrue(second.wait(for: "[5]> ").contains("opened 'alphabet': shapes (synthetic, seed 1), B-CNF W=2 S=3 C=4, step 2"))
        second.type("quit --no-save\n")
    }

    /// Ctrl-D whose save fails: the REPL says so and stays; a second Ctrl-D leaves with status 1.
    func testCtrlDWithAFailedSaveStaysThenLeavesWithStatusOne() throws {
        let folder = try temporaryFolder(self)
        let t = try Terminal(environment: ["BSN_SESSIONS": "/proc/bsn-cannot-write-here"], folder: folder)
        t.wait(for: "[1]> ")
        t.type("load shapes train=64 val=16 test=16\n")
        t.wait(for: "[2]> ")
        t.type("\u{04}")
        t.wait(for: "cannot save session")
        t.wait(for: "Ctrl-D again leaves without saving")
        t.wait(for: "[3]> ")
        XCTAssertTrue(t.process.isRunning, "the REPL stays after a failed save")
        t.type("\u{04}")
        let deadline = Date().addingTimeInterval(20)
        while t.process.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(t.process.isRunning)
        if !t.process.isRunning { XCTAssertEqual(t.process.terminationStatus, 1) }
    }

    /// Pictures appear under the cell on terminals that show images (detected
    /// from the environment or the device attributes, or forced with set inline on),
    /// and never in a pipe.
    func testPicturesShowInlineWhereTheTerminalCanAndOnlyThere() throws {
        let folder = try temporaryFolder(self)
        func session(_ environment: [String: String], answer: String? = nil, _ commands: [String]) throws -> String {
            let t = try Terminal(environment: environment, folder: folder)
            if let answer {
                t.wait(for: "\u{1B}[c")                      // the device attributes query
                t.type(answer)
            }
            t.wait(for: "[1]> ")
            t.type("load shapes train=64 val=16 test=16\n")
            t.wait(for: "[2]> ")
            t.type("build cnf W=2 S=3 C=4\n")
            t.wait(for: "[3]> ")
            var out = ""
            for (k, c) in commands.enumerated() {
                t.type(c + "\n")
                out += t.wait(for: "[\(k + 4)]> ")
            }
            t.type("quit --no-save\n")
            // Gone before the next one starts (a SIGTERM from the harness would save it, as SIGTERM does).
            let deadline = Date().addingTimeInterval(20)
            while t.process.isRunning && Date() < deadline { usleep(20_000) }
            return out
        }
        let iterm = try session(["TERM_PROGRAM": "iTerm.app"], ["render graph a.png"])
        XCTAssertTrue(iterm.contains("\u{1B}]1337;File=inline=1;"), iterm.suffix(300).debugDescription)
        let kitty = try session(["KITTY_WINDOW_ID": "1"], ["render arch b.png"])
        XCTAssertTrue(kitty.contains("\u{1B}_Gf=100,a=T,"), kitty.suffix(300).debugDescription)
        let sixel = try session([:], answer: "\u{1B}[?62;4;22c", ["render graph c.png", "set inline off", "render graph d.png"])
        XCTAssertEqual(sixel.components(separatedBy: "\u{1B}Pq").count, 2, "one picture, then none once off: \(sixel.suffix(300).debugDescription)")
        let plain = try session([:], ["render graph e.png", "set inline on", "render graph f.png"])
        XCTAssertEqual(plain.components(separatedBy: "\u{1B}_G").count > 1, true, "forced on: kitty's protocol")
        XCTAssertFalse(plain.components(separatedBy: "set inline on")[0].contains("\u{1B}_G"), "a terminal that showed no image support gets none")

        // A pipe gets the path only, whatever the terminal variables say.
        let piped = try runBSN(["run", "-"], environment: ["TERM_PROGRAM": "iTerm.app", "KITTY_WINDOW_ID": "1", "BSN_SESSIONS": folder.appendingPathComponent("s2").path],
                               input: "load shapes train=64 val=16 test=16\nbuild cnf W=2 S=3 C=4\nrender graph g.png\n", workingDirectory: folder.path)
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertTrue(piped.stdout.contains("wrote g.png"), piped.stdout)
        XCTAssertFalse(piped.stdout.contains("\u{1B}"), piped.stdout)
    }
}
