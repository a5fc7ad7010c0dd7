import Foundation

/// A problem with a file bsn was asked to read or write; the message names
/// it, and the kind says what callers may act on (never the message's words).
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable {
        /// Nothing at the path.
        case missing
        /// A FIFO, a device, a socket or a folder where a regular file was expected.
        case notRegular
        /// Larger than such a file may be.
        case tooLarge
        case other
    }
    public let kind: Kind
    public let description: String
    public init(_ message: String, kind: Kind = .other) { (description, self.kind) = (message, kind) }
}

/// What a file-system entry is, in the user's words ("a FIFO"), for the
/// messages that refuse it.
public func describeKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: "a regular file"
    case S_IFDIR: "a folder"
    case S_IFIFO: "a FIFO (named pipe)"
    case S_IFCHR: "a character device"
    case S_IFBLK: "a block device"
    case S_IFSOCK: "a socket"
    case S_IFLNK: "a symbolic link"
    default: "not a regular file"
    }
}

/// A regular file opened for reading. Every reader of bsn's inputs (images,
/// datasets, sessions, models, architectures) comes through here:
///
/// - the file is opened with O_NONBLOCK, so that a FIFO or a device without a
///   writer cannot block the open;
/// - `fstat` on the open descriptor must say "regular file", so a FIFO, a
///   device, a socket or a folder is refused by name before a byte is read
///   (the check and the read see the same file: no window between them);
/// - the size is known before reading, so callers can refuse a file that is
///   too large before allocating for it.
public final class RegularFile {
    public let path: String
    public let size: Int
    private let fd: Int32

    public init(_ path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw e == ENOENT ? FileError("\(path): no such file", kind: .missing)
                              : FileError("\(path): cannot be read (\(String(cString: strerror(e))))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw FileError("\(path): cannot be read (\(reason))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw FileError("\(path): \(describeKind(info.st_mode)), not a regular file; bsn reads only regular files", kind: .notRegular)
        }
        // Reads of a regular file never block anyway; clear the flag for clarity.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        (self.fd, self.size) = (fd, Int(info.st_size))
    }

    deinit { close(fd) }

    /// The whole file (refused first when larger than `limit` bytes).
    public func readAll(limit: Int? = nil) throws -> Data {
        if let limit, size > limit {
            throw FileError("\(path): \(size) bytes, larger than any such file (at most \(limit))", kind: .tooLarge)
        }
        var data = Data(count: size)
        let got = try data.withUnsafeMutableBytes { try read(into: $0, at: 0) }
        // A file that shrank while being read: what is there (the formats' own checks see the truncation).
        if got < size { data.removeSubrange(got...) }
        return data
    }

    /// The first `count` bytes (fewer when the file is shorter).
    public func prefix(_ count: Int) throws -> Data {
        var data = Data(count: min(count, size))
        let got = try data.withUnsafeMutableBytes { try read(into: $0, at: 0) }
        if got < data.count { data.removeSubrange(got...) }
        return data
    }

    /// Reads until the buffer is full or the file ends; returns the bytes read.
    private func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError("\(path): cannot be read (\(String(cString: strerror(errno))))")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// The whole file mapped read-only into memory (private: later changes to
    /// the file by others are not guaranteed to show). An empty file maps to
    /// an empty region. `populate` reads it all in at once (one call instead
    /// of a page fault per page, for a file about to be read through).
    public func map(populate: Bool = false) throws -> MappedFile {
        guard size > 0 else { return MappedFile(base: nil, count: 0) }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0), base != MAP_FAILED else {
            throw FileError("\(path): cannot be mapped (\(String(cString: strerror(errno))))")
        }
        return MappedFile(base: UnsafeRawPointer(base), count: size)
    }

    /// Whole-file convenience: `RegularFile(path).readAll(limit:)`.
    public static func read(_ path: String, limit: Int? = nil) throws -> Data {
        try RegularFile(path).readAll(limit: limit)
    }
}

/// A file's bytes mapped into memory, unmapped when this goes away.
public final class MappedFile: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer

    init(base: UnsafeRawPointer?, count: Int) { bytes = UnsafeRawBufferPointer(start: base, count: count) }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
