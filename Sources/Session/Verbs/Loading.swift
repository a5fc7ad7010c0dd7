import Datasets
import Foundation
import Interface
import Tensor

/// What `load` reports.
public struct LoadReport: Output, Sendable {
    public let dataset: String, train: Int, validation: Int, test: Int, skipped: Int
    public let seconds: Double

    public var text: String {
        "loaded \(dataset): \(train) train, \(validation) validation, \(test) test images"
            + (skipped == 0 ? "" : ", \(skipped) skipped (see data)") + String(format: " (%.1f s)", seconds)
    }
}

extension Session {
    /// Loads a dataset and makes its loader (seeded from the session's
    /// generator). `progress(done, total)` reports long loads; cancelling
    /// stops with `DataError.interrupted` and changes nothing.
    @discardableResult
    public func load(_ source: any DatasetSource, progress: ((Int, Int) -> Void)? = nil, cancel: Cancellation = .never) throws -> LoadReport {
        let start = Date()
        let d = try source.load(progress: progress, cancel: cancel)
        try use(d)
        return LoadReport(dataset: d.name, train: d.train.count, validation: d.validation.count, test: d.test.count,
                          skipped: d.skipped.count, seconds: Date().timeIntervalSince(start))
    }

    /// What `data` shows about the loaded dataset.
    public func dataSummary() throws -> DatasetSummary { DatasetSummary(try requireDataset()) }
}
