import Foundation
import Interface

/// Runs a script: the same commands as the REPL, one per line, without
/// prompts or progress redraws. An error stops the script with the file name
/// and line number (unless `keepGoing`); the exit status is then 1.
public enum Script {
    public struct Options {
        public var echo = false
        public var keepGoing = false
        public init(echo: Bool = false, keepGoing: Bool = false) {
            self.echo = echo
            self.keepGoing = keepGoing
        }
    }

    /// Returns the process exit status: 0, 1 when a command failed, 130
    /// when Ctrl-C (SIGINT) stopped it (after the command it interrupted),
    /// 143 when SIGTERM did, 141 when standard output closed.
    public static func run(_ text: String, file: String, in nb: Notebook, options: Options) -> Int32 {
        var status: Int32 = 0
        for (n, line) in splitLines(text).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if options.echo { nb.console.print("[\(nb.nextCell)]> \(trimmed)") }
            if !nb.execute(trimmed, location: "\(file):\(n + 1)") {
                status = 1
                if !options.keepGoing { break }
            }
            if let stop = Interrupts.stopStatus {
                nb.console.error("\(file): stopped by \(Interrupts.stopCause) after line \(n + 1)")
                return stop
            }
            if nb.cancellation.isCancelled {
                nb.console.error("\(file): stopped by Ctrl-C after line \(n + 1)")
                return 130
            }
            if nb.quitRequested { break }
        }
        return status
    }
}
