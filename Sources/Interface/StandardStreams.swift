import Foundation
import Synchronization

/// Standard output and standard error, written with write(2).
///
/// bsn ignores SIGPIPE (`ignoreBrokenPipes`, first thing in `main`): a reader
/// that went away (`bsn run x.bsn | head -3`, a Jupyter kernel that died) is
/// an EPIPE here, not the death of the process and the loss of its session.
/// The first failed write to standard output is remembered (`outputClosed`);
/// the notebook then stops its work at the next batch, saves, and exits.
/// Later writes to a closed stream are dropped.
public enum StandardStreams {
    private static let closed = Atomic<Bool>(false)
    private static let errorClosed = Atomic<Bool>(false)

    /// A write to standard output failed: its reader is gone.
    public static var outputClosed: Bool { closed.load(ordering: .relaxed) }

    public static func ignoreBrokenPipes() { signal(SIGPIPE, SIG_IGN) }

    /// Writes `text` to standard output; false when it is closed (now or before).
    @discardableResult
    public static func output(_ text: String) -> Bool { write(text, to: STDOUT_FILENO, closed: closed) }

    /// Writes `text` to standard error; false when it is closed.
    @discardableResult
    public static func error(_ text: String) -> Bool { write(text, to: STDERR_FILENO, closed: errorClosed) }

    /// Writes all of `bytes` to `fd` (after short writes and EINTR too); false
    /// when the descriptor refuses them (EPIPE, EBADF…): nothing more is written there.
    public static func write(_ bytes: UnsafeRawBufferPointer, to fd: Int32) -> Bool {
        var at = 0
        while at < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + at, bytes.count - at)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            at += n
        }
        return true
    }

    /// Writes all of `data` to `fd`; false when the descriptor refuses it.
    public static func write(_ data: Data, to fd: Int32) -> Bool {
        data.withUnsafeBytes { write($0, to: fd) }
    }

    private static func write(_ text: String, to fd: Int32, closed: borrowing Atomic<Bool>) -> Bool {
        if closed.load(ordering: .relaxed) { return false }
        var text = text
        let ok = text.withUTF8 { write(UnsafeRawBufferPointer($0), to: fd) }
        if !ok { closed.store(true, ordering: .relaxed) }
        return ok
    }
}
