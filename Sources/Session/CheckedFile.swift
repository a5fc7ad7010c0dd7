import Files
import Foundation
import Tensor

/// A session file: one header line, then the payload.
///
///     bsn-<kind> <version> <byte count> <crc32 of the payload, 8 hex digits>\n
///     <payload>
///
/// Written atomically: the bytes go to a temporary file in the same folder,
/// which is flushed to disk (fsync) and renamed over the target, and the
/// folder is synced; a crash or a kill at any moment leaves either the old
/// file or the new one. Reading checks the kind, the version, the length and
/// the checksum, and says which file and what is wrong.
public enum CheckedFile {
    public static let version = 1

    @discardableResult
    public static func write(_ payload: Data, kind: String, to url: URL) throws -> AtomicFile.Written {
        try write(kind: kind, size: payload.count, to: url) { sink in
            try payload.withUnsafeBytes { try sink($0) }
        }
    }

    /// Writes a payload of `size` bytes that `produce` hands to its sink in
    /// pieces, so that a large state is never copied whole into memory. The
    /// header's checksum is written last, in place (the format is the same).
    @discardableResult
    public static func write(kind: String, size: Int, to url: URL,
                             produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> AtomicFile.Written {
        let header = Array("bsn-\(kind) \(version) \(size) 00000000\n".utf8)
        return try writeAtomically(to: url) { file in
            try file.append(header.withUnsafeBytes { $0 })
            var crc = CRC32.start, written = 0
            try produce { piece in
                crc = CRC32.update(crc, piece)
                written += piece.count
                try file.append(piece)
            }
            guard written == size else { throw SessionError("\(url.path): \(written) bytes of payload, \(size) announced (a bug)") }
            let hex = Array(String(format: "%08x", CRC32.finish(crc)).utf8)
            try file.write(hex, at: header.count - 9)
        }
    }

    public static func read(_ url: URL, kind: String) throws -> Data {
        let name = url.path
        let bytes = try readPlain(url, limit: nil)
        guard let newline = bytes.firstIndex(of: 0x0A), newline - bytes.startIndex < 200,
              let header = String(data: bytes[bytes.startIndex..<newline], encoding: .utf8) else {
            throw SessionError("\(name): not a bsn \(kind == "model" ? "model" : "session") file")
        }
        let fields = header.split(separator: " ")
        guard fields.count == 4, fields[0].hasPrefix("bsn-") else { throw SessionError("\(name): not a bsn \(kind == "model" ? "model" : "session") file") }
        guard fields[0] == "bsn-\(kind)" else { throw SessionError("\(name): a \(fields[0].dropFirst(4)) file, expected \(kind)") }
        guard let v = Int(fields[1]) else { throw SessionError("\(name): damaged header", kind: .damaged) }
        guard v <= version else { throw SessionError("\(name): format version \(v) is newer than this bsn reads (\(version)); update bsn") }
        guard let count = Int(fields[2]), let crc = UInt32(fields[3], radix: 16) else { throw SessionError("\(name): damaged header", kind: .damaged) }
        let payload = bytes[(newline + 1)...]
        guard payload.count == count else {
            throw SessionError("\(name): \(payload.count < count ? "truncated" : "too long") (\(payload.count) bytes of payload, the header says \(count))",
                               kind: .damaged)
        }
        guard CRC32.of(payload) == crc else { throw SessionError("\(name): checksum mismatch, the file is damaged", kind: .damaged) }
        return payload                 // a slice of the bytes read: no second copy of a large state
    }

    /// A regular file's bytes (a FIFO, a device or a folder is refused by
    /// name, see RegularFile), refused by size before reading when it is
    /// larger than `limit` or than the memory available.
    public static func readPlain(_ url: URL, limit: Int?) throws -> Data {
        let name = url.path
        do {
            let file = try RegularFile(name)
            if let limit, file.size > limit { throw SessionError("\(name): \(Memory.format(Double(file.size))), larger than any such file (\(Memory.format(Double(limit))))") }
            do { try Memory.check(Double(file.size), name, of: "file contents") } catch { throw SessionError("\(error)") }
            return try file.readAll()
        } catch let e as FileError {
            throw e.kind == .missing ? SessionError("\(name): missing", kind: .missing) : SessionError(e.description)
        }
    }

    /// Bytes written before a simulated crash, for fault-injection tests:
    /// `BSN_TEST_CRASH_DURING_WRITE=<file name>:<bytes>` makes the process
    /// exit abruptly after writing that many bytes of that file's temporary copy.
    static let crashPoint: (String, Int)? = {
        guard let spec = ProcessInfo.processInfo.environment["BSN_TEST_CRASH_DURING_WRITE"],
              let colon = spec.lastIndex(of: ":"), let n = Int(spec[spec.index(after: colon)...]) else { return nil }
        return (String(spec[..<colon]), n)
    }()

    /// An open temporary file being written (see `writeAtomically`).
    public final class Output {
        let fd: Int32, url: URL
        private var offset = 0
        private let crashAfter: Int?
        init(fd: Int32, url: URL) {
            (self.fd, self.url) = (fd, url)
            crashAfter = crashPoint.flatMap { $0.0 == url.lastPathComponent ? $0.1 : nil }

        }

        /// Appends bytes (all of them, or throws).
        public func append(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                var n = bytes.count - done
                if let crashAfter { n = min(n, crashAfter - offset) }
                if n <= 0 { fsync(fd); _exit(9) }                          // the simulated crash
                do { try AtomicFile.append(UnsafeRawBufferPointer(rebasing: bytes[done..<done + n]), to: fd, path: url.path) } catch {
                    throw SessionError("\(error)")
                }
                done += n
                offset += n
            }
        }

        /// Overwrites bytes already written, at `position`.
        func write(_ bytes: [UInt8], at position: Int) throws {
            let w = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(position)) }
            guard w == bytes.count else { throw SessionError("\(url.path): cannot write (\(String(cString: strerror(errno))))") }
        }
    }

    /// temp file → fsync → rename → fsync of the folder (see AtomicFile).
    @discardableResult
    public static func writeAtomically(_ bytes: Data, to url: URL) throws -> AtomicFile.Written {
        try writeAtomically(to: url) { file in try bytes.withUnsafeBytes { try file.append($0) } }
    }

    /// `fill` writes the temporary file; then fsync → rename over `url` → fsync
    /// of the folder (AtomicFile: never through a link, never onto a device).
    /// A failure removes the temporary file and throws.
    @discardableResult
    public static func writeAtomically(to url: URL, _ fill: (Output) throws -> Void) throws -> AtomicFile.Written {
        do {
            return try AtomicFile.write(to: url.path) { fd in try fill(Output(fd: fd, url: url)) }
        } catch let e as FileError { throw SessionError(e.description) }
    }
}

/// A problem with a session or its files.
public struct SessionError: Error, CustomStringConvertible, Equatable {
    /// What callers may act on (never the message's words).
    public enum Kind: Sendable {
        /// A file a session or model names is not there.
        case missing
        /// A file whose bytes are not what was written (header, length or checksum).
        case damaged
        case other
    }
    public let kind: Kind
    public let description: String
    public init(_ message: String, kind: Kind = .other) { (description, self.kind) = (message, kind) }
}

/// CRC-32 (IEEE 802.3, as zlib and PNG), table-driven.
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func of(_ data: some DataProtocol) -> UInt32 {
        var c = start
        for region in data.regions { region.withUnsafeBytes { c = update(c, $0) } }
        return finish(c)
    }

    /// Incremental use: `finish(update(update(start, a), b))` is the CRC of a then b.
    public static let start: UInt32 = 0xFFFF_FFFF
    public static func finish(_ c: UInt32) -> UInt32 { c ^ 0xFFFF_FFFF }
    public static func update(_ crc: UInt32, _ raw: UnsafeRawBufferPointer) -> UInt32 {
        var c = crc
        table.withUnsafeBufferPointer { t in
            for b in raw { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return c
    }
}
