import DatasetFiles
import Datasets
import Foundation
import Interface
import Tensor

/// `bsn bench data`: how fast the input pipeline runs, on data generated on
/// the fly: a CIFAR-sized set (50,000 + 10,000 random images written in the
/// official binary format, then loaded) and a Part-Labels-sized one (250x250
/// images with masks, padded to 256x256). For each: images/s of the loader
/// alone (augmentation and conversion to floats), without and with prefetch,
/// and with a consumer that works as long as a batch takes to make, which
/// shows how much of the loading the prefetch thread hides. Then a folder of
/// the user's JPEG files through `load images` (FolderLoadBenchmark).
public struct DataBenchmark {
    public struct Row: Codable, Sendable {
        public let data: String, batch: Int, prefetch: Bool
        /// Milliseconds of simulated training per batch (0: the loader alone).
        public let consumer_ms: Double
        public let images_per_s: Double, ms_per_batch: Double
    }
    public struct Report: Codable, Sendable {
        public let cifar_images: Int, cifar_load_s: Double, cifar_load_images_per_s: Double
        public let rows: [Row]
        let folder: FolderLoadBenchmark.Report
    }

    public let quick: Bool
    public init(quick: Bool) { self.quick = quick }

    public func run(progress: (String) -> Void = { _ in }) throws -> Report {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-bench-data-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let trainCount = quick ? 5000 : 50000, testCount = quick ? 1000 : 10000
        progress("writing a CIFAR-10-sized set (\(trainCount) + \(testCount) images) in the official binary format")
        try writeCIFAR(folder, trainCount: trainCount, testCount: testCount)
        let start = Timing.now()
        let cifar = try CIFAR10(path: folder.path, validation: trainCount / 10).load()
        let loadSeconds = Timing.now() - start

        progress("generating a Part-Labels-sized set (250x250 images and masks)")
        let faces = partLabelsSized(count: quick ? 32 : 128)
        let facesAugmentation = PartLabelsSource(path: "").augmentation

        var rows = [Row]()
        for (name, set, augmentation, batch) in [("cifar", cifar.train, cifar.augmentation, 64), ("partlabels", faces, facesAugmentation, 8)] {
            progress("measuring the \(name) loader")
            let alone = try measure(set, augmentation, batch: batch, prefetch: false, consumer: 0)
            rows.append(row(name, batch, false, 0, alone))
            rows.append(row(name, batch, true, 0, try measure(set, augmentation, batch: batch, prefetch: true, consumer: 0)))
            for prefetch in [false, true] {
                rows.append(row(name, batch, prefetch, alone * 1000, try measure(set, augmentation, batch: batch, prefetch: prefetch, consumer: alone)))
            }
        }
        let folderRow = try FolderLoadBenchmark(files: quick ? 1000 : 10000).run(in: folder, progress: progress)
        return Report(cifar_images: trainCount + testCount, cifar_load_s: loadSeconds,
                      cifar_load_images_per_s: Double(trainCount + testCount) / loadSeconds, rows: rows, folder: folderRow)
    }

    private func row(_ name: String, _ batch: Int, _ prefetch: Bool, _ consumerMs: Double, _ seconds: Double) -> Row {
        Row(data: name, batch: batch, prefetch: prefetch, consumer_ms: consumerMs,
            images_per_s: Double(batch) / seconds, ms_per_batch: seconds * 1000)
    }

    /// Median seconds per batch; the consumer spins `consumer` seconds per batch.
    private func measure(_ set: ImageSet, _ augmentation: Augmentation, batch: Int, prefetch: Bool, consumer: Double) throws -> Double {
        let loader = Loader(set, augmentation: augmentation, batchSize: batch, seed: 1, prefetch: prefetch)
        var samples = [Double]()
        for _ in 0..<5 {
            let t0 = Timing.now(), steps = quick ? 10 : 40
            for _ in 0..<steps {
                _ = try loader.nextBatch()
                if consumer > 0 { let end = Timing.now() + consumer; while Timing.now() < end {} }
            }
            samples.append((Timing.now() - t0) / Double(steps))
        }
        return samples.sorted()[samples.count / 2]
    }

    private func writeCIFAR(_ folder: URL, trainCount: Int, testCount: Int) throws {
        var rng = RNG(seed: 1)
        try DatasetFiles.writeCIFAR10(folder, batches: Array(repeating: trainCount / 5, count: 5), test: testCount) { _, _ in
            .random(labelBytes: 1, classes: 10, rng: &rng)
        }
    }

    private func partLabelsSized(count: Int) -> ImageSet {
        var rng = RNG(seed: 2), set = ImageSet(height: 250, width: 250, channels: 3, task: .segmentation)
        for i in 0..<count {
            let pixels = (0..<(250 * 250 * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let mask = (0..<(250 * 250)).map { _ in UInt8(rng.integer(below: 3)) }
            set.append(pixels: pixels, mask: mask, id: "\(i)")
        }
        return set
    }

    public static func table(_ report: Report) -> String {
        var lines = [String(format: "bsn bench data — CIFAR-sized binary load: %d images in %.2f s (%.0f images/s)",
                            report.cifar_images, report.cifar_load_s, report.cifar_load_images_per_s),
                     "loader: augmentation (crop/flip), bytes → floats in [-1, 1], batches of the training split",
                     ""]
        var table = Table([.left("data", 13), .right("batch", 5), .left("  prefetch", 10), .right("consumer ms", 13), .right("images/s", 11), .right("ms/batch", 11)])
        for r in report.rows {
            table.add([r.data, String(r.batch), "  " + (r.prefetch ? "yes" : "no"), Format.fixed(r.consumer_ms, 2),
                       Format.fixed(r.images_per_s, 0), Format.fixed(r.ms_per_batch, 3)])
        }
        lines += table.lines
        lines.append("")
        lines.append("With a consumer as slow as the loader, prefetch hides the loading when ms/batch ≈ consumer ms (without it: ≈ 2x).")
        let f = report.folder
        lines += ["",
                  String(format: "load images: %d JPEG files of %dx%d (%.1f MB, 10 class folders) decoded to %dx%d; medians of 5",
                         f.files, f.file_side, f.file_side, f.file_megabytes, f.size, f.size)]
        var folder = Table([.left("threads", 9), .right("load s", 9), .right("decode images/s", 17)])
        folder.add(["1", Format.fixed(f.load_1_thread_s, 3), Format.fixed(f.decode_1_thread_images_per_s, 0)])
        folder.add([String(f.threads), Format.fixed(f.load_all_threads_s, 3), Format.fixed(f.decode_all_threads_images_per_s, 0)])
        lines += folder.lines
        lines.append(String(format: "%d threads vs 1: decoding %.2fx, whole load %.2fx (target: decoding ≥ 1.7x on 2 cores)",
                            f.threads, f.decode_speedup, f.load_speedup))
        lines.append(String(format: "cache: first load %.3f s (decodes, writes the pack), reload %.4f s = %.1f%% of it (target ≤ 5%%)",
                            f.cached_first_load_s, f.cached_reload_s, 100 * f.reload_fraction))
        return lines.joined(separator: "\n")
    }
}
