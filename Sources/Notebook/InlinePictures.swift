import Foundation
import Interface
import Render

/// Pictures shown under the cell that drew them, as in a Jupyter notebook,
/// when the terminal can show images (`set inline on|off|auto`).
public enum InlinePictures: String, CaseIterable, Sendable {
    /// Always: the detected protocol, or kitty's when none was detected.
    case on
    case off
    /// On a terminal that showed it can (scripts and pipes print only the path).
    case auto
}

/// Which image protocol the terminal speaks, found the way the terminals
/// document it: their environment variables first, then (for sixel) the
/// primary device attributes, whose answer lists 4 when sixel graphics work.
public enum TerminalImages {
    public static func detect(environment env: [String: String] = ProcessInfo.processInfo.environment,
                              askTerminal: Bool) -> TerminalImage.Kind? {
        let term = env["TERM"] ?? "", program = env["TERM_PROGRAM"] ?? ""
        if env["KITTY_WINDOW_ID"] != nil || term == "xterm-kitty" || term.contains("ghostty") || program == "ghostty"
            || env["KONSOLE_VERSION"] != nil { return .kitty }
        if program == "iTerm.app" || env["LC_TERMINAL"] == "iTerm2" || program == "WezTerm" || program == "mintty" { return .iterm2 }
        if term.hasPrefix("foot") || term.hasPrefix("mlterm") { return .sixel }
        guard askTerminal, !["", "dumb", "linux"].contains(term) else { return nil }
        return deviceAttributes().contains("4") ? .sixel : nil
    }

    /// Sends the primary device attributes query (ESC [ c) and reads the
    /// answer (ESC [ ? 62 ; 4 ; … c) for at most `timeout` seconds, with the
    /// terminal in raw mode meanwhile. Its attribute numbers, or none.
    static func deviceAttributes(timeout: Double = 0.5) -> [String] {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else { return [] }
        var saved = termios()
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else { return [] }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &raw)
        defer { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
        _ = "\u{1B}[c".withCString { write(STDOUT_FILENO, $0, 3) }
        var answer = [UInt8](), byte: UInt8 = 0
        let deadline = Date().addingTimeInterval(timeout)
        while answer.last != UInt8(ascii: "c"), answer.count < 64 {
            let left = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
            var fds = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            guard left > 0, poll(&fds, 1, left) > 0, read(STDIN_FILENO, &byte, 1) == 1 else { break }
            answer.append(byte)
        }
        let text = String(decoding: answer, as: UTF8.self)
        guard let start = text.range(of: "\u{1B}[?"), text.hasSuffix("c") else { return [] }
        return text[start.upperBound...].dropLast().split(separator: ";").map(String.init)
    }

    /// The width pictures are shown at, in character cells: the terminal's, at most 100.
    static var columns: Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return min(Int(size.ws_col) - 1, 100)
    }
}

extension Notebook {
    /// Shows the picture an output wrote, when inline pictures are on (outside the cell's text).
    func showInline(_ output: any Output) {
        guard let picture = (output as? ShowsPicture)?.picture else { return }
        let kind: TerminalImage.Kind
        switch inlinePictures {
        case .off: return
        case .on: kind = terminalImages ?? .kitty
        case .auto:
            guard console.interactive, let detected = terminalImages else { return }
            kind = detected
        }
        guard let sequence = try? TerminalImage.encode(file: picture, columns: TerminalImages.columns, as: kind) else { return }
        console.raw(sequence)
    }
}
