import Datasets
import Foundation
import Tensor

/// Datasets written in their official formats, for the tests, the fuzz
/// harness and the data benchmark: CIFAR-10/100 binary records and name
/// files; Part Labels JPEG images, PPM masks and split files.
public enum DatasetFiles {
    /// One CIFAR record as stored: its label bytes (CIFAR-10: the class;
    /// CIFAR-100: coarse, then fine) and 3072 planar pixel bytes (1024 red,
    /// 1024 green, 1024 blue, rows top to bottom).
    public struct Record {
        public var labels: [UInt8], pixels: [UInt8]
        public init(labels: [UInt8], pixels: [UInt8]) { (self.labels, self.pixels) = (labels, pixels) }

        /// Random pixels and labels below `classes` (each label byte).
        public static func random(labelBytes: Int, classes: Int, rng: inout RNG) -> Record {
            Record(labels: (0..<labelBytes).map { _ in UInt8(rng.integer(below: classes)) },
                   pixels: (0..<3072).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        }
    }

    /// cifar-10-batches-bin: `data_batch_1.bin` … `data_batch_5.bin` with
    /// `batches[i]` records, `test_batch.bin` with `test` records, and
    /// `batches.meta.txt`. `record(file, index)`: file 0…4 are the data batches, 5 the test batch.
    public static func writeCIFAR10(_ folder: URL, batches: [Int] = [4, 4, 4, 4, 4], test: Int = 4,
                                    names: [String] = (0..<10).map { "class\($0)" }, record: (Int, Int) -> Record) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        precondition(batches.count == 5, "CIFAR-10 has five data batches")
        for (file, count) in (batches + [test]).enumerated() {
            try write(folder.appendingPathComponent(file < 5 ? "data_batch_\(file + 1).bin" : "test_batch.bin"), count) { record(file, $0) }
        }
        try (names.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent("batches.meta.txt"), atomically: false, encoding: .utf8)
    }

    /// cifar-100-binary: `train.bin` and `test.bin`, and the fine and coarse
    /// name files. `record(file, index)`: file 0 is train, 1 is test.
    public static func writeCIFAR100(_ folder: URL, train: Int, test: Int, fine: [String] = (0..<100).map { "fine\($0)" },
                                     coarse: [String] = (0..<20).map { "coarse\($0)" }, record: (Int, Int) -> Record) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try fine.joined(separator: "\n").write(to: folder.appendingPathComponent("fine_label_names.txt"), atomically: false, encoding: .utf8)
        try coarse.joined(separator: "\n").write(to: folder.appendingPathComponent("coarse_label_names.txt"), atomically: false, encoding: .utf8)
        try write(folder.appendingPathComponent("train.bin"), train) { record(0, $0) }
        try write(folder.appendingPathComponent("test.bin"), test) { record(1, $0) }
    }

    /// A file of `count` records, written as it is produced (large sets stay small in memory).
    private static func write(_ file: URL, _ count: Int, record: (Int) -> Record) throws {
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        var chunk = Data()
        for r in 0..<count {
            let rec = record(r)
            chunk.append(contentsOf: rec.labels)
            chunk.append(contentsOf: rec.pixels)
            if chunk.count > 1 << 22 { try handle.write(contentsOf: chunk); chunk.removeAll(keepingCapacity: true) }
        }
        try handle.write(contentsOf: chunk)
    }

    /// One Part Labels example: the person, the image number, the photo and its mask (colours of `PartLabels.colours`).
    public struct Face {
        public var entry: PartLabels.Entry, image: RGBImage, mask: RGBImage
        public init(_ name: String, _ number: Int, image: RGBImage, mask: RGBImage) {
            (entry, self.image, self.mask) = (PartLabels.Entry(name: name, number: number), image, mask)
        }

        /// A smooth 250x250 photo (JPEG keeps it close) and a mask with hair
        /// on top, skin in a centre square, background elsewhere; both depend
        /// on `k`. `labels` are the mask's classes per pixel.
        public static func smooth(_ name: String, _ number: Int, k: Int) -> (face: Face, labels: [UInt8]) {
            let side = PartLabels.side
            var pixels = [UInt8](), maskPixels = [UInt8](), labels = [UInt8]()
            for y in 0..<side {
                for x in 0..<side {
                    pixels += [UInt8(x * 255 / side), UInt8(y * 255 / side), UInt8(truncatingIfNeeded: 40 * k)]
                    let label: UInt8 = y < 40 + 10 * k ? 1 : (x > 80 && x < 170 && y > 80 && y < 200 ? 2 : 0)
                    maskPixels += PartLabels.colours[Int(label)]
                    labels.append(label)
                }
            }
            return (Face(name, number, image: RGBImage(width: side, height: side, pixels: pixels),
                         mask: RGBImage(width: side, height: side, pixels: maskPixels)), labels)
        }
    }

    /// A Part Labels root: the three split files (train, validation, test)
    /// listing `splits`, their JPEG photos and PPM masks.
    public static func writePartLabels(_ root: URL, splits: [[Face]]) throws {
        precondition(splits.count == 3, "train, validation and test")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("parts_lfw_funneled_gt_images"), withIntermediateDirectories: true)
        for (file, faces) in zip(PartLabels.splitFiles, splits) {
            try (faces.map { "\($0.entry.name) \($0.entry.number)" }.joined(separator: "\n") + "\n")
                .write(to: root.appendingPathComponent(file), atomically: false, encoding: .utf8)
            for f in faces {
                try FileManager.default.createDirectory(at: root.appendingPathComponent("lfw_funneled/\(f.entry.name)"), withIntermediateDirectories: true)
                try JPEG.write(f.image, to: f.entry.imagePath(root))
                try PPM.write(f.mask, to: f.entry.maskPath(root))
            }
        }
    }

    /// A small Part Labels root: 2 train, 1 validation, 1 test example.
    public static func writePartLabels(_ root: URL) throws {
        let people = [[("Ann_Lee", 1), ("Ann_Lee", 2)], [("Bo_Chan", 1)], [("Cy_Diaz", 3)]]
        var k = 0
        try writePartLabels(root, splits: people.map { split in
            split.map { name, number in
                defer { k += 1 }
                return Face.smooth(name, number, k: k).face
            }
        })
    }
}
