import Foundation
import Interface
import Tensor

/// What `data` shows: name, source, splits and sizes, image shape, classes
/// with their names and balance (images per class, or for segmentation the
/// fraction of labelled pixels per class), and skipped files.
public struct DatasetSummary: Codable, Equatable, Sendable, TabularOutput {
    public struct Split: Codable, Equatable, Sendable {
        public let name: String
        public let images: Int
        /// Classification: images per class. Segmentation: labelled pixels per class.
        public let classCounts: [Int]
    }
    public let name: String
    public let task: LearningTask
    public let source: String
    /// Stored image (H, W, C) and network input (H, W, C) after the pipeline.
    public let imageShape: [Int], inputShape: [Int]
    public let classes: [String]
    public let splits: [Split]
    public let augmentation: String
    public let skipped: [String]

    public init(_ d: Dataset) {
        name = d.name
        task = d.task
        source = d.source.origin
        imageShape = [d.train.height, d.train.width, d.train.channels]
        let a = d.augmentation
        inputShape = [a.height, a.width, d.train.channels]
        classes = d.classNames
        splits = [("train", d.train), ("validation", d.validation), ("test", d.test)].map { name, set in
            var counts = [Int](repeating: 0, count: d.classNames.count)
            if set.isSegmentation {
                for m in set.masks where Int(m) < counts.count { counts[Int(m)] += 1 }
            } else {
                for l in set.labels where l >= 0 && Int(l) < counts.count { counts[Int(l)] += 1 }
            }
            return Split(name: name, images: set.count, classCounts: counts)
        }
        var steps = [String]()
        if a.cropPadding > 0 { steps.append("pad by \(a.cropPadding), random \(a.height)x\(a.width) crop") }
        if a.height != d.train.height || a.width != d.train.width, a.cropPadding == 0 { steps.append("centred on \(a.height)x\(a.width) (black padding, label -1)") }
        if a.flip { steps.append("random horizontal flip") }
        steps.append("bytes to [-1, 1]")
        augmentation = steps.joined(separator: ", ")
        skipped = d.skipped
    }

    /// The text `data` prints.
    public var text: String {
        var lines = ["\(name) — \(task.rawValue), \(source)",
                     "images \(imageShape[0])x\(imageShape[1])x\(imageShape[2]), network input \(inputShape[0])x\(inputShape[1])x\(inputShape[2])",
                     "splits: " + splits.map { "\($0.name) \($0.images)" }.joined(separator: ", "),
                     "training pipeline: \(augmentation)"]
        let unit = task == .segmentation ? "% of pixels" : "images"
        lines.append("\(classes.count) classes (\(unit) per class in train / validation / test):")
        let width = min(24, classes.map(\.count).max() ?? 0)
        for (k, name) in classes.enumerated() {
            let cells = splits.map { cell($0, class: k) }
            lines.append("  " + Table.pad(String(k), 3, right: true) + "  " + Table.pad(name, width) + "  " + cells.joined(separator: " / "))
        }
        return (lines + skippedLines).joined(separator: "\n")
    }

    private var skippedLines: [String] {
        guard !skipped.isEmpty else { return [] }
        return ["\(skipped.count) images skipped:"] + skipped.prefix(10).map { "  " + $0 } + (skipped.count > 10 ? ["  … and \(skipped.count - 10) more"] : [])
    }

    /// For a rich display: the description, then the classes as a table (a row per class, a column per split).
    public var blocks: [Block] {
        let unit = task == .segmentation ? "% of pixels" : "images"
        var table = Table([.right("#", 4), .left("class", 16)] + splits.map { .right($0.name, 12) })
        for (k, name) in classes.enumerated() { table.add([String(k), name] + splits.map { cell($0, class: k) }) }
        let head = text.split(separator: "\n").prefix(4).joined(separator: "\n") + "\n\(classes.count) classes (\(unit) per class):"
        return [.text(head), .table(table), .text(skippedLines.joined(separator: "\n"))]
    }

    /// A class's share of a split: images, or for segmentation the percentage of labelled pixels.
    private func cell(_ s: Split, class k: Int) -> String {
        guard task == .segmentation else { return String(s.classCounts[k]) }
        let total = max(1, s.classCounts.reduce(0, +))
        return String(format: "%5.1f%%", 100 * Double(s.classCounts[k]) / Double(total))
    }
}
