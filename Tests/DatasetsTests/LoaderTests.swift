import Datasets
import Foundation
import Tensor
import TestSupport
import XCTest

final class LoaderTests: XCTestCase {
    /// Images whose red byte is 8·x + 1 and green byte 8·y + 1 (never 0, so
    /// padding, -1 after normalisation, is told apart), blue the image index.
    static func coordinateSet(count: Int, side: Int, segmentation: Bool) -> ImageSet {
        var set = ImageSet(height: side, width: side, channels: 3, task: segmentation ? .segmentation : .classification)
        for i in 0..<count {
            var pixels = [UInt8](), mask = [UInt8]()
            for y in 0..<side { for x in 0..<side { pixels += [UInt8(8 * x + 1), UInt8(8 * y + 1), UInt8(i)]; mask.append(UInt8((x + 2 * y) % 3)) } }
            if segmentation { set.append(pixels: pixels, mask: mask, id: "\(i)") } else { set.append(pixels: pixels, label: Int32(i % 10), id: "\(i)") }
        }
        return set
    }

    static func byte(_ v: Float) -> Int { Int((v + 1) * 127.5 + 0.5) }

    func testCropOffsetsStayInBoundsAndFlipMovesImageAndMaskTogether() throws {
        let side = 8, pad = 2
        let set = Self.coordinateSet(count: 40, side: side, segmentation: true)
        let a = Augmentation(cropPadding: pad, flip: true, height: side, width: side)
        let loader = Loader(set, augmentation: a, batchSize: 40, seed: 5, prefetch: false)
        let (images, labels) = try loader.nextBatch()
        XCTAssertEqual(images.shape, [40, side, side, 3])
        var flips = 0, shifts = Set<Int>()
        for e in 0..<40 {
            let x = images.data + e * side * side * 3
            // Find the source column/row shown at each output pixel, and check the mask agrees.
            var dx: Int?, dy: Int?, flipped: Bool?
            for y in 0..<side {
                for c in 0..<side {
                    let p = x + (y * side + c) * 3
                    XCTAssertTrue(p[0] >= -1 && p[0] <= 1)
                    if p[0] == -1 {                      // padding: black and unlabelled
                        XCTAssertEqual(p[1], -1)
                        XCTAssertEqual(labels[e * side * side + y * side + c], -1)
                        continue
                    }
                    let sx = (Self.byte(p[0]) - 1) / 8, sy = (Self.byte(p[1]) - 1) / 8
                    // Crop offset is within ±pad, and the same for every pixel of the example.
                    if flipped == nil, c + 1 < side, x[(y * side + c + 1) * 3] != -1 {
                        flipped = (Self.byte(x[(y * side + c + 1) * 3]) - 1) / 8 < sx
                    }
                    if let f = flipped {
                        let shiftX = f ? sx - (side - 1 - c) : sx - c
                        XCTAssertTrue(abs(shiftX) <= pad)
                        if dx == nil { dx = shiftX } else { XCTAssertEqual(dx, shiftX) }
                    }
                    let shiftY = sy - y
                    XCTAssertTrue(abs(shiftY) <= pad)
                    if dy == nil { dy = shiftY } else { XCTAssertEqual(dy, shiftY) }
                    // The label shown is the label of the same source pixel.
                    XCTAssertEqual(labels[e * side * side + y * side + c], Int32((sx + 2 * sy) % 3))
                }
            }
            if flipped == true { flips += 1 }
            shifts.insert((dx ?? 0) * 10 + (dy ?? 0))
        }
        XCTAssertTrue((8...32).contains(flips), "about half of the examples are flipped, got \(flips)")
        XCTAssertGreaterThan(shifts.count, 8, "crop offsets vary")
    }

    func testCentredPaddingAndNormalisationRange() throws {
        // A 6x6 image centred in 10x10 (Part Labels' 250 → 256): one-pixel... two-pixel black frame, labels -1.
        var set = ImageSet(height: 6, width: 6, channels: 3, task: .segmentation)
        set.append(pixels: [UInt8](repeating: 255, count: 108), mask: [UInt8](repeating: 2, count: 36), id: "a")
        set.append(pixels: [UInt8](repeating: 0, count: 108), mask: [UInt8](repeating: 1, count: 36), id: "b")
        let a = Augmentation(cropPadding: 0, flip: false, height: 10, width: 10)
        let batches = Array(EvaluationBatches(set, augmentation: a, batchSize: 1).map { ($0.images.values, $0.labels) })
        let (image, labels) = batches[0]
        for y in 0..<10 {
            for x in 0..<10 {
                let inside = (2..<8).contains(y) && (2..<8).contains(x)
                XCTAssertEqual(image[(y * 10 + x) * 3], inside ? 1 : -1)
                XCTAssertEqual(labels[y * 10 + x], inside ? 2 : -1)
            }
        }
        XCTAssertEqual(batches[1].0.max(), -1)
        XCTAssertEqual(batches[1].1.filter { $0 == 1 }.count, 36)
    }

    func testSameSeedSameBatchesWithAndWithoutPrefetch() throws {
        let set = Self.coordinateSet(count: 50, side: 4, segmentation: false)
        let a = Augmentation(cropPadding: 1, flip: true, height: 4, width: 4)
        func run(prefetch: Bool, seed: UInt64) throws -> [[Float]] {
            let loader = Loader(set, augmentation: a, batchSize: 8, seed: seed, prefetch: prefetch)
            XCTAssertEqual(loader.batchesPerEpoch, 6)
            return try (0..<15).map { _ in let b = try loader.nextBatch(); return b.images.values + b.labels.map(Float.init) }
        }
        let plain = try run(prefetch: false, seed: 3)
        XCTAssertEqual(plain, try run(prefetch: true, seed: 3))
        XCTAssertNotEqual(plain, try run(prefetch: true, seed: 4))
        // Each epoch visits 48 distinct images (the last 2 of the shuffled 50 are dropped), in a new order.
        let loader = Loader(set, augmentation: a, batchSize: 8, seed: 3, prefetch: true)
        var epochs = [[Int32]]()
        for _ in 0..<2 {
            var blues = [Int32]()
            for _ in 0..<6 {
                let b = try loader.nextBatch()
                for e in 0..<8 { blues.append(Int32(Self.byte(b.images.data[e * 48 + 5 * 3 + 2]))) }
            }
            XCTAssertEqual(Set(blues).count, 48)
            epochs.append(blues)
        }
        XCTAssertNotEqual(epochs[0], epochs[1])
    }

    func testRestoringASavedStateMidEpochGivesTheSameRemainingBatches() throws {
        let set = Self.coordinateSet(count: 30, side: 4, segmentation: true)
        let a = Augmentation(cropPadding: 1, flip: true, height: 4, width: 4)
        let loader = Loader(set, augmentation: a, batchSize: 7, seed: 11)
        for _ in 0..<5 { _ = try loader.nextBatch() }          // into the second epoch (4 batches per epoch)
        let saved = try JSONDecoder().decode(LoaderState.self, from: JSONEncoder().encode(loader.state))
        XCTAssertEqual(saved, LoaderState(seed: 11, epoch: 1, batch: 1))
        let expected = try (0..<6).map { _ in let b = try loader.nextBatch(); return b.images.values + b.labels.map(Float.init) }
        let other = Loader(set, augmentation: a, batchSize: 7, seed: 99)
        _ = try other.nextBatch()                                // a prefetch in flight is dropped by restore
        other.restore(saved)
        let resumed = try (0..<6).map { _ in let b = try other.nextBatch(); return b.images.values + b.labels.map(Float.init) }
        XCTAssertEqual(expected, resumed)
    }

    func testAStepAllocatesNoNewTensors() throws {
        let set = Self.coordinateSet(count: 64, side: 8, segmentation: false)
        let loader = Loader(set, augmentation: Augmentation(cropPadding: 2, flip: true, height: 8, width: 8), batchSize: 16, seed: 1)
        for _ in 0..<4 { _ = try loader.nextBatch() }
        let before = Tensor.allocations
        for _ in 0..<20 { _ = try loader.nextBatch() }
        XCTAssertEqual(Tensor.allocations, before)
    }
}
