import Foundation
import Interface
import Tensor

/// What a dataset folder holds, found from its layout before any image is
/// decoded: the examples (image file, mask file, class, split folder), the
/// class names, and every file the listing saw (the cache key).
///
/// Classification (torchvision's ImageFolder):
///
///     root/<class>/<image>                 (images at any depth inside a class folder)
///     root/train/<class>/<image>, root/val/…, root/test/…
///     [root/classes.txt]                   (the class folders in label order, one per line)
///
/// Segmentation:
///
///     root/images/<name>.<png|jpg>, root/masks/<name>.png, [root/classes.txt]
///     root/train/images/…, root/train/masks/…, root/val/…, root/test/…
struct FolderLayout {
    struct Example: Equatable {
        /// Paths relative to the root.
        var image: String, mask: String?
        /// The class folder's index (classification).
        var label: Int32
        /// The split folder it is in; nil when splits are drawn.
        var split: Split?
    }

    let root: URL
    let task: LearningTask
    var classNames: [String]
    /// classes.txt's colours (segmentation), in class order.
    var classColours: [[UInt8]]?
    var examples: [Example] = []
    /// "<path>: <reason>" for files and folders not used.
    var refused: [String] = []
    /// Every file the layout read or considered, for the cache key.
    var listing: [FolderWalk.File] = []
    /// Whether train/ (val/, test/) subfolders give the splits.
    var hasSplitFolders = false

    /// Folder names of the splits (any case).
    static let splitFolders: [String: Split] = ["train": .train, "val": .validation, "valid": .validation, "validation": .validation, "test": .test]

    /// The subfolders of `folder` (links followed, hidden names left out), sorted by name.
    static func subfolders(_ folder: URL) throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { throw DataError("\(folder.path): cannot be listed") }
        return names.filter { name in
            var s = stat()
            return !name.hasPrefix(".") && stat(folder.appendingPathComponent(name).path, &s) == 0 && s.st_mode & S_IFMT == S_IFDIR
        }.sorted()
    }

    /// The split folders of root, when it has a train/ folder: (folder name, split), in train, val, test order.
    static func splitLayout(_ root: URL) throws -> [(name: String, split: Split)]? {
        let folders = try subfolders(root)
        guard folders.contains(where: { $0.lowercased() == "train" }) else { return nil }
        var found = [(name: String, split: Split)]()
        for split in Split.allCases {
            let names = folders.filter { splitFolders[$0.lowercased()] == split }
            if names.count > 1 { throw DataError("\(root.path): both \(names.joined(separator: "/ and "))/ hold the \(split.rawValue) split; keep one") }
            if let name = names.first { found.append((name, split)) }
        }
        return found
    }

    // MARK: classification

    static func classification(_ root: URL, cancel: Cancellation) throws -> FolderLayout {
        var layout = FolderLayout(root: root, task: .classification, classNames: [])
        let splits = try splitLayout(root)
        layout.hasSplitFolders = splits != nil
        let parts: [(folder: String, split: Split?)] = splits.map { $0.map { ($0.name, $0.split) } } ?? [("", nil)]
        // Class names: the union of every part's class folders, sorted.
        var classesOf = [String: [String]]()
        for part in parts {
            let folder = part.folder.isEmpty ? root : root.appendingPathComponent(part.folder)
            let classes = try subfolders(folder)
            guard !classes.isEmpty else { throw noClassFolders(folder, split: part.split) }
            classesOf[part.folder] = classes
        }
        layout.classNames = Array(Set(classesOf.values.joined())).sorted()
        let order = root.appendingPathComponent("classes.txt")
        if FileManager.default.fileExists(atPath: order.path) {
            let (names, file) = try readClassOrder(order, folders: layout.classNames)
            layout.classNames = names
            layout.listing.append(file)
        }
        guard layout.classNames.count >= 2 else {
            throw DataError("\(root.path): one class folder (\(layout.classNames[0])/); classification needs at least two classes, one subfolder each")
        }
        let index = Dictionary(uniqueKeysWithValues: layout.classNames.enumerated().map { ($0.element, Int32($0.offset)) })
        for part in parts {
            for name in classesOf[part.folder]! {
                let relative = part.folder.isEmpty ? name : part.folder + "/" + name
                let walk = try FolderWalk(root, under: relative, cancel: cancel)
                guard !walk.files.isEmpty else { throw DataError("\(root.appendingPathComponent(relative).path): an empty class folder (no files)") }
                layout.refused += walk.refused
                layout.listing += walk.files
                layout.examples += walk.files.map { Example(image: $0.path, mask: nil, label: index[name]!, split: part.split) }
            }
        }
        layout.examples = inFileNameOrder(layout.examples)
        return layout
    }

    /// Examples ordered by split folder, then file name, then path: a folder
    /// written by `export images` (files named by their index) loads in the
    /// exported order, whatever the classes.
    static func inFileNameOrder(_ examples: [Example]) -> [Example] {
        func rank(_ s: Split?) -> Int { s.map { Split.allCases.firstIndex(of: $0)! } ?? -1 }
        func fileName(_ path: String) -> Substring { path.utf8.lastIndex(of: UInt8(ascii: "/")).map { path[path.index(after: $0)...] } ?? path[...] }
        return examples.map { ($0, fileName($0.image)) }.sorted { a, b in
            rank(a.0.split) != rank(b.0.split) ? rank(a.0.split) < rank(b.0.split) : a.1 != b.1 ? a.1 < b.1 : a.0.image < b.0.image
        }.map(\.0)
    }

    /// classes.txt of a classification folder: the class folders' names, one
    /// per line, in the order of their labels (each folder exactly once).
    static func readClassOrder(_ file: URL, folders: [String]) throws -> (names: [String], listed: FolderWalk.File) {
        let bytes = try contents(of: file)
        guard let text = String(data: bytes, encoding: .utf8) else { throw DataError("\(file.path): not a text file") }
        let names = splitLines(text).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard Set(names) == Set(folders), names.count == folders.count else {
            let missing = folders.filter { !names.contains($0) }, unknown = names.filter { !folders.contains($0) }
            throw DataError("\(file.path): lists the class order, so it must name each class folder once"
                            + (missing.isEmpty ? "" : "; missing: " + missing.prefix(5).joined(separator: ", "))
                            + (unknown.isEmpty ? "" : "; no such folder: " + unknown.prefix(5).joined(separator: ", "))
                            + (names.count != Set(names).count ? "; a name appears twice" : ""))
        }
        return (names, listed(file, "classes.txt", bytes.count))
    }

    static func listed(_ file: URL, _ relative: String, _ size: Int) -> FolderWalk.File {
        var s = stat()
        _ = stat(file.path, &s)
        return FolderWalk.File(path: relative, size: size, modified: Int(s.st_mtim.tv_sec) * 1_000_000_000 + Int(s.st_mtim.tv_nsec))
    }

    private static func noClassFolders(_ folder: URL, split: Split?) -> DataError {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasPrefix(".") }.count
        let held = files > 0 ? "holds \(files) files but no class folders" : "holds no class folders"
        return DataError("\(folder.path): \(held); expected one subfolder per class (\(folder.lastPathComponent)/<class>/<image>)"
                         + (split == nil ? ", or train/ val/ test/ subfolders laid out so" : ""))
    }

    // MARK: segmentation

    static func segmentation(_ root: URL, cancel: Cancellation) throws -> FolderLayout {
        var layout = FolderLayout(root: root, task: .segmentation, classNames: [])
        let splits = try splitLayout(root)
        layout.hasSplitFolders = splits != nil
        let parts: [(folder: String, split: Split?)] = splits.map { $0.map { ($0.name, $0.split) } } ?? [("", nil)]
        for part in parts {
            let base = part.folder.isEmpty ? "" : part.folder + "/"
            let folder = root.appendingPathComponent(part.folder)
            let names = try subfolders(folder)
            guard let imagesName = names.first(where: { $0.lowercased() == "images" }), let masksName = names.first(where: { $0.lowercased() == "masks" }) else {
                throw DataError("\(folder.path): expected images/ and masks/ subfolders (the same file names, masks as PNG)"
                                + (part.split == nil ? ", or train/ val/ test/ subfolders each with the two" : ""))
            }
            let images = try FolderWalk(root, under: base + imagesName, cancel: cancel)
            let masks = try FolderWalk(root, under: base + masksName, cancel: cancel)
            layout.refused += images.refused + masks.refused
            layout.listing += images.files + masks.files
            // Masks by stem: the path inside masks/ without its extension.
            var maskOf = [String: String]()
            for file in masks.files {
                let inside = String(file.path.dropFirst(base.count + masksName.count + 1))
                guard inside.lowercased().hasSuffix(".png") else {
                    layout.refused.append("\(file.path): not a PNG mask (masks are PNG files)")
                    continue
                }
                maskOf[stem(inside)] = file.path
            }
            var paired = Set<String>()
            for file in images.files {
                let s = stem(String(file.path.dropFirst(base.count + imagesName.count + 1)))
                guard let mask = maskOf[s] else {
                    layout.refused.append("\(file.path): no mask (expected \(base + masksName)/\(s).png)")
                    continue
                }
                paired.insert(mask)
                layout.examples.append(Example(image: file.path, mask: mask, label: 0, split: part.split))
            }
            for mask in maskOf.values.sorted() where !paired.contains(mask) { layout.refused.append("\(mask): a mask without an image") }
            guard !images.files.isEmpty else { throw DataError("\(root.appendingPathComponent(base + imagesName).path): no images") }
        }
        let classes = root.appendingPathComponent("classes.txt")
        if FileManager.default.fileExists(atPath: classes.path) {
            let (names, colours, file) = try readClasses(classes)
            layout.classNames = names
            layout.classColours = colours
            layout.listing.append(file)
        }
        return layout
    }

    /// A path without its last extension ("a/b.c.png" → "a/b.c").
    static func stem(_ path: String) -> String {
        guard let dot = path.lastIndex(of: "."), !path[path.index(after: dot)...].contains("/") else { return path }
        return String(path[..<dot])
    }

    /// classes.txt: one class per line, `name r g b` (0…255); '#' starts a comment.
    static func readClasses(_ file: URL) throws -> (names: [String], colours: [[UInt8]], listed: FolderWalk.File) {
        let bytes = try contents(of: file)
        guard let text = String(data: bytes, encoding: .utf8) else { throw DataError("\(file.path): not a text file") }
        var names = [String](), colours = [[UInt8]]()
        for (n, line) in splitLines(text).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            let values = fields.suffix(3).compactMap { UInt8($0) }
            guard fields.count >= 4, values.count == 3 else {
                throw DataError("\(file.path):\(n + 1): expected \"<name> <r> <g> <b>\" (0…255), found \"\(content.trimmingCharacters(in: .whitespaces))\"")
            }
            if let k = colours.firstIndex(of: values) {
                throw DataError("\(file.path):\(n + 1): colour \(values.map(String.init).joined(separator: " ")) is already class '\(names[k])'")
            }
            names.append(fields.dropLast(3).joined(separator: " "))
            colours.append(values)
        }
        guard !names.isEmpty else { throw DataError("\(file.path): no classes") }
        guard names.count <= 255 else { throw DataError("\(file.path): \(names.count) classes; masks hold at most 255 (value 255 marks unlabelled pixels)") }
        return (names, colours, listed(file, "classes.txt", bytes.count))
    }
}
