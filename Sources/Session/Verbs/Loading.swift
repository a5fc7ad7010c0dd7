import Datasets
import Foundation
import Interface
import Tensor

/// What `load` reports.
public struct LoadReport: Output, Sendable {
    public let dataset: String, train: Int, validation: Int, test: Int, skipped: Int
    /// Image files decoded by this load (0: generated, or from the cache).
    public let decoded: Int
    /// The cache file the images were mapped from, if they were.
    public let cache: String?
    public let notes: [String]
    public let seconds: Double

    public var text: String {
        (["loaded \(dataset): \(train) train, \(validation) validation, \(test) test images"
            + (skipped == 0 ? "" : ", \(skipped) skipped (see data)") + (decoded == 0 ? "" : ", \(decoded) files decoded")
            + (cache == nil ? "" : ", from the cache (nothing decoded)")
            + String(format: " (%.1f s)", seconds)] + notes).joined(separator: "\n")
    }
}

extension Session {
    /// Loads a dataset and makes its loader (seeded from the session's
    /// generator). `progress(done, total)` reports long loads; cancelling
    /// stops with `DataError.interrupted` and changes nothing.
    @discardableResult
    public func load(_ source: any DatasetSource, progress: ((Int, Int) -> Void)? = nil, cancel: Cancellation = .never) throws -> LoadReport {
        let start = Date()
        var source = source
        source.adoptSessionSeed(settings.seed)
        let d = try source.load(progress: progress, cancel: cancel)
        try use(d)
        return LoadReport(dataset: d.name, train: d.train.count, validation: d.validation.count, test: d.test.count,
                          skipped: d.skipped.count, decoded: d.imagesDecoded, cache: d.cache, notes: d.notes, seconds: Date().timeIntervalSince(start))
    }

    /// Writes the loaded dataset as a folder of PNG files that `load images`
    /// (classification) or `load masks` (segmentation) reads back; all splits
    /// as train/ val/ test/, or one split straight under the folder.
    public func exportImages(to path: String, splits: [Split] = Split.allCases, progress: ((Int, Int) -> Void)? = nil,
                             cancel: Cancellation = .never) throws -> Message {
        let d = try requireDataset()
        let start = Date()
        let w = try FolderExport.write(d, to: path, splits: splits, progress: progress, cancel: cancel)
        let reload = "load \(d.isSegmentation ? "masks" : "images") \(w.root)"
        return Message("wrote \(w.images) images of \(d.name) to \(w.root)/ (\(Format.quantity(Double(w.bytes))) bytes, "
                       + String(format: "%.1f s", Date().timeIntervalSince(start)) + "); `\(reload)` reads them back")
    }

    /// What `data` shows about the loaded dataset.
    public func dataSummary() throws -> DatasetSummary { DatasetSummary(try requireDataset()) }
}
