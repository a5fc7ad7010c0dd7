import Foundation

/// An advisory lock on a folder: `flock` on its `.lock` file, which holds who
/// took it (pid, host, command, when). The kernel releases it when the holder
/// closes it or dies, so a killed process never leaves a folder locked.
///
/// `flock` locks belong to one open file description: two holders in one
/// process exclude each other like two processes do, and a child process
/// does not inherit it (the descriptor is close-on-exec).
public final class FolderLock: @unchecked Sendable {
    public let folder: String
    private let fd: Int32

    /// Somebody else holds the lock.
    public struct Busy: Error, CustomStringConvertible, Sendable {
        public let folder: String
        /// "pid 4242 on host-a (bsn run train.bsn), since 2026-12-01T10:00:00Z", or nil when the holder wrote nothing yet.
        public let holder: String?
        public let waited: Double
        public var description: String {
            "\(folder) is in use by " + (holder ?? "another process") + (waited >= 0.5 ? " (waited \(Int(waited.rounded())) s)" : "")
        }
    }

    /// How long a writer waits for a lock another process holds: `BSN_LOCK_WAIT` seconds, default 10.
    public static var defaultWait: Double {
        ProcessInfo.processInfo.environment["BSN_LOCK_WAIT"].flatMap(Double.init).map { max(0, min($0, 86_400)) } ?? 10
    }

    /// Takes the lock of `folder` (which must exist), waiting up to `wait` seconds; throws `Busy` naming the holder.
    public init(_ folder: String, wait: Double) throws {
        self.folder = folder
        let path = folder + "/.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o644)
        guard fd >= 0 else { throw FileError("\(path): cannot take the lock (\(String(cString: strerror(errno))))") }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw FileError("\(path): not a regular file; remove it")
        }
        let start = Date()
        var delay = 0.005
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            guard e == EWOULDBLOCK || e == EINTR else {
                close(fd)
                throw FileError("\(path): cannot take the lock (\(String(cString: strerror(e))))")
            }
            let waited = Date().timeIntervalSince(start)
            // Held in this process (another open of the same folder): waiting would not free it.
            let ours = Self.holder(fd)?.hasPrefix("pid \(getpid()) ") ?? false
            if waited >= wait || ours {
                let holder = Self.holder(fd)
                close(fd)
                throw Busy(folder: folder, holder: holder, waited: waited)
            }
            Thread.sleep(forTimeInterval: min(delay, wait - waited))
            delay = min(delay * 2, 0.2)
        }
        self.fd = fd
        // Who holds it, for the messages of those who find it taken.
        let stamp = ISO8601DateFormatter().string(from: Date())
        let command = CommandLine.arguments.joined(separator: " ")
        let line = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName) (\(String(command.prefix(200)))), since \(stamp)\n"
        ftruncate(fd, 0)
        _ = line.utf8CString.withUnsafeBufferPointer { pwrite(fd, $0.baseAddress, $0.count - 1, 0) }
    }

    deinit { close(fd) }

    /// Who holds the lock of `folder` now ("another process" when it wrote
    /// nothing), or nil when it is free (or the folder has no lock file).
    public static func heldBy(_ folder: String) -> String? {
        let fd = open(folder + "/.lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // A shared lock is granted only when nobody holds the exclusive one.
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { flock(fd, LOCK_UN); return nil }
        return holder(fd) ?? "another process"
    }

    /// The holder's line from the lock file.
    private static func holder(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
