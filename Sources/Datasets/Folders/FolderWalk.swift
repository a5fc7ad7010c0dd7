import Files
import Foundation
import Tensor

/// The files under a folder, found without following anything unsafe:
/// symbolic links are followed to files and folders, but a link loop or a
/// link back to a folder already walked is refused, and FIFOs, devices and
/// sockets are never opened. Names starting with "." are left out (hidden
/// files such as .DS_Store). Everything refused is listed with its reason.
struct FolderWalk {
    /// A regular file: its path relative to the walk's root, size and modification time.
    struct File: Equatable {
        var path: String
        var size: Int
        var modified: Int

        /// One line of a listing's key.
        var signature: String { "\(path)\t\(size)\t\(modified)\n" }
    }

    var files: [File] = []
    /// "<path>: <reason>" for each entry not read.
    var refused: [String] = []

    /// The files under `root/relative` (recursively), sorted by path.
    /// Throws only when that folder itself cannot be listed.
    init(_ root: URL, under relative: String, cancel: Cancellation = .never) throws {
        var visited = Set<[UInt64]>()
        let start = relative.isEmpty ? root.path : root.appendingPathComponent(relative).path
        var info = stat()
        guard stat(start, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { throw DataError("\(start): not a folder") }
        visited.insert([UInt64(info.st_dev), UInt64(info.st_ino)])
        var pending = [relative]
        while let folder = pending.popLast() {
            if cancel.isCancelled { throw DataError.interrupted }
            let absolute = folder.isEmpty ? root.path : root.path + "/" + folder
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: absolute) else {
                if folder == relative { throw DataError("\(absolute): cannot be listed") }
                refused.append("\(folder): a folder that cannot be listed")
                continue
            }
            // The stat calls on all cores (a folder of 100,000 files spends most of its listing in them).
            let shown = names.filter { !$0.hasPrefix(".") }
            let blank = stat()
            var stats = Array(repeating: blank, count: shown.count), errors = [Int32](repeating: 0, count: shown.count)
            stats.withUnsafeMutableBufferPointer { stats in
                errors.withUnsafeMutableBufferPointer { errors in
                    let parts = Parallel.ranges(shown.count, parts: shown.count / 512 + 1)
                    Parallel.forEach(parts.count, threads: shown.count < 512 ? 1 : ProcessInfo.processInfo.activeProcessorCount) { part, _ in
                        for k in parts[part] where stat(absolute + "/" + shown[k], &stats[k]) != 0 { errors[k] = errno }
                    }
                }
            }
            for (k, name) in shown.enumerated() {
                let path = folder.isEmpty ? name : folder + "/" + name
                let s = stats[k]
                guard errors[k] == 0 else {
                    let reason = errors[k] == ELOOP ? "a symbolic link loop" : errors[k] == ENOENT ? "a broken symbolic link" : String(cString: strerror(errors[k]))
                    refused.append("\(path): \(reason), not read")
                    continue
                }
                switch s.st_mode & S_IFMT {
                case S_IFREG:
                    files.append(File(path: path, size: Int(s.st_size), modified: Int(s.st_mtim.tv_sec) * 1_000_000_000 + Int(s.st_mtim.tv_nsec)))
                case S_IFDIR:
                    if visited.insert([UInt64(s.st_dev), UInt64(s.st_ino)]).inserted {
                        pending.append(path)
                    } else {
                        refused.append("\(path): a link to a folder already listed (a loop), not followed")
                    }
                default:
                    refused.append("\(path): \(describeKind(s.st_mode)), not read")
                }
            }
        }
        files.sort { $0.path < $1.path }
        refused.sort()
    }
}
