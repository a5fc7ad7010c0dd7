import DatasetFiles
import Datasets
import Foundation
import Tensor

/// The special-files recipe: FIFOs, folders, device nodes (made with mknod
/// inside the job's folder) and symbolic links where bsn reads or writes a
/// file. Every reader must refuse them at once (a FIFO that blocks is a
/// hang), every writer must leave them as they were, and a link must be
/// replaced, never written through: the sentinel file the links point to
/// (also inside the job's folder) must keep its bytes. Nothing outside the
/// job's folder is named.
struct SpecialFiles {
    enum Kind: String, CaseIterable { case fifo, folder, device, link, folderLink, danglingLink }

    var rng: RNG
    let template: URL
    /// Every special file made, with what it must still be after the run.
    private(set) var made: [(path: String, kind: Kind)] = []
    static let sentinel = "sentinel.txt", sentinelText = "a file bsn was never asked to write\n"

    init(rng: RNG, template: URL) { (self.rng, self.template) = (rng, template) }

    mutating func pick<T>(_ items: [T]) -> T { items[rng.integer(below: items.count)] }

    /// The lines that come first: the template's session, and the sentinel the links point to.
    func prepare(in dir: URL) throws -> [String] {
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("sessions"), withIntermediateDirectories: true)
        try fm.copyItem(at: template.appendingPathComponent("sessions/base"), to: dir.appendingPathComponent("sessions/base"))
        try fm.copyItem(at: template.appendingPathComponent("image.png"), to: dir.appendingPathComponent("image.png"))
        try Self.sentinelText.write(to: dir.appendingPathComponent(Self.sentinel), atomically: false, encoding: .utf8)
        return ["open base"]
    }

    /// Makes a special file of `kind` at `path` (a device node falls back to a FIFO where mknod is not permitted).
    mutating func make(_ kind: Kind, at path: String) throws {
        var kind = kind
        switch kind {
        case .fifo: guard mkfifo(path, 0o644) == 0 else { throw FuzzError("mkfifo \(path): \(String(cString: strerror(errno)))") }
        case .folder: try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        case .device:
            // A character device like /dev/null (1, 3), but ours, in the job's folder.
            if mknod(path, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) != 0 {
                kind = .fifo
                guard mkfifo(path, 0o644) == 0 else { throw FuzzError("mkfifo \(path): \(String(cString: strerror(errno)))") }
            }
        case .link: try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: Self.sentinel)
        case .folderLink: try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "sessions")
        case .danglingLink: try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "nothing-here")
        }
        made.append((path, kind))
    }

    /// One case: a writer aimed at a special file, or a reader given one.
    mutating func makeCase(in dir: URL, index i: Int) throws -> [String] {
        let fm = FileManager.default
        if rng.uniform() < 0.5 {
            let kind = pick(Kind.allCases)
            let name = "w\(i).png", path = dir.appendingPathComponent(name).path
            try make(kind, at: path)
            let writer = pick(["render graph", "render arch", "render history", "export model", "export onnx", "export arch", "export script"])
            return ["\(writer) \(name)"]
        }
        let kind = pick([Kind.fifo, .folder, .device])
        switch rng.integer(below: 7) {
        case 0:
            try make(kind, at: dir.appendingPathComponent("r\(i).png").path)
            return ["infer r\(i).png"]
        case 1:
            try make(kind, at: dir.appendingPathComponent("r\(i).bsnmodel").path)
            return ["infer image.png --model=r\(i).bsnmodel"]
        case 2:
            try make(kind, at: dir.appendingPathComponent("r\(i).json").path)
            return ["build from r\(i).json"]
        case 3:
            let root = dir.appendingPathComponent("cifar\(i)")
            var records = RNG(seed: rng.next())
            try DatasetFiles.writeCIFAR10(root, batches: [2, 2, 2, 2, 2], test: 2) { _, _ in .random(labelBytes: 1, classes: 10, rng: &records) }
            let victim = root.appendingPathComponent(pick(["data_batch_1.bin", "data_batch_4.bin", "test_batch.bin", "batches.meta.txt"])).path
            try fm.removeItem(atPath: victim)
            try make(kind, at: victim)
            return ["load cifar10 cifar\(i)"]
        case 4:
            let root = dir.appendingPathComponent("parts\(i)")
            try DatasetFiles.writePartLabels(root)
            let entry = PartLabels.Entry(name: "Ann_Lee", number: 1)
            let victim = pick([entry.imagePath(root), entry.maskPath(root), root.appendingPathComponent(PartLabels.splitFiles[0]).path])
            try fm.removeItem(atPath: victim)
            try make(kind, at: victim)
            return ["load partlabels parts\(i) onerror=skip"]
        case 5:
            // A folder of images with a special file, or a link back up the tree, among them.
            let root = dir.appendingPathComponent("images\(i)")
            _ = try FolderExport.write(try Shapes(train: 10, validation: 0, test: 0, seed: rng.next()).load(), to: root.path, splits: [.train])
            // One split exported: the class folders at the top (root/<class>/), as a user's folder without split folders.
            let train = root
            var isFolder: ObjCBool = false
            let classes = try fm.contentsOfDirectory(atPath: train.path).sorted().filter {
                fm.fileExists(atPath: train.appendingPathComponent($0).path, isDirectory: &isFolder) && isFolder.boolValue
            }
            let classFolder = train.appendingPathComponent(pick(classes))
            if rng.uniform() < 0.3 {
                try fm.createSymbolicLink(atPath: classFolder.appendingPathComponent("up").path, withDestinationPath: "..")
            } else {
                let victim = try fm.contentsOfDirectory(atPath: classFolder.path).sorted().first.map { classFolder.appendingPathComponent($0).path }
                    ?? classFolder.appendingPathComponent("x.png").path
                try? fm.removeItem(atPath: victim)
                try make(kind, at: victim)
            }
            return ["load images images\(i) \(pick(["", "strict=on"]))", "data"]
        default:
            let name = "special\(i)", session = dir.appendingPathComponent("sessions/\(name)")
            try fm.copyItem(at: template.appendingPathComponent("sessions/base"), to: session)
            let files = try fm.contentsOfDirectory(atPath: session.path).filter { !$0.hasPrefix(".") }
            let victim = session.appendingPathComponent(pick(files)).path
            try fm.removeItem(atPath: victim)
            try make(kind, at: victim)
            return ["open \(name)", "open base"]
        }
    }

    /// What went wrong on disk, or nil: a special file changed kind, the sentinel changed, a temporary file was left.
    func check(_ dir: URL) -> String? {
        for (path, kind) in made {
            var info = stat()
            guard lstat(path, &info) == 0 else { return "\(path) (\(kind)) is gone" }
            let now = info.st_mode & S_IFMT
            let expected: [mode_t] = switch kind {
            case .fifo: [S_IFIFO]
            case .folder: [S_IFDIR]
            case .device: [S_IFCHR]
            // A link may stay (a reader, a refused writer) or be replaced by the written file.
            case .link, .folderLink, .danglingLink: [S_IFLNK, S_IFREG]
            }
            if !expected.contains(now) { return "\(path) was a \(kind) and is now mode \(String(now, radix: 8))" }
        }
        let sentinel = (try? String(contentsOf: dir.appendingPathComponent(Self.sentinel), encoding: .utf8)) ?? ""
        if sentinel != Self.sentinelText { return "\(Self.sentinel), the target of the links, was written: \(sentinel.prefix(40).debugDescription)" }
        if let stale = FileManager.default.enumerator(atPath: dir.path)?.compactMap({ $0 as? String }).first(where: { $0.contains(".tmp-") }) {
            return "a temporary file was left: \(stale)"
        }
        return nil
    }
}
