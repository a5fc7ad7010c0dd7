import Datasets
import Foundation
import Tensor

/// Small datasets written in the official formats (CIFAR-10/100 binary
/// records and name files; Part Labels JPEGs, PPM masks and split files),
/// for the fuzz harness and the tests.
public enum DatasetWriters {

    public static func writeCIFAR10(_ dir: URL, records n: Int, rng: inout RNG) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try (0..<10).map { "class\($0)" }.joined(separator: "\n").write(to: dir.appendingPathComponent("batches.meta.txt"), atomically: false, encoding: .utf8)
        for name in (1...5).map({ "data_batch_\($0).bin" }) + ["test_batch.bin"] {
            try Data(records(n, labelBytes: 1, classes: 10, rng: &rng)).write(to: dir.appendingPathComponent(name))
        }
    }

    public static func writeCIFAR100(_ dir: URL, records n: Int, rng: inout RNG) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try (0..<100).map { "fine\($0)" }.joined(separator: "\n").write(to: dir.appendingPathComponent("fine_label_names.txt"), atomically: false, encoding: .utf8)
        try (0..<20).map { "coarse\($0)" }.joined(separator: "\n").write(to: dir.appendingPathComponent("coarse_label_names.txt"), atomically: false, encoding: .utf8)
        for name in ["train.bin", "test.bin"] {
            try Data(records(n, labelBytes: 2, classes: 20, rng: &rng)).write(to: dir.appendingPathComponent(name))
        }
    }

    public static func records(_ n: Int, labelBytes: Int, classes: Int, rng: inout RNG) -> [UInt8] {
        var bytes = [UInt8]()
        for _ in 0..<n {
            for _ in 0..<labelBytes { bytes.append(UInt8(rng.integer(below: classes))) }
            for _ in 0..<3072 { bytes.append(UInt8(truncatingIfNeeded: rng.next())) }
        }
        return bytes
    }

    /// A Part Labels root with one person per split: 2 train, 1 validation, 1 test.
    public static func writePartLabels(_ root: URL) throws {
        let side = PartLabels.side
        let entries = [["Ann_Lee 1", "Ann_Lee 2"], ["Bo_Chan 1"], ["Cy_Diaz 3"]]
        try FileManager.default.createDirectory(at: root.appendingPathComponent("parts_lfw_funneled_gt_images"), withIntermediateDirectories: true)
        for (file, lines) in zip(PartLabels.splitFiles, entries) {
            try (lines.joined(separator: "\n") + "\n").write(to: root.appendingPathComponent(file), atomically: false, encoding: .utf8)
            for line in lines {
                let parts = line.split(separator: " ")
                let entry = PartLabels.Entry(name: String(parts[0]), number: Int(parts[1])!)
                let folder = root.appendingPathComponent("lfw_funneled/\(entry.name)")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                var pixels = [UInt8](), mask = [UInt8]()
                for y in 0..<side {
                    for x in 0..<side {
                        pixels += [UInt8(x * 255 / side), UInt8(y * 255 / side), 90]
                        mask += PartLabels.colours[y < 60 ? 1 : (x > 80 && x < 170 ? 2 : 0)]
                    }
                }
                try JPEG.write(RGBImage(width: side, height: side, pixels: pixels), to: entry.imagePath(root), quality: 80)
                try PPM.write(RGBImage(width: side, height: side, pixels: mask), to: entry.maskPath(root))
            }
        }
    }
}
