import DatasetFiles
import Datasets
import Foundation
import TestSupport
import XCTest

final class PartLabelsTests: XCTestCase {
    static let side = PartLabels.side

    /// A Part Labels root with 3 train, 1 validation and 2 test examples; the labels of each mask by id.
    func writeRoot(_ root: URL) throws -> [String: [UInt8]] {
        let people = [[("Ann_Lee", 1), ("Ann_Lee", 2), ("Bo_Chan", 12)], [("Cy_Diaz", 1)], [("Ann_Lee", 3), ("Di_Eng", 7)]]
        var labels = [String: [UInt8]](), k = 0
        let splits = people.map { split in
            split.map { name, number -> DatasetFiles.Face in
                let (face, l) = DatasetFiles.Face.smooth(name, number, k: k)
                labels[name + "_" + String(format: "%04d", number)] = l
                k += 1
                return face
            }
        }
        try DatasetFiles.writePartLabels(root, splits: splits)
        return labels
    }

    func testLoadsImagesMasksAndSplits() throws {
        let root = try temporaryFolder(self)
        let labels = try writeRoot(root)
        var progress = [Int]()
        let d = try PartLabelsSource(path: root.path).load(progress: { done, total in
            XCTAssertEqual(total, 6)
            progress.append(done)
        }, cancel: .never)
        XCTAssertEqual(progress.last, 6)
        XCTAssertEqual(d.classNames, ["background", "hair", "skin"])
        XCTAssertEqual(d.train.ids, ["Ann_Lee_0001", "Ann_Lee_0002", "Bo_Chan_0012"])
        XCTAssertEqual(d.validation.ids, ["Cy_Diaz_0001"])
        XCTAssertEqual(d.test.ids, ["Ann_Lee_0003", "Di_Eng_0007"])
        XCTAssertTrue(d.isSegmentation)
        for set in [d.train, d.validation, d.test] {
            XCTAssertEqual(set.height, 250)
            for i in 0..<set.count {
                XCTAssertEqual(Array(set.mask(i)), labels[set.ids[i]], set.ids[i])
                let decoded = try JPEG.read(root.appendingPathComponent("lfw_funneled/\(set.ids[i].dropLast(5))/\(set.ids[i]).jpg").path)
                XCTAssertEqual(Array(set.image(i)), decoded.pixels)
            }
        }
        // The JPEG is close to what was written (lossy, smooth image).
        let original = DatasetFiles.Face.smooth("Ann_Lee", 1, k: 0).face.image.pixels, loaded = Array(d.train.image(0))
        let worst = zip(original, loaded).map { abs(Int($0) - Int($1)) }.max()!
        XCTAssertLessThan(worst, 12)
        let summary = DatasetSummary(d)
        XCTAssertEqual(summary.splits.map(\.images), [3, 1, 2])
        XCTAssertEqual(summary.splits[0].classCounts.reduce(0, +), 3 * 250 * 250)
        XCTAssertTrue(summary.text.contains("hair"))
    }

    func testMaskColoursMapToLabels() {
        let mask = RGBImage(width: 4, height: 1, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 10, 5])
        XCTAssertEqual(PartLabels.labels(of: mask), [1, 2, 0, 1])
    }

    func testMissingAndDamagedFilesStopOrAreSkipped() throws {
        let root = try temporaryFolder(self)
        _ = try writeRoot(root)
        let spec = PartLabelsSource(path: root.path)
        var skip = spec
        skip.onDamagedFile = .skip

        // A split entry without its image.
        let missing = root.appendingPathComponent("lfw_funneled/Bo_Chan/Bo_Chan_0012.jpg")
        let saved = try Data(contentsOf: missing)
        try FileManager.default.removeItem(at: missing)
        assertThrows(try spec.load(), mentions: ["Bo_Chan_0012.jpg", "no such file"])
        let skipped = try skip.load()
        XCTAssertEqual(skipped.train.ids, ["Ann_Lee_0001", "Ann_Lee_0002"])
        XCTAssertEqual(skipped.skipped.count, 1)
        XCTAssertTrue(skipped.skipped[0].contains("Bo_Chan_0012.jpg"))
        XCTAssertTrue(DatasetSummary(skipped).text.contains("1 images skipped"))

        // A corrupt JPEG (truncated), then garbage.
        try saved.prefix(300).write(to: missing)
        assertThrows(try spec.load(), mentions: ["Bo_Chan_0012.jpg", "JPEG"])
        try Data("not a jpeg at all".utf8).write(to: missing)
        assertThrows(try spec.load(), mentions: ["Bo_Chan_0012.jpg", "JPEG"])
        try saved.write(to: missing)

        // Masks: wrong size, wrong format, truncated.
        let maskPath = root.appendingPathComponent("parts_lfw_funneled_gt_images/Cy_Diaz_0001.ppm")
        let savedMask = try Data(contentsOf: maskPath)
        try PPM.write(RGBImage(width: 100, height: 250, pixels: [UInt8](repeating: 0, count: 100 * 250 * 3)), to: maskPath.path)
        assertThrows(try spec.load(), mentions: ["Cy_Diaz_0001.ppm", "100x250", "expected 250x250"])
        try Data("P3\n250 250\n255\n0 0 0\n".utf8).write(to: maskPath)
        assertThrows(try spec.load(), mentions: ["Cy_Diaz_0001.ppm", "P3", "P6"])
        try savedMask.prefix(savedMask.count - 7).write(to: maskPath)
        assertThrows(try spec.load(), mentions: ["Cy_Diaz_0001.ppm", "truncated"])
        XCTAssertEqual(try skip.load().validation.count, 0)
        try savedMask.write(to: maskPath)

        // A malformed split line, a missing split file: refused whatever the policy.
        let test = root.appendingPathComponent("parts_test.txt")
        try "Ann_Lee 3\nDi_Eng seven\n".write(to: test, atomically: true, encoding: .utf8)
        assertThrows(try skip.load(), mentions: ["parts_test.txt:2", "Di_Eng seven"])
        try FileManager.default.removeItem(at: test)
        assertThrows(try skip.load(), mentions: ["parts_test.txt", "no such file"])
        assertThrows(try PartLabelsSource(path: root.path + "/x").load(), mentions: ["no such folder"])
    }

    func testPPMHeaderWithCommentsAndSmallMaxval() throws {
        let folder = try temporaryFolder(self)
        let path = folder.appendingPathComponent("a.ppm").path
        try Data(Array("P6 # comment\n2 1\n# another\n15\n".utf8) + [15, 0, 0, 0, 15, 0]).write(to: URL(fileURLWithPath: path))
        let image = try PPM.read(path)
        XCTAssertEqual(image.width, 2)
        XCTAssertEqual(image.pixels, [255, 0, 0, 0, 255, 0])
        let out = RGBImage(width: 3, height: 2, pixels: (0..<18).map { UInt8($0 * 13) })
        try PPM.write(out, to: path)
        XCTAssertEqual(try PPM.read(path), out)
    }
}
