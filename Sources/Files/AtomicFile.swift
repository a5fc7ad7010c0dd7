import Foundation

/// Writing a file the user named (a picture, an export, a mask) or a
/// session's file, so that nothing but that file changes:
///
/// - the bytes go to a temporary file in the target's folder
///   (`.<name>.tmp-<pid>-<n>`, created exclusively, never through a link),
///   which is flushed (fsync) and renamed onto the target, then the folder is
///   synced: a reader, a crash or a full disk sees the old file or the new
///   one, and a failed write leaves nothing behind;
/// - a target that exists and is not a regular file (a device, a FIFO, a
///   socket, a folder) is refused by name, so bsn never replaces /dev/null;
/// - a target that is a symbolic link is replaced by the file: the link's
///   target is never written, and `Written.note` says so;
/// - temporary files of earlier writes whose process is gone (a kill -9) are
///   removed from a folder the first time this process writes there.
public enum AtomicFile {
    /// What a write did.
    public struct Written: Sendable, Equatable {
        public let path: String, bytes: Int
        /// Where the symbolic link that stood at `path` pointed (it is now the file; that target is untouched).
        public let replacedLink: String?
        /// One line for the user when the write did more than create or replace a file.
        public var note: String? {
            replacedLink.map { "\(path) was a symbolic link to \($0): the link was replaced by the new file, \($0) is untouched" }
        }
    }

    /// Writes `bytes` to `path` (see the type's notes).
    @discardableResult
    public static func write(_ bytes: Data, to path: String) throws -> Written {
        try write(to: path) { fd in
            try bytes.withUnsafeBytes { try append($0, to: fd, path: path) }
        }
    }

    /// `fill` writes the temporary file's descriptor; then fsync, rename onto
    /// `path`, fsync of the folder. Any failure removes the temporary file and throws.
    @discardableResult
    public static func write(to path: String, _ fill: (Int32) throws -> Void) throws -> Written {
        let (folder, base) = split(path)
        var folderInfo = stat()
        guard stat(folder, &folderInfo) == 0 else { throw FileError("\(path): cannot write, the folder \(folder) does not exist") }
        guard folderInfo.st_mode & S_IFMT == S_IFDIR else { throw FileError("\(path): cannot write, \(folder) is not a folder") }
        let existing = try target(path)
        removeStaleTemporaries(folder: folder)

        let (fd, temporary) = try createTemporary(folder: folder, base: base, path: path)
        var written = 0
        do {
            if let mode = existing.mode { fchmod(fd, mode & 0o7777) }
            try fill(fd)
            var info = stat()
            if fstat(fd, &info) == 0 { written = Int(info.st_size) }
            guard fsync(fd) == 0 else { throw FileError("\(path): cannot write (\(String(cString: strerror(errno))))") }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        // Checked again just before the rename: a special file put there meanwhile is not replaced either.
        do { _ = try target(path) } catch { unlink(temporary); throw error }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileError("\(path): cannot write (\(reason))")
        }
        let dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { fsync(dir); close(dir) }
        return Written(path: path, bytes: written, replacedLink: existing.link)
    }

    /// Appends all of `bytes` to `fd` (or throws, naming `path`).
    public static func append(_ bytes: UnsafeRawBufferPointer, to fd: Int32, path: String) throws {
        var done = 0
        while done < bytes.count {
            let w = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if w < 0 {
                if errno == EINTR { continue }
                throw FileError("\(path): cannot write (\(String(cString: strerror(errno))))")
            }
            done += w
        }
    }

    /// What stands at `path` now: nothing, a regular file (its mode) or a link (its target); anything else is refused.
    private static func target(_ path: String) throws -> (mode: mode_t?, link: String?) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return (nil, nil) }
            throw FileError("\(path): cannot write (\(String(cString: strerror(errno))))")
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return (info.st_mode, nil)
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: 4097)
            let n = readlink(path, &buffer, 4096)
            return (nil, n >= 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?")
        default:
            throw FileError("\(path): \(describeKind(info.st_mode)) is there; bsn writes only regular files, name another file")
        }
    }

    /// The folder ("." for a bare name) and the file name.
    static func split(_ path: String) -> (folder: String, base: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }

    /// Names of temporary files: `.<base>.tmp-<pid>-<n>` (the base shortened so the name fits 255 bytes).
    static func temporaryPrefix(_ base: String) -> String {
        var b = base
        while b.utf8.count > 200 { b.removeLast() }
        return ".\(b).tmp-"
    }

    /// The process that wrote a temporary file, from its name (nil: not one of ours).
    public static func writer(ofTemporary name: String) -> Int32? {
        guard name.hasPrefix("."), let marker = name.range(of: ".tmp-", options: .backwards) else { return nil }
        let rest = name[marker.upperBound...]
        let digits = rest.prefix { $0.isNumber }
        guard !digits.isEmpty, digits.count == rest.count || rest.dropFirst(digits.count).first == "-" else { return nil }
        return Int32(digits)
    }

    /// Whether process `pid` is gone on this host (it cannot be signalled because it does not exist).
    public static func isGone(_ pid: Int32) -> Bool {
        pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH
    }

    nonisolated(unsafe) private static var counter = 0
    private static let counterLock = NSLock()

    private static func createTemporary(folder: String, base: String, path: String) throws -> (Int32, String) {
        for _ in 0..<1000 {
            let n: Int = counterLock.withLock { counter += 1; return counter }
            let temporary = folder + "/" + temporaryPrefix(base) + "\(getpid())-\(n)"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if fd >= 0 { return (fd, temporary) }
            if errno != EEXIST { throw FileError("\(path): cannot write (\(String(cString: strerror(errno))))") }
        }
        throw FileError("\(path): cannot write (no free temporary name)")
    }

    nonisolated(unsafe) private static var scannedFolders = Set<String>()

    /// Removes the `.<name>.tmp-<pid>-<n>` files of processes that are gone, once per folder and process.
    private static func removeStaleTemporaries(folder: String) {
        guard counterLock.withLock({ scannedFolders.insert(folder).inserted }) else { return }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names {
            if let pid = writer(ofTemporary: name), isGone(pid) { unlink(folder + "/" + name) }
        }
    }
}
