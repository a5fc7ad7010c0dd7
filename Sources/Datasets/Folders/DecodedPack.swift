import Files
import Foundation
import Tensor

/// A folder's examples decoded to the dataset's size: one slot per example
/// of its layout (in listing order), pixels (n, H, W, 3) and, for
/// segmentation, class masks (n, H, W); a slot whose file could not be read
/// is zero and has its reason.
final class DecodedImages: @unchecked Sendable {
    let size: ImageSize
    let layout: FolderLayout
    /// Why example i was skipped; nil when it decoded.
    var failures: [String?]
    /// Mask classes: classes.txt's count, or the largest mask value + 1.
    var maskClasses: Int
    let pixels: UnsafeRawBufferPointer, masks: UnsafeRawBufferPointer
    /// What keeps the bytes alive: an allocation or a mapped pack.
    private let owner: AnyObject?
    private let allocated: UnsafeMutableRawPointer?

    var count: Int { layout.examples.count }
    /// Pixels then masks: one region in memory (allocated or mapped together).
    var body: UnsafeRawBufferPointer {
        precondition(masks.count == 0 || pixels.baseAddress! + pixels.count == masks.baseAddress!, "pixels and masks are one region")
        return UnsafeRawBufferPointer(start: pixels.baseAddress, count: pixels.count + masks.count)
    }
    var imageBytes: Int { size.height * size.width * 3 }
    var maskBytes: Int { layout.task == .segmentation ? size.height * size.width : 0 }

    /// Zeroed slots for decoding into.
    init(size: ImageSize, layout: FolderLayout) {
        (self.size, self.layout) = (size, layout)
        failures = [String?](repeating: nil, count: layout.examples.count)
        maskClasses = layout.classNames.count
        let n = layout.examples.count, image = size.height * size.width * 3
        let mask = layout.task == .segmentation ? size.height * size.width : 0
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(1, n * (image + mask)), alignment: 64)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: max(1, n * (image + mask)))
        pixels = UnsafeRawBufferPointer(start: memory, count: n * image)
        masks = UnsafeRawBufferPointer(start: memory + n * image, count: n * mask)
        owner = nil
        allocated = memory
    }

    /// Slots read from a mapped pack.
    init(size: ImageSize, layout: FolderLayout, failures: [String?], maskClasses: Int, pixels: UnsafeRawBufferPointer,
         masks: UnsafeRawBufferPointer, owner: AnyObject) {
        (self.size, self.layout, self.failures, self.maskClasses) = (size, layout, failures, maskClasses)
        (self.pixels, self.masks, self.owner, allocated) = (pixels, masks, owner, nil)
    }

    deinit { allocated?.deallocate() }

    func image(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: pixels.baseAddress!.assumingMemoryBound(to: UInt8.self) + i * imageBytes, count: imageBytes)
    }

    func mask(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: masks.baseAddress!.assumingMemoryBound(to: UInt8.self) + i * maskBytes, count: maskBytes)
    }

    func mutableImage(_ i: Int) -> UnsafeMutablePointer<UInt8> { UnsafeMutablePointer(mutating: image(i).baseAddress!) }
    func mutableMask(_ i: Int) -> UnsafeMutablePointer<UInt8> { UnsafeMutablePointer(mutating: mask(i).baseAddress!) }
}

/// The cache of decoded folders: one file per folder and size,
/// `<cache>/<folder and size hash>.pack`, replaced when the folder's listing
/// changes (so the cache grows only by packs of new folders or sizes).
/// `<cache>` is `$BSN_CACHE`, or `~/.cache/bsn`; `BSN_CACHE=off` turns it off.
///
///     bsn-pack 2 <key> <index bytes> <pixel offset> <payload bytes> <hash>\n   (fixed width, 96 bytes)
///     index: text lines (escaped paths), see `indexText`
///     zero padding to <pixel offset> (a multiple of 64)
///     pixels (n, H, W, 3), then masks (n, H, W)
///
/// `key` hashes the listing (paths, sizes, modification times) and the
/// options; `hash` covers everything after the header line, in 8 MiB chunks
/// of two regions: index and padding, then pixels and masks. A pack that
/// fails any check is damaged: the load says so once and decodes again.
enum DecodedPack {
    static let headerBytes = 96
    /// 2: the checksum covers the pixels and masks as one region (it is checked before the index is read).
    static let version = 2

    /// The cache folder, or nil when turned off.
    static var folder: URL? {
        let env = ProcessInfo.processInfo.environment
        if let set = env["BSN_CACHE"], !set.isEmpty {
            return set == "off" ? nil : URL(fileURLWithPath: (set as NSString).expandingTildeInPath)
        }
        return URL(fileURLWithPath: env["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".cache/bsn")
    }

    /// Reads the pack at `url` when its key is one of `keys`; nil when there is
    /// none, it holds another listing or was written by another version.
    /// Throws when it is damaged. Nothing of it is believed before it is
    /// checked: the header's numbers are bounded by the file's length, the
    /// checksum covers all that follows the header, and only then is the
    /// index parsed, with every count bounded by the lines it has.
    static func read(_ url: URL, keys: [String], root: URL) throws -> (key: String, images: DecodedImages)? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let mapped: MappedFile
        do { mapped = try RegularFile(url.path).map(populate: true) } catch { throw DataError("\(error)") }
        let bytes = mapped.bytes
        guard bytes.count >= headerBytes, let line = String(bytes: bytes.prefix(headerBytes - 1), encoding: .utf8), bytes[headerBytes - 1] == 0x0A else {
            throw DataError("\(url.path): not a bsn pack")
        }
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count == 7, f[0] == "bsn-pack" else { throw DataError("\(url.path): damaged pack header") }
        guard f[1] == "\(version)" else { return nil }         // another version's pack: decoded again and replaced
        let key = String(f[2])
        guard keys.contains(key) else { return nil }
        guard let indexBytes = Int(f[3]), let pixelOffset = Int(f[4]), let payload = Int(f[5]), let hash = UInt64(f[6], radix: 16),
              payload == bytes.count - headerBytes, indexBytes >= 0, headerBytes + indexBytes <= pixelOffset, pixelOffset <= bytes.count else {
            throw DataError("\(url.path): damaged pack header (\(bytes.count) bytes)")
        }
        let head = UnsafeRawBufferPointer(rebasing: bytes[headerBytes ..< pixelOffset])
        let body = UnsafeRawBufferPointer(rebasing: bytes[pixelOffset...])
        guard checksum([head, body]) == hash else { throw DataError("\(url.path): damaged (checksum mismatch)") }
        let index = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[headerBytes ..< headerBytes + indexBytes]), as: UTF8.self)
        let (size, layout, failures, maskClasses) = try parseIndex(index, root: root, file: url.path)
        let n = layout.examples.count, image = size.height * size.width * 3, mask = layout.task == .segmentation ? size.height * size.width : 0
        guard n * (image + mask) == body.count else { throw DataError("\(url.path): the index and the pixels disagree (damaged)") }
        let pixels = UnsafeRawBufferPointer(rebasing: body[..<(n * image)])
        let masks = UnsafeRawBufferPointer(rebasing: body[(n * image)...])
        return (key, DecodedImages(size: size, layout: layout, failures: failures, maskClasses: maskClasses,
                                   pixels: pixels, masks: masks, owner: mapped))
    }

    /// Writes the pack atomically (temporary file, then rename).
    static func write(_ decoded: DecodedImages, key: String, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let index = Array(indexText(decoded).utf8)
        let pixelOffset = (headerBytes + index.count + 63) / 64 * 64
        let padding = [UInt8](repeating: 0, count: pixelOffset - headerBytes - index.count)
        // The checksum runs over the payload as it will lie in the file.
        let payload = pixelOffset - headerBytes + decoded.pixels.count + decoded.masks.count
        let body = UnsafeMutableRawPointer.allocate(byteCount: pixelOffset - headerBytes, alignment: 64)
        defer { body.deallocate() }
        body.copyMemory(from: index, byteCount: index.count)
        padding.withUnsafeBytes { body.advanced(by: index.count).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        let head = UnsafeRawBufferPointer(start: body, count: pixelOffset - headerBytes)
        let hash = checksum([head, decoded.body])
        var header = "bsn-pack \(version) \(key) \(index.count) \(pixelOffset) \(payload) " + String(hash, radix: 16)
        header += String(repeating: " ", count: max(0, headerBytes - 1 - header.utf8.count)) + "\n"
        precondition(header.utf8.count == headerBytes, "pack header too long")
        do {
            try AtomicFile.write(to: url.path) { fd in
                try Array(header.utf8).withUnsafeBytes { try AtomicFile.append($0, to: fd, path: url.path) }
                for region in [head, decoded.pixels, decoded.masks] where region.count > 0 {
                    try AtomicFile.append(region, to: fd, path: url.path)
                }
            }
        } catch { throw DataError("\(error)") }
    }

    // MARK: checksum

    static let chunk = 8 << 20

    /// The hash of the hashes of each region's 8 MiB chunks (hashed on both cores).
    static func checksum(_ regions: [UnsafeRawBufferPointer]) -> UInt64 {
        var pieces = [UnsafeRawBufferPointer]()
        for region in regions where region.count > 0 {
            var at = 0
            while at < region.count {
                let n = min(chunk, region.count - at)
                pieces.append(UnsafeRawBufferPointer(rebasing: region[at ..< at + n]))
                at += n
            }
        }
        var hashes = [UInt64](repeating: 0, count: pieces.count)
        hashes.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(pieces.count, threads: ProcessInfo.processInfo.activeProcessorCount) { i, _ in
                out[i] = ImageDecoding.hash(pieces[i], seed: UInt64(i))
            }
        }
        return hashes.withUnsafeBytes { ImageDecoding.hash($0, seed: UInt64(pieces.count)) }
    }

    // MARK: index

    /// Lines: `size H W`, `task <word>`, `maskclasses <n>`, `classes <n>` then
    /// one per class (`name` or `name<TAB>r g b`), `examples <n>` then one per
    /// example (`ok|skip<TAB>label<TAB>split|-<TAB>image<TAB>mask|-<TAB>reason`),
    /// `refused <n>` then one per line. Fields are escaped (\\, \t, \n).
    static func indexText(_ d: DecodedImages) -> String {
        let l = d.layout
        var lines = ["size \(d.size.height) \(d.size.width)", "task \(l.task.rawValue)", "maskclasses \(d.maskClasses)",
                     "splitfolders \(l.hasSplitFolders ? 1 : 0)", "classes \(l.classNames.count)"]
        for (k, name) in l.classNames.enumerated() {
            lines.append(escape(name) + (l.classColours.map { "\t" + $0[k].map(String.init).joined(separator: " ") } ?? ""))
        }
        lines.append("examples \(l.examples.count)")
        for (e, failure) in zip(l.examples, d.failures) {
            lines.append([failure == nil ? "ok" : "skip", "\(e.label)", e.split?.rawValue ?? "-", escape(e.image), e.mask.map(escape) ?? "-",
                          escape(failure ?? "")].joined(separator: "\t"))
        }
        lines.append("refused \(l.refused.count)")
        lines += l.refused.map(escape)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The index, every count bounded (by the lines left, or the format's range) before it is used.
    static func parseIndex(_ text: String, root: URL, file: String) throws -> (ImageSize, FolderLayout, [String?], Int) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)[...]
        let damaged = DataError("\(file): damaged index")
        func next() throws -> Substring {
            guard let line = lines.popFirst() else { throw DataError("\(file): the index ends early (damaged)") }
            return line
        }
        /// `name v…`: exactly `count` whole numbers in `range`.
        func field(_ name: String, _ count: Int = 1, in range: ClosedRange<Int>) throws -> [Int] {
            let parts = try next().split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == count + 1, parts[0] == name else { throw DataError("\(file): damaged index (expected \(name))") }
            return try parts.dropFirst().map { guard let v = Int($0), range.contains(v) else { throw damaged }; return v }
        }
        /// `name n`, followed by n lines: n is at most the lines left.
        func count(_ name: String) throws -> Int { try field(name, in: 0...lines.count)[0] }
        let size = try field("size", 2, in: ImageSize.sides), taskLine = try next()
        guard taskLine.hasPrefix("task "), let task = LearningTask(rawValue: String(taskLine.dropFirst(5))) else { throw damaged }
        let maskClasses = try field("maskclasses", in: 0...256)[0], splitFolders = try field("splitfolders", in: 0...1)[0] == 1
        var layout = FolderLayout(root: root, task: task, classNames: [])
        layout.hasSplitFolders = splitFolders
        var colours = [[UInt8]]()
        for _ in 0..<(try count("classes")) {
            let parts = try next().split(separator: "\t", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw damaged }
            layout.classNames.append(unescape(parts[0]))
            if parts.count == 2 { colours.append(parts[1].split(separator: " ").compactMap { UInt8($0) }) }
        }
        if !colours.isEmpty {
            guard colours.count == layout.classNames.count, colours.allSatisfy({ $0.count == 3 }) else { throw damaged }
            layout.classColours = colours
        }
        var failures = [String?]()
        for _ in 0..<(try count("examples")) {
            // Split on the bytes: a tab is always one byte in UTF-8, and a 100,000-line index parses in milliseconds.
            let p = try next().utf8.split(separator: UInt8(ascii: "\t"), omittingEmptySubsequences: false).map { Substring($0) }
            guard p.count == 6, p[0] == "ok" || p[0] == "skip", let label = Int32(p[1]) else { throw DataError("\(file): damaged index line") }
            let split = p[2] == "-" ? nil : try Split(parsing: String(p[2]))
            layout.examples.append(.init(image: unescape(p[3]), mask: p[4] == "-" ? nil : unescape(p[4]), label: label, split: split))
            failures.append(p[0] == "ok" ? nil : unescape(p[5]))
        }
        for _ in 0..<(try count("refused")) { layout.refused.append(unescape(try next())) }
        guard lines.count <= 1, lines.first?.isEmpty ?? true else { throw damaged }
        return (ImageSize(height: size[0], width: size[1]), layout, failures, maskClasses)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\t", with: "\\t").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func unescape(_ s: Substring) -> String {
        guard s.utf8.contains(UInt8(ascii: "\\")) else { return String(s) }
        var out = "", escaping = false
        for c in s {
            if escaping {
                out.append(c == "t" ? "\t" : c == "n" ? "\n" : c)
                escaping = false
            } else if c == "\\" { escaping = true } else { out.append(c) }
        }
        return out
    }
}
