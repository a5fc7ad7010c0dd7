import Datasets
import DatasetFiles
import Foundation
import Render
import Session
import SuperNet
import Tensor
import TestSupport
import XCTest

/// `export model` and `infer`: a model file run on image files gives what
/// the session gives on the same images through the dataset path.
final class ModelFileTests: XCTestCase {
    /// The deterministic architecture's logits for a whole split, through the dataset's test pipeline.
    private func datasetLogits(_ s: Session, _ set: ImageSet) throws -> Tensor {
        let d = try XCTUnwrap(s.dataset), net = try XCTUnwrap(s.network)
        let batch = try XCTUnwrap(EvaluationBatches(set, augmentation: d.augmentation, batchSize: set.count).makeIterator().next())
        return try XCTUnwrap(s.trainer).executor.forward(batch.images, architectures: [net.deterministicArchitecture], training: false, inferenceOnly: true)
    }

    private func trainedClassifier() throws -> Session {
        let s = Session(name: "model", seed: 3)
        try s.load(Shapes(train: 128, validation: 32, test: 12, seed: 2))
        try s.set(.batch(32))
        try s.build(.cnf(columns: 2, scales: 3, channels: 8, segmentation: false, gated: true))
        try s.train(.steps(8), validate: false)
        return s
    }

    func testInferOnPNGFilesGivesTheDatasetPathsClasses() throws {
        let folder = try temporaryFolder(self)
        let s = try trainedClassifier()
        let path = folder.appendingPathComponent("found.bsnmodel").path
        try s.exportModel(to: path)
        let model = try ExportedModel(file: path)
        let test = try XCTUnwrap(s.dataset).test
        let logits = try datasetLogits(s, test), k = logits.dim(-1)
        for e in 0..<test.count {
            let file = folder.appendingPathComponent("image\(e).png").path
            let rgb = Array(test.image(e))
            try PNG.write(RGBAImage(width: test.width, height: test.height, pixels: (0..<test.width * test.height).flatMap { p in rgb[3 * p..<3 * p + 3] + [255] }), to: file)
            let (prediction, preparation) = try model.predict(try ExportedModel.readImage(file))
            XCTAssertEqual(preparation, "as in the test pipeline")
            guard case .classes(let p) = prediction else { return XCTFail("a classifier predicts classes") }
            let expected = argmax(logits.data + e * k, count: k)
            XCTAssertEqual(p.indices.max { p[$0] < p[$1] }, expected, "image \(e)")
            // The same logits, bit for bit, give the same probabilities.
            let row = (0..<k).map { Double(logits.data[e * k + $0]) }, top = row.max()!, sum = row.map { exp($0 - top) }.reduce(0, +)
            for c in 0..<k { XCTAssertEqual(p[c], exp(row[c] - top) / sum, accuracy: 1e-12) }
            // The notebook's verbs print the same top class, from the session or from the file.
            let name = try XCTUnwrap(s.dataset).classNames[expected]
            XCTAssertEqual(try s.infer([file]).images[0].classes[0].name, name)
            XCTAssertEqual(try model.infer([file]).images[0].classes[0].name, name)
        }
    }

    /// A file of the user's folder gives the same network input through infer as through load images:
    /// the same decoding (alpha on black) and the same resize and crop, so the same probabilities.
    func testInferOnAFileOfAnImageFolderGivesWhatTheLoadedDatasetGives() throws {
        let root = try temporaryFolder(self)
        setenv("BSN_CACHE", "off", 1)
        defer { unsetenv("BSN_CACHE") }
        var rng = RNG(seed: 11)
        for name in ["ant", "bee"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(name), withIntermediateDirectories: true)
            for i in 0..<6 {
                let pixels = (0..<(50 * 37 * 4)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                try PNG.write(RGBAImage(width: 50, height: 37, pixels: pixels), to: root.appendingPathComponent("\(name)/\(i).png").path)
            }
        }
        let s = Session(name: "folder", seed: 3)
        try s.load(ImageFolderSource(path: root.path, options: FolderOptions(size: ImageSize(side: 16), validation: .count(0), test: .count(0))))
        try s.set(.batch(4))
        try s.build(.cnf(columns: 2, scales: 2, channels: 4, segmentation: false, gated: true))
        try s.train(.steps(3), validate: false)
        let train = try XCTUnwrap(s.dataset).train
        let logits = try datasetLogits(s, train), k = logits.dim(-1)
        for e in 0..<train.count {
            let report = try s.infer([root.appendingPathComponent(train.ids[e]).path]).images[0]
            XCTAssertEqual(report.preparation, "resized 50x37 → 21x16 (shorter side), centre 16x16 cropped; fit=stretch resizes both sides")
            let row = (0..<k).map { Double(logits.data[e * k + $0]) }, top = row.max()!, sum = row.map { exp($0 - top) }.reduce(0, +)
            for c in report.classes {
                let index = try XCTUnwrap(s.dataset).classNames.firstIndex(of: c.name)!
                XCTAssertEqual(c.value, exp(row[index] - top) / sum, accuracy: 1e-6, train.ids[e])  // float32 rounding of another batch size
            }
        }
    }

    func testAnImageOfAnotherSizeIsResizedAndSaysSo() throws {
        let folder = try temporaryFolder(self)
        let s = try trainedClassifier()
        let file = folder.appendingPathComponent("big.png").path
        try PNG.write(RGBAImage(width: 64, height: 48, pixels: [UInt8](repeating: 200, count: 64 * 48 * 4)), to: file)
        let report = try s.infer([file])
        XCTAssertEqual(report.images[0].preparation, "resized 64x48 → 42x32 (shorter side), centre 32x32 cropped; fit=stretch resizes both sides")
        XCTAssertEqual(report.images[0].classes.count, 5)
        XCTAssertEqual(report.images[0].classes.map(\.value).reduce(0, +), 1, accuracy: 0.5)
        XCTAssertEqual(try s.infer([file], fit: .stretch).images[0].preparation, "resized 64x48 → 32x32, the dataset's size (stretched: fit=stretch)")

        // A 64x32 image: red and blue bands either side of a green 32x32 centre. Cropping keeps the centre
        // exactly (the shorter side is already 32), so it predicts what the green square alone does.
        var bands = RGBImage(width: 64, height: 32, pixels: [UInt8](repeating: 0, count: 64 * 32 * 3))
        for y in 0..<32 { for x in 0..<64 { bands.pixels[3 * (y * 64 + x) + (x < 16 ? 0 : x < 48 ? 1 : 2)] = 230 } }
        let green = RGBImage(width: 32, height: 32, pixels: (0..<32 * 32).flatMap { _ in [UInt8(0), 230, 0] })
        let model = try ExportedModel(session: s)
        XCTAssertEqual(try model.predict(bands, fit: .crop).0, try model.predict(green).0)
        XCTAssertNotEqual(try model.predict(bands, fit: .stretch).0, try model.predict(green).0)
    }

    func testInferOnJPEGFacesGivesTheMasksOfTheDatasetPath() throws {
        let folder = try temporaryFolder(self)
        try DatasetFiles.writePartLabels(folder)
        let s = Session(name: "faces", seed: 1)
        try s.load(PartLabelsSource(path: folder.path))
        try s.set(.batch(2))
        try s.build(.cnf(columns: 2, scales: 2, channels: 4, segmentation: true, gated: true))
        try s.train(.steps(2), validate: false)
        let path = folder.appendingPathComponent("faces.bsnmodel").path
        try s.exportModel(to: path)
        let expected = try s.predictMasks(count: 1, split: .test)[0].prediction
        let image = PartLabels.Entry(name: "Cy_Diaz", number: 3).imagePath(folder)
        let (prediction, preparation) = try ExportedModel(file: path).predict(try ExportedModel.readImage(image))
        XCTAssertEqual(preparation, "as in the test pipeline, centred in 256x256")
        XCTAssertEqual(prediction, .mask(expected))
        // infer writes the mask and the overlay beside the image; shares sum to 1.
        let report = try ExportedModel(file: path).infer([image])
        let mask = try PNG.read(try XCTUnwrap(report.images[0].mask))
        XCTAssertEqual([mask.width, mask.height], [250, 250])
        XCTAssertEqual(Array(mask.pixels[0..<3]), ColourMap.qualitative(Int(expected[0])).bytes)
        XCTAssertTrue(FileManager.default.fileExists(atPath: try XCTUnwrap(report.images[0].overlay)))
        XCTAssertEqual(report.images[0].classes.map(\.value).reduce(0, +), 1, accuracy: 1e-9)
    }

    func testADamagedOrTruncatedModelFileIsRefusedWithItsNameAndTheProblem() throws {
        let folder = try temporaryFolder(self)
        let s = try trainedClassifier()
        let path = folder.appendingPathComponent("m.bsnmodel").path
        try s.exportModel(to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))

        var damaged = bytes
        damaged[bytes.count - 100] ^= 0x40
        let damagedPath = folder.appendingPathComponent("damaged.bsnmodel").path
        try damaged.write(to: URL(fileURLWithPath: damagedPath))
        assertThrows(try ExportedModel(file: damagedPath), mentions: [damagedPath, "checksum"])

        let truncatedPath = folder.appendingPathComponent("truncated.bsnmodel").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncatedPath))
        assertThrows(try ExportedModel(file: truncatedPath), mentions: [truncatedPath, "truncated"])

        let notModel = folder.appendingPathComponent("notes.txt").path
        try "hello\n".write(toFile: notModel, atomically: true, encoding: .utf8)
        assertThrows(try ExportedModel(file: notModel), mentions: [notModel, "not a bsn model file"])
        assertThrows(try ExportedModel(file: folder.appendingPathComponent("absent").path), mentions: ["absent", "no such model file"])
        assertThrows(try s.infer([folder.appendingPathComponent("absent.png").path]), mentions: ["absent.png", "no such image"])
        assertThrows(try s.infer([notModel]), mentions: [notModel, "neither a PNG nor a JPEG"])
    }
}
