import Datasets
import Foundation
import Interface
import Tensor

/// The `load images` row of `bsn bench data`: a folder of JPEG files of
/// 256x256 (10 classes, photo-like pictures: gradients, discs and noise),
/// loaded at size=64. The first load decodes every file: on one thread
/// (libjpeg-turbo's own loop, bsn's single-thread path) and on every core,
/// alternated, medians of five. Then the cache: a first load that writes
/// the decoded pack, and reloads that map it.
struct FolderLoadBenchmark {
    struct Report: Codable, Sendable {
        let files: Int, file_side: Int, size: Int, file_megabytes: Double
        let threads: Int
        /// Whole loads (listing, decoding, splitting), seconds, medians.
        let load_1_thread_s: Double, load_all_threads_s: Double
        /// The decoding alone (between the progress bar's first and last report), images per second.
        let decode_1_thread_images_per_s: Double, decode_all_threads_images_per_s: Double
        let decode_speedup: Double, load_speedup: Double
        /// With the cache on: the first load (decodes, writes the pack) and a reload (maps it).
        let cached_first_load_s: Double, cached_reload_s: Double, reload_fraction: Double
    }

    let files: Int
    static let side = 256, size = 64, classes = 10

    func run(in folder: URL, progress: (String) -> Void) throws -> Report {
        let root = folder.appendingPathComponent("jpeg-folder")
        progress("writing \(files) JPEG files of \(Self.side)x\(Self.side) in \(Self.classes) class folders")
        let bytes = try writeFolder(root)
        let source = ImageFolderSource(path: root.path, options: FolderOptions(size: ImageSize(side: Self.size), seed: 1))
        let cores = ProcessInfo.processInfo.activeProcessorCount

        // Uncached loads, one thread and all cores in turn.
        let saved = ProcessInfo.processInfo.environment["BSN_CACHE"]
        defer { if let saved { setenv("BSN_CACHE", saved, 1) } else { unsetenv("BSN_CACHE") } }
        setenv("BSN_CACHE", "off", 1)
        var one = [(load: Double, decode: Double)](), all = one
        for round in 1...5 {
            progress("load images, decoding every file: 1 thread, then \(cores) (round \(round) of 5)")
            one.append(try timedLoad(source, threads: 1))
            all.append(try timedLoad(source, threads: cores))
        }

        let cache = folder.appendingPathComponent("cache")
        setenv("BSN_CACHE", cache.path, 1)
        progress("load images with the cache: a first load writes the pack, reloads map it")
        let first = try timedLoad(source, threads: cores, expectDecoded: files).load
        var reloads = [Double]()
        for _ in 0..<5 { reloads.append(try timedLoad(source, threads: cores, expectDecoded: 0).load) }

        let m1 = median(one.map(\.load)), mAll = median(all.map(\.load))
        let d1 = median(one.map(\.decode)), dAll = median(all.map(\.decode)), reload = median(reloads)
        return Report(files: files, file_side: Self.side, size: Self.size, file_megabytes: Double(bytes) / 1e6, threads: cores,
                      load_1_thread_s: m1, load_all_threads_s: mAll,
                      decode_1_thread_images_per_s: Double(files) / d1, decode_all_threads_images_per_s: Double(files) / dAll,
                      decode_speedup: d1 / dAll, load_speedup: m1 / mAll,
                      cached_first_load_s: first, cached_reload_s: reload, reload_fraction: reload / first)
    }

    /// Seconds of the whole load, and of its decoding (first to last progress report).
    private func timedLoad(_ source: ImageFolderSource, threads: Int, expectDecoded: Int? = nil) throws -> (load: Double, decode: Double) {
        var started = 0.0, finished = 0.0
        let t0 = Timing.now()
        let loaded = try source.load(threads: threads, progress: { done, total in
            if done == 0 { started = Timing.now() }
            if done == total { finished = Timing.now() }
        }, cancel: .never)
        let seconds = Timing.now() - t0
        guard loaded.train.count + loaded.validation.count + loaded.test.count == files else {
            throw ShellFailure("bsn bench data: the folder loaded \(loaded.train.count + loaded.validation.count + loaded.test.count) of \(files) images")
        }
        if let expectDecoded, loaded.imagesDecoded != expectDecoded {
            throw ShellFailure("bsn bench data: expected \(expectDecoded) images decoded, got \(loaded.imagesDecoded)")
        }
        return (seconds, finished - started)
    }

    private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// Writes the folder on every core; returns its bytes.
    private func writeFolder(_ root: URL) throws -> Int {
        for k in 0..<Self.classes {
            try FileManager.default.createDirectory(at: root.appendingPathComponent("class-\(k)"), withIntermediateDirectories: true)
        }
        let sizes = UnsafeMutableBufferPointer<Int>.allocate(capacity: files)
        defer { sizes.deallocate() }
        sizes.initialize(repeating: -1)
        Parallel.forEach(files, threads: ProcessInfo.processInfo.activeProcessorCount) { i, _ in
            let path = root.appendingPathComponent(String(format: "class-%d/%05d.jpg", i % Self.classes, i)).path
            guard let bytes = try? JPEG.encode(picture(i), quality: 90, path),
                  FileManager.default.createFile(atPath: path, contents: bytes) else { return }
            sizes[i] = bytes.count
        }
        guard !sizes.contains(-1) else { throw ShellFailure("bsn bench data: cannot write the JPEG files in \(root.path)") }
        return sizes.reduce(0, +)
    }

    /// A photo-like 256x256 picture: a colour gradient, a disc, and a little noise (the seed is the index).
    private func picture(_ index: Int) -> RGBImage {
        var rng = RNG(seed: UInt64(index) &+ 17)
        let n = Self.side, base = (0..<3).map { _ in Float(rng.integer(below: 256)) }
        let cx = Float(rng.integer(below: n)), cy = Float(rng.integer(below: n)), r = Float(20 + rng.integer(below: 80))
        let disc = (0..<3).map { _ in UInt8(rng.integer(below: 256)) }
        var pixels = [UInt8](repeating: 0, count: n * n * 3)
        for y in 0..<n {
            for x in 0..<n {
                let p = 3 * (y * n + x), inside = (Float(x) - cx) * (Float(x) - cx) + (Float(y) - cy) * (Float(y) - cy) < r * r
                for c in 0..<3 {
                    let noise = Float(rng.integer(below: 17)) - 8
                    let value = inside ? Float(disc[c]) + noise : base[c] * Float(x + y) / Float(2 * n) + 40 + noise
                    pixels[p + c] = UInt8(max(0, min(255, value)))
                }
            }
        }
        return RGBImage(width: n, height: n, pixels: pixels)
    }
}
