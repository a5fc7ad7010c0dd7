import Files
import Foundation
import Interface
import Tensor

/// The options of `load images` and `load masks`.
public struct FolderOptions: Codable, Equatable, Sendable {
    /// nil: the largest power of two not above the median shorter side, at most 64.
    public var size: ImageSize?
    /// Drawn splits' sizes; nil: the default, 0.1 each.
    public var validation: SplitAmount?, test: SplitAmount?
    public var flip: Bool, cropPadding: Int
    /// Refuse the load at the first unreadable file instead of skipping it.
    public var strict: Bool
    /// The seed of drawn splits; nil until the session gives its own.
    public var seed: UInt64?

    public static let arguments = "[size=N|HxW] [val=0.1] [test=0.1] [flip=on|off] [crop=pad:P] [strict=on] [seed=]"
    public static let completions = ["size=", "val=", "test=", "flip=", "crop=", "strict=", "seed="]

    public init(size: ImageSize? = nil, validation: SplitAmount? = nil, test: SplitAmount? = nil,
                flip: Bool = false, cropPadding: Int = 0, strict: Bool = false, seed: UInt64? = nil) {
        (self.size, self.validation, self.test, self.flip, self.cropPadding, self.strict, self.seed) = (size, validation, test, flip, cropPadding, strict, seed)
    }

    public init(_ a: inout Arguments) throws {
        self.init()
        do {
            if let s = a.option("size") { size = try ImageSize(parsing: s) }
            if let v = a.option("val", "validation") { validation = try SplitAmount(parsing: v, option: "val") }
            if let t = a.option("test") { test = try SplitAmount(parsing: t, option: "test") }
        } catch let e as DataError { throw UsageError("\(a.command): \(e)") }
        flip = try a.yesNo("flip") ?? false
        strict = try a.yesNo("strict") ?? false
        if let crop = a.option("crop") {
            guard crop.hasPrefix("pad:"), let p = Int(crop.dropFirst(4)), (0...64).contains(p) else {
                throw UsageError("\(a.command): crop= takes pad:P (pad by P pixels, then a random crop of the image's size; P 0…64), got '\(crop)'")
            }
            cropPadding = p
        }
        seed = try a.int("seed", range: 0...Int.max).map(UInt64.init)
    }

    /// The words that give these options back ("size=64 val=0.1 …").
    var words: String {
        var w = [String]()
        if let size { w.append("size=" + (size.height == size.width ? "\(size.height)" : "\(size.height)x\(size.width)")) }
        if let validation { w.append("val=\(validation)") }
        if let test { w.append("test=\(test)") }
        if flip { w.append("flip=on") }
        if cropPadding > 0 { w.append("crop=pad:\(cropPadding)") }
        if strict { w.append("strict=on") }
        if let seed { w.append("seed=\(seed)") }
        return w.joined(separator: " ")
    }
}

/// Loading a folder of the user's images (see FolderLayout for the layouts):
/// list it, map its decoded pack from the cache or decode every image on all
/// cores (skipping and listing damaged files, or refusing them with strict),
/// then split and build the dataset.
public enum FolderDataset {
    /// Loads the folder at `path`. `savedKey` is the listing a saved session
    /// was loaded from: when the folder has changed since, its pack is used if
    /// the cache still has it. `source(key)` is the source to record, given the
    /// key of the listing the images come from and their size.
    static func load(word: String, path: String, task: LearningTask, options: FolderOptions, savedKey: String?,
                     threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                     progress: ((Int, Int) -> Void)?, cancel: Cancellation, source: (_ key: String, _ size: ImageSize) -> any DatasetSource) throws -> Dataset {
        let root = try datasetFolder(path, word).resolvingSymlinksInPath()
        let layout = task == .segmentation ? try FolderLayout.segmentation(root, cancel: cancel) : try FolderLayout.classification(root, cancel: cancel)
        guard !layout.examples.isEmpty else {
            throw DataError("\(root.path): no images" + (layout.refused.first.map { " (\(layout.refused.count) files not used; first: \($0))" } ?? ""))
        }
        let sizeWord = options.size.map { "\($0.height)x\($0.width)" } ?? "auto"
        var listing = "bsn folder 1\n\(root.path)\n\(task.rawValue)\n\(sizeWord)\n"
        for f in layout.listing { listing += f.signature }
        for r in layout.refused { listing += "refused\t\(r)\n" }
        let key = String(format: "%016llx", ImageDecoding.hash(listing))
        let packName = String(format: "%016llx", ImageDecoding.hash("\(root.path)\n\(task.rawValue)\n\(sizeWord)")) + ".pack"
        let pack = DecodedPack.folder?.appendingPathComponent(packName)

        var notes = [String]()
        var decoded: DecodedImages?, usedKey = key
        if let pack {
            do {
                if let (found, images) = try DecodedPack.read(pack, keys: [key] + (savedKey.map { [$0] } ?? []), root: root) {
                    decoded = images
                    usedKey = found
                    if found != key { notes.append(changedNote(root, word: word, options: options)) }
                }
            } catch {
                notes.append("warning: the cached decode is damaged and was ignored; decoding again (\(error))")
            }
        }
        if decoded == nil, let savedKey, savedKey != key {
            notes.append(changedNote(root, word: word, options: options, decoding: true))
        }
        var decodedNow = 0
        if decoded == nil {
            let size = try options.size ?? automaticSize(layout, threads: threads, cancel: cancel)
            try Memory.check(Double(layout.examples.count) * Double(size.height * size.width * (task == .segmentation ? 4 : 3) + 64),
                             "\(word) \(root.path) (\(layout.examples.count) images at \(size.height)x\(size.width))", of: "images")
            let images = DecodedImages(size: size, layout: layout)
            try decode(into: images, threads: threads, progress: progress, cancel: cancel)
            decodedNow = images.count
            decoded = images
            if let pack {
                do { try DecodedPack.write(images, key: key, to: pack) } catch {
                    notes.append("warning: the decoded images could not be cached (\(error)); the next load decodes again")
                }
            }
        }
        var dataset = try assemble(decoded!, source: source(usedKey, decoded!.size), options: options, notes: notes)
        dataset.imagesDecoded = decodedNow
        if decodedNow == 0 { dataset.cache = pack?.path }
        return dataset
    }

    /// The folder as an absolute path (a saved session does not depend on the working directory).
    static func absolute(_ path: String) -> String {
        path.isEmpty ? path : URL(fileURLWithPath: (path as NSString).expandingTildeInPath).standardizedFileURL.path
    }

    /// A folder source's `origin`: the folder and how the size was chosen.
    static func origin(_ path: String, _ options: FolderOptions, _ loaded: ImageSize?) -> String {
        guard options.size == nil, let loaded else { return path }
        return "\(path), size \(loaded) chosen from the images (the largest power of two not above their median shorter side, at most 64; size= sets it)"
    }

    private static func changedNote(_ root: URL, word: String, options: FolderOptions, decoding: Bool = false) -> String {
        "note: \(root.path) has changed since this session was saved; "
            + (decoding ? "its images as they are now were loaded (the saved decode is not in this machine's cache)"
                        : "the session keeps the images it was saved with (from the cache)")
            + "; `load \(word) \(root.path) \(options.words)` loads the folder as it is now"
    }

    // MARK: size

    /// The largest power of two not above the median shorter side (at most 64), from the images' headers.
    static func automaticSize(_ layout: FolderLayout, threads: Int, cancel: Cancellation) throws -> ImageSize {
        var sides = [Int](repeating: 0, count: layout.examples.count)
        sides.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(layout.examples.count, threads: threads) { i, _ in
                if cancel.isCancelled { return }
                let path = layout.root.appendingPathComponent(layout.examples[i].image).path
                if let p = try? ImageDecoding.probe(file: path) { out[i] = min(p.width, p.height) }
            }
        }
        if cancel.isCancelled { throw DataError.interrupted }
        let known = sides.filter { $0 > 0 }.sorted()
        guard !known.isEmpty else { throw DataError("\(layout.root.path): none of the \(layout.examples.count) files is a readable PNG or JPEG image") }
        let median = known[known.count / 2]
        var side = 1
        while side * 2 <= min(median, 64) { side *= 2 }
        return ImageSize(side: side)
    }

    // MARK: decoding

    /// Decodes every example into its slot, in chunks spread over `threads`
    /// (progress after each chunk; a cancel stops between chunks).
    static func decode(into d: DecodedImages, threads: Int, progress: ((Int, Int) -> Void)?, cancel: Cancellation) throws {
        let n = d.count, chunk = 256
        let colours = d.layout.classColours.map { list in
            Dictionary(uniqueKeysWithValues: list.enumerated().map { (UInt32($0.element[0]) << 16 | UInt32($0.element[1]) << 8 | UInt32($0.element[2]), UInt8($0.offset)) })
        }
        var largest = [Int](repeating: -1, count: n)
        progress?(0, n)
        for first in stride(from: 0, to: n, by: chunk) {
            if cancel.isCancelled { throw DataError.interrupted }
            let range = first ..< min(n, first + chunk)
            largest.withUnsafeMutableBufferPointer { largest in
                d.failures.withUnsafeMutableBufferPointer { failures in
                    Parallel.forEach(range.count, threads: threads) { k, _ in
                        let i = range.lowerBound + k
                        do { largest[i] = try decodeExample(i, into: d, colours: colours) } catch {
                            failures[i] = "\(error)"
                        }
                    }
                }
            }
            progress?(range.upperBound, n)
        }
        if d.layout.task == .segmentation && d.layout.classColours == nil {
            d.maskClasses = max(1, (largest.max() ?? 0) + 1)
        }
    }

    /// Decodes example i into its slot; for segmentation, returns its largest mask value (255, unlabelled, left out).
    private static func decodeExample(_ i: Int, into d: DecodedImages, colours: [UInt32: UInt8]?) throws -> Int {
        let e = d.layout.examples[i], root = d.layout.root, size = d.size
        let imagePath = root.appendingPathComponent(e.image).path
        let bytes: Data
        do { bytes = try RegularFile.read(imagePath, limit: ImageDecoding.maxFileBytes) } catch { throw DataError("\(e.image): \(reason(error, imagePath))") }
        guard !bytes.isEmpty else { throw DataError("\(e.image): an empty file") }
        guard let header = try relative(e.image, imagePath, { try ImageDecoding.probe(bytes.prefix(1 << 16), imagePath) }) else {
            throw DataError("\(e.image): not a PNG or JPEG image", kind: .notAnImage)
        }
        let fit = Fit(width: header.width, height: header.height, to: size)
        let image = try relative(e.image, imagePath) {
            try ImageDecoding.rgb(bytes, imagePath, covering: (fit.resizedWidth, fit.resizedHeight))
        }
        let fitted = fit.image(image)
        fitted.pixels.withUnsafeBufferPointer { d.mutableImage(i).update(from: $0.baseAddress!, count: $0.count) }
        guard let maskFile = e.mask else { return -1 }
        let maskPath = root.appendingPathComponent(maskFile).path
        let maskBytes: Data
        do { maskBytes = try RegularFile.read(maskPath, limit: ImageDecoding.maxFileBytes) } catch { throw DataError("\(maskFile): \(reason(error, maskPath))") }
        let (mask, w, h) = try relative(maskFile, maskPath) { try ImageDecoding.mask(maskBytes, maskPath) }
        guard w == header.width && h == header.height else {
            throw DataError("\(maskFile): a \(w)x\(h) mask for a \(header.width)x\(header.height) image")
        }
        var values: [UInt8]
        switch mask {
        case .values(let v):
            values = v
            if let classes = d.layout.classColours?.count, let bad = v.firstIndex(where: { Int($0) >= classes && $0 != 255 }) {
                throw DataError("\(maskFile): value \(v[bad]) at (\(bad % w), \(bad / w)); classes.txt lists \(classes) classes (0…\(classes - 1); 255 marks unlabelled pixels)")
            }
        case .colours(let rgb):
            guard let colours else { throw DataError("\(maskFile): a colour mask, but no classes.txt maps colours to classes (lines of `name r g b`)") }
            values = [UInt8](repeating: 0, count: w * h)
            for p in 0..<w * h {
                let c = UInt32(rgb[3 * p]) << 16 | UInt32(rgb[3 * p + 1]) << 8 | UInt32(rgb[3 * p + 2])
                guard let k = colours[c] else {
                    throw DataError("\(maskFile): colour \(rgb[3 * p]) \(rgb[3 * p + 1]) \(rgb[3 * p + 2]) at (\(p % w), \(p / w)) is not in classes.txt")
                }
                values[p] = k
            }
        }
        let fittedMask = fit.mask(values)
        fittedMask.withUnsafeBufferPointer { d.mutableMask(i).update(from: $0.baseAddress!, count: $0.count) }
        return Int(values.lazy.filter { $0 != 255 }.max() ?? 0)
    }

    /// An error of a file's decoder, with the path relative to the root.
    private static func relative<T>(_ name: String, _ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            let text = "\(error)"
            throw DataError(name + ": " + (text.hasPrefix(path + ": ") ? String(text.dropFirst(path.count + 2)) : text))
        }
    }

    private static func reason(_ error: any Error, _ path: String) -> String {
        let text = "\(error)"
        return text.hasPrefix(path + ": ") ? String(text.dropFirst(path.count + 2)) : text
    }

    // MARK: splits

    /// The dataset from decoded slots: skipped files checked against strict,
    /// every class checked to have an image, the splits given or drawn.
    static func assemble(_ d: DecodedImages, source: any DatasetSource, options: FolderOptions, notes: [String]) throws -> Dataset {
        let layout = d.layout
        let skipped = layout.refused + zip(layout.examples, d.failures).compactMap { $0.1 }
        if options.strict, let first = skipped.first {
            throw DataError("\(layout.root.path)/\(first) (strict=on refuses the load; without it, unreadable files are skipped and listed)")
        }
        let usable = d.failures.indices.filter { d.failures[$0] == nil }
        guard !usable.isEmpty else {
            throw DataError("\(layout.root.path): no image could be read (\(skipped.count) files; first: \(skipped.first ?? "?"))")
        }
        let classNames = layout.task == .classification ? layout.classNames
            : layout.classNames.isEmpty ? (0..<d.maskClasses).map { "class-\($0)" } : layout.classNames
        if layout.task == .classification {
            var readable = [Int](repeating: 0, count: classNames.count), listed = readable
            for i in layout.examples.indices {
                listed[Int(layout.examples[i].label)] += 1
                if d.failures[i] == nil { readable[Int(layout.examples[i].label)] += 1 }
            }
            if let k = readable.indices.first(where: { readable[$0] == 0 && listed[$0] > 0 }) {
                throw DataError("\(layout.root.path): class folder '\(classNames[k])' has no readable image (\(listed[k]) files, none a readable PNG or JPEG)")
            }
        }
        // The split of each usable example: its folder's, or drawn (for the splits no folder gives).
        var splitOf = [Split?](repeating: nil, count: layout.examples.count)
        for i in usable { splitOf[i] = layout.examples[i].split }
        let given = Set(usable.compactMap { layout.examples[$0].split })
        let drawFrom = usable.filter { splitOf[$0] == nil || (splitOf[$0] == .train && layout.hasSplitFolders) }
        for (split, asked) in [(Split.validation, options.validation), (.test, options.test)] where given.contains(split) && asked != nil {
            throw DataError("\(layout.root.path) has its own \(split.rawValue) folder: \(split == .test ? "test" : "val")= draws a split only when the folder has none")
        }
        let validation = given.contains(.validation) ? SplitAmount.count(0) : options.validation ?? .fraction(0.1)
        let test = given.contains(.test) ? SplitAmount.count(0) : options.test ?? .fraction(0.1)
        if !drawFrom.isEmpty, validation != .count(0) || test != .count(0) {
            let drawn = try SplitDrawing.draw(labels: drawFrom.map { layout.examples[$0].label }, classes: classNames.count,
                                              validation: validation, test: test, seed: options.seed ?? 1,
                                              stratified: layout.task == .classification, classNames: classNames)
            for (i, split) in zip(drawFrom, drawn) { splitOf[i] = split }
        }
        let sets = Split.allCases.map { split in
            ImageSet.gathering(usable.filter { (splitOf[$0] ?? .train) == split }, height: d.size.height, width: d.size.width, channels: 3,
                               task: layout.task, image: d.image, mask: d.mask, label: { layout.examples[$0].label }, id: { layout.examples[$0].image })
        }
        return Dataset(source: source, classNames: classNames, train: sets[0], validation: sets[1], test: sets[2], skipped: skipped, notes: notes)
    }
}
