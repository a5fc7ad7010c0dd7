import DatasetFiles
import Datasets
import Foundation
import Tensor
import TestSupport
import XCTest

final class CIFARTests: XCTestCase {
    /// Record r of a file as stored: planar (1024 red, 1024 green, 1024 blue),
    /// every byte a known function of (file, record, pixel, channel).
    static func image(_ file: Int, _ r: Int) -> [UInt8] {
        (0..<3072).map { i in UInt8(truncatingIfNeeded: file * 31 + r * 7 + (i % 1024) * 3 + (i / 1024) * 101) }
    }

    /// CIFAR-10 with `records[i]` records in data_batch_(i+1) and 4 in test_batch.
    func writeCIFAR10(_ folder: URL, records: [Int] = [3, 2, 3, 2, 2]) throws {
        let names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        try DatasetFiles.writeCIFAR10(folder, batches: records, test: 4, names: names) { file, r in
            file < 5 ? .init(labels: [UInt8((file + r) % 10)], pixels: Self.image(file, r)) : .init(labels: [UInt8(r)], pixels: Self.image(9, r))
        }
    }

    func testCIFAR10LoadsPixelsLabelsSplitsAndNames() throws {
        let folder = try temporaryFolder(self)
        try writeCIFAR10(folder)
        var spec = CIFAR10(path: folder.path)
        spec.validation = 3
        let d = try spec.load()
        XCTAssertEqual(d.classNames.count, 10)
        XCTAssertEqual(d.classNames[0], "airplane")
        XCTAssertEqual(d.classNames[9], "truck")
        XCTAssertEqual(d.train.count, 9)
        XCTAssertEqual(d.validation.count, 3)
        XCTAssertEqual(d.test.count, 4)
        // Training order: file 1 records 0-2, file 2 records 0-1, file 3 records 0-2, …
        let order = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (3, 0), (3, 1), (4, 0), (4, 1)]
        for (k, (f, r)) in order.enumerated() {
            let set = k < 9 ? d.train : d.validation, i = k < 9 ? k : k - 9
            XCTAssertEqual(set.labels[i], Int32((f + r) % 10))
            let planar = Self.image(f, r), got = Array(set.image(i))
            // Interleaved (H, W, C): pixel p channel c comes from plane c.
            for p in [0, 1, 31, 32, 500, 1023] {
                for c in 0..<3 { XCTAssertEqual(got[3 * p + c], planar[c * 1024 + p], "record \(f):\(r) pixel \(p) channel \(c)") }
            }
        }
        XCTAssertEqual(d.test.labels, [0, 1, 2, 3])
        XCTAssertEqual(d.train.ids[3], "data_batch_2.bin#0")

        // Progress after each file, in records of all six, and a cancelled load stops.
        var reports = [(Int, Int)]()
        _ = try spec.load(progress: { reports.append(($0, $1)) }, cancel: .never)
        XCTAssertEqual(reports.map(\.0), [3, 5, 8, 10, 12, 16])
        XCTAssertTrue(reports.allSatisfy { $0.1 == 16 })
        let cancelled = Cancellation()
        cancelled.cancel()
        assertThrows(try spec.load(progress: nil, cancel: cancelled), mentions: ["interrupted"])
    }

    func testCIFAR100FineAndCoarseLabels() throws {
        let folder = try temporaryFolder(self)
        let labels: [[UInt8]] = [[3, 77], [19, 0], [0, 99]]
        try DatasetFiles.writeCIFAR100(folder, train: 3, test: 1) { file, r in
            file == 0 ? .init(labels: labels[r], pixels: Self.image(0, r)) : .init(labels: [5, 42], pixels: Self.image(1, 0))
        }
        var spec = CIFAR100(path: folder.path)
        spec.validation = 1
        let fine = try spec.load()
        XCTAssertEqual(fine.train.labels + fine.validation.labels, [77, 0, 99])
        XCTAssertEqual(fine.test.labels, [42])
        XCTAssertEqual(fine.classNames.count, 100)
        XCTAssertEqual(fine.classNames[77], "fine77")
        spec.coarseLabels = true
        let coarse = try spec.load()
        XCTAssertEqual(coarse.train.labels + coarse.validation.labels, [3, 19, 0])
        XCTAssertEqual(coarse.test.labels, [5])
        XCTAssertEqual(coarse.classNames.count, 20)
        XCTAssertEqual(Array(coarse.train.image(1)), Array(fine.train.image(1)))
        XCTAssertEqual(Array(coarse.train.image(1))[3 * 5 + 2], Self.image(0, 1)[2 * 1024 + 5])
    }

    func testBadCIFARFilesGiveClearErrors() throws {
        let folder = try temporaryFolder(self)
        try writeCIFAR10(folder)
        var spec = CIFAR10(path: folder.path)
        spec.validation = 2

        // A partial record at the end.
        let file = folder.appendingPathComponent("data_batch_3.bin")
        let whole = try Data(contentsOf: file)
        try whole.prefix(whole.count - 100).write(to: file)
        assertThrows(try spec.load(), mentions: ["data_batch_3.bin", "partial", "3073-byte records"])
        try whole.write(to: file)

        // An out-of-range label.
        var bad = whole
        bad[3073] = 10
        try bad.write(to: file)
        assertThrows(try spec.load(), mentions: ["data_batch_3.bin", "record 1", "label 10"])
        try whole.write(to: file)

        // A missing file, a wrong class list, no folder, too large a validation set.
        try FileManager.default.removeItem(at: folder.appendingPathComponent("test_batch.bin"))
        assertThrows(try spec.load(), mentions: ["no test_batch.bin;", "the CIFAR-10 binary version", "cifar-10-batches-bin",
                                                 "data_batch_1.bin, data_batch_2.bin", "batches.meta.txt"])
        try writeCIFAR10(folder)
        try "a\nb\n".write(to: folder.appendingPathComponent("batches.meta.txt"), atomically: true, encoding: .utf8)
        assertThrows(try spec.load(), mentions: ["batches.meta.txt", "2 class names, expected 10"])
        assertThrows(try CIFAR10(path: folder.path + "/nope").load(), mentions: ["nope", "no such folder"])
        try writeCIFAR10(folder)
        spec.validation = 12
        assertThrows(try spec.load(), mentions: ["validation", "12", "hold 12", "set val= below that (val=1 keeps 11 for training)"])
    }
}
