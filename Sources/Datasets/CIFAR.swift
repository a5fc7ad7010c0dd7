import Files
import Foundation
import Tensor

/// CIFAR-10 and CIFAR-100 in their official binary versions.
///
/// CIFAR-10 (`cifar-10-batches-bin/`): `data_batch_1.bin` … `data_batch_5.bin`
/// and `test_batch.bin`, records of 3073 bytes (label, then 1024 red, 1024
/// green, 1024 blue bytes, rows top to bottom); class names in
/// `batches.meta.txt`. CIFAR-100 (`cifar-100-binary/`): `train.bin`,
/// `test.bin`, records of 3074 bytes (coarse label, fine label, pixels);
/// names in `fine_label_names.txt` and `coarse_label_names.txt`.
/// Any whole number of records per file is accepted.
enum CIFAR {
    static let side = 32, planeSize = 1024
    /// More images than both versions hold (a bound for saved sessions).
    static let maxImages = 100_000_000

    /// Padded by 4, randomly cropped back to 32x32 and flipped (the paper's pipeline; the shapes use it too).
    static let augmentation = Augmentation(cropPadding: 4, flip: true, height: 32, width: 32)

    /// The last `validation` training images become the validation set.
    static func split(_ source: any DatasetSource, all: ImageSet, test: ImageSet, classes: [String], validation: Int) throws -> Dataset {
        guard validation >= 0, validation < all.count else {
            throw DataError("a validation set of \(validation) images leaves no training images: the training files of \(source.origin) hold \(all.count);"
                            + " set val= below that (val=\(min(5000, max(all.count / 10, 0))) keeps \(all.count - min(5000, max(all.count / 10, 0))) for training)")
        }
        return Dataset(source: source, classNames: classes, train: all.subset(0 ..< all.count - validation),
                       validation: all.subset(all.count - validation ..< all.count), test: test, skipped: [])
    }

    /// The files of the official binary versions, and where they come from.
    static let files10 = (1...5).map { "data_batch_\($0).bin" } + ["test_batch.bin", "batches.meta.txt"]
    static let files100 = ["train.bin", "test.bin", "fine_label_names.txt", "coarse_label_names.txt"]

    /// Every file of the set is there, or one error naming the missing ones and the whole set expected.
    static func checkFiles(_ folder: URL, _ files: [String], set: String) throws {
        let missing = files.filter { !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
        guard !missing.isEmpty else { return }
        throw DataError("\(folder.path): no \(missing.joined(separator: ", ")); \(set) holds \(files.joined(separator: ", "))")
    }

    /// CIFAR-10: (train, test, class names). `progress(done, total)` as records are read.
    static func load10(_ folder: URL, progress: ((Int, Int) -> Void)? = nil, cancel: Cancellation = .never) throws -> (train: ImageSet, test: ImageSet, classes: [String]) {
        try checkFiles(folder, files10, set: "the CIFAR-10 binary version (cifar-10-binary.tar.gz, unpacked: cifar-10-batches-bin)")
        let classes = try names(folder.appendingPathComponent("batches.meta.txt"), count: 10)
        var train = ImageSet(height: side, width: side, channels: 3)
        var count = Counter(total: records(in: files10.prefix(6).map { folder.appendingPathComponent($0) }, record: 1 + 3 * planeSize),
                            progress: progress, cancel: cancel)
        for i in 1...5 { try read(folder.appendingPathComponent("data_batch_\(i).bin"), labelBytes: 1, labelIndex: 0, classes: 10, into: &train, counter: &count) }
        var test = ImageSet(height: side, width: side, channels: 3)
        try read(folder.appendingPathComponent("test_batch.bin"), labelBytes: 1, labelIndex: 0, classes: 10, into: &test, counter: &count)
        return (train, test, classes)
    }

    /// CIFAR-100 with its fine (100) or coarse (20) labels.
    static func load100(_ folder: URL, coarse: Bool, progress: ((Int, Int) -> Void)? = nil, cancel: Cancellation = .never) throws -> (train: ImageSet, test: ImageSet, classes: [String]) {
        try checkFiles(folder, files100, set: "the CIFAR-100 binary version (cifar-100-binary.tar.gz, unpacked: cifar-100-binary)")
        let classCount = coarse ? 20 : 100
        let classes = try names(folder.appendingPathComponent(coarse ? "coarse_label_names.txt" : "fine_label_names.txt"), count: classCount)
        var train = ImageSet(height: side, width: side, channels: 3)
        var count = Counter(total: records(in: ["train.bin", "test.bin"].map { folder.appendingPathComponent($0) }, record: 2 + 3 * planeSize),
                            progress: progress, cancel: cancel)
        try read(folder.appendingPathComponent("train.bin"), labelBytes: 2, labelIndex: coarse ? 0 : 1, classes: classCount, into: &train, counter: &count)
        var test = ImageSet(height: side, width: side, channels: 3)
        try read(folder.appendingPathComponent("test.bin"), labelBytes: 2, labelIndex: coarse ? 0 : 1, classes: classCount, into: &test, counter: &count)
        return (train, test, classes)
    }

    /// The records the files hold, by their sizes (for progress).
    static func records(in files: [URL], record: Int) -> Int {
        files.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1.path)[.size] as? Int) ?? 0) / record }
    }

    /// Records read so far, reported every 2000 and after each file, checked for cancellation.
    struct Counter {
        let total: Int, progress: ((Int, Int) -> Void)?, cancel: Cancellation
        var done = 0
        mutating func advance() throws {
            done += 1
            if done % 2000 == 0 { try report() }
        }
        func report() throws {
            if cancel.isCancelled { throw DataError.interrupted }
            progress?(done, max(total, done))
        }
    }

    /// Appends every record of `file`: planar RGB becomes interleaved (H, W, C).
    static func read(_ file: URL, labelBytes: Int, labelIndex: Int, classes: Int, into set: inout ImageSet, counter: inout Counter) throws {
        let bytes = try contents(of: file)
        let record = labelBytes + 3 * planeSize
        guard bytes.count % record == 0 else {
            throw DataError("\(file.path): \(bytes.count) bytes is not a whole number of \(record)-byte records "
                            + "(\(bytes.count / record) records and a partial one of \(bytes.count % record) bytes); the file is truncated or not a CIFAR binary file")
        }
        guard !bytes.isEmpty else { throw DataError("\(file.path): the file is empty") }
        let n = bytes.count / record, name = file.lastPathComponent
        try Memory.check(Double(set.count + n) * Double(3 * planeSize + 40), "\(file.path) (\(n) records)", of: "images")
        set.reserve(set.count + n)
        var image = [UInt8](repeating: 0, count: 3 * planeSize)
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for r in 0..<n {
                let base = r * record
                let label = Int(raw[base + labelIndex])
                guard label < classes else {
                    throw DataError("\(file.path): record \(r) has label \(label); labels must be below \(classes)")
                }
                let planes = base + labelBytes
                for p in 0..<planeSize {
                    image[3 * p] = raw[planes + p]
                    image[3 * p + 1] = raw[planes + planeSize + p]
                    image[3 * p + 2] = raw[planes + 2 * planeSize + p]
                }
                set.append(pixels: image, label: Int32(label), id: "\(name)#\(r)")
                try counter.advance()
            }
        }
        try counter.report()
    }

    /// Class names, one per line (blank lines ignored); exactly `count`.
    static func names(_ file: URL, count: Int) throws -> [String] {
        let bytes = try contents(of: file)
        guard let text = String(data: bytes, encoding: .utf8) else { throw DataError("\(file.path): not a text file") }
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard names.count == count else {
            throw DataError("\(file.path): \(names.count) class names, expected \(count)")
        }
        return names
    }
}

/// A regular file's bytes, or an error naming it (a FIFO, a device or a folder is refused; see RegularFile).
func contents(of file: URL) throws -> Data {
    let f: RegularFile
    do { f = try RegularFile(file.path) } catch { throw DataError("\(error)") }
    try Memory.check(Double(f.size), file.path, of: "file contents")
    do { return try f.readAll() } catch { throw DataError("\(error)") }
}
