import CImages
import Datasets
import Foundation
import Interface
import TestSupport
import XCTest

final class FolderDatasetTests: XCTestCase {
    var cache: URL!

    override func setUpWithError() throws {
        cache = try temporaryFolder(self)
        setenv("BSN_CACHE", cache.path, 1)
    }

    override func tearDown() { unsetenv("BSN_CACHE") }

    func images(_ root: URL, _ words: String = "") throws -> Dataset {
        var a = try Arguments(command: "load", words: [root.path] + words.split(separator: " ").map(String.init))
        var source: any DatasetSource = try ImageFolderSource(&a)
        try a.finish()
        source.adoptSessionSeed(7)
        return try source.load()
    }

    func masks(_ root: URL, _ words: String = "") throws -> Dataset {
        var a = try Arguments(command: "load", words: [root.path] + words.split(separator: " ").map(String.init))
        let source = try MaskFolderSource(&a)
        try a.finish()
        return try source.load()
    }

    /// An 8-bit PNG of `channels` (1, 3, 4) written to `url`.
    func writePNG(_ pixels: [UInt8], width: Int, height: Int, channels: Int, to url: URL) throws {
        var out: UnsafeMutablePointer<UInt8>?, size = 0
        var error = [CChar](repeating: 0, count: 256)
        XCTAssertEqual(bsn_png_encode(pixels, Int32(width), Int32(height), Int32(channels), &out, &size, &error, 256), 0)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes: out!, count: size).write(to: url)
        bsn_free(out)
    }

    /// A folder of `classes` class folders with `per` 8x8 images each, pixel value = 10·class + image.
    func writeClasses(_ root: URL, classes: [String], per: Int) throws {
        for (k, name) in classes.enumerated() {
            for i in 0..<per {
                try writePNG([UInt8](repeating: UInt8(10 * k + i), count: 8 * 8 * 3), width: 8, height: 8, channels: 3,
                             to: root.appendingPathComponent("\(name)/img \(i).png"))
            }
        }
    }

    func testShapesExportedAndLoadedBackGiveTheSamePixelsLabelsAndClasses() throws {
        let root = try temporaryFolder(self).appendingPathComponent("shapes")
        let original = try Shapes(train: 60, validation: 20, test: 20, seed: 3).load()
        _ = try FolderExport.write(original, to: root.path, splits: Split.allCases)
        let loaded = try images(root)
        XCTAssertEqual(loaded.classNames, original.classNames)
        for split in Split.allCases {
            let a = original.images(split), b = loaded.images(split)
            XCTAssertEqual(b.count, a.count)
            XCTAssertEqual(b.pixels, a.pixels, "\(split) pixels")
            XCTAssertEqual(b.labels, a.labels, "\(split) labels")
        }
        XCTAssertEqual(loaded.imagesDecoded, 100)
    }

    func testFacesExportedAndLoadedAsMasksGiveTheSamePixelsAndMasks() throws {
        let root = try temporaryFolder(self).appendingPathComponent("faces")
        let original = try Faces(side: 32, train: 10, validation: 4, test: 4, seed: 2).load()
        _ = try FolderExport.write(original, to: root.path, splits: Split.allCases)
        let loaded = try masks(root)
        XCTAssertEqual(loaded.classNames, original.classNames)
        XCTAssertTrue(loaded.isSegmentation)
        for split in Split.allCases {
            XCTAssertEqual(loaded.images(split).pixels, original.images(split).pixels)
            XCTAssertEqual(loaded.images(split).masks, original.images(split).masks)
        }
    }

    func testJPEGAtQuality95LoadsWithinTheCodecsError() throws {
        let root = try temporaryFolder(self)
        var pixels = [UInt8]()
        for y in 0..<32 { for x in 0..<32 { pixels += [UInt8(x * 8), UInt8(y * 8), 128] } }
        for name in ["a", "b"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(name), withIntermediateDirectories: true)
            try JPEG.write(RGBImage(width: 32, height: 32, pixels: pixels), to: root.appendingPathComponent("\(name)/x.jpg").path, quality: 95)
        }
        let d = try images(root, "val=0 test=0")
        XCTAssertEqual(d.train.count, 2)
        let worst = zip(Array(d.train.image(0)), pixels).map { abs(Int($0) - Int($1)) }.max()!
        XCTAssertLessThanOrEqual(worst, 8)
    }

    func testPNGGrayAndAlphaDecodeToKnownRGB() throws {
        let root = try temporaryFolder(self)
        try writePNG([0, 100, 200, 255], width: 2, height: 2, channels: 1, to: root.appendingPathComponent("gray/g.png"))
        // RGBA: alpha composited on black, v·a/255 rounded.
        try writePNG([200, 100, 50, 255, 200, 100, 50, 128, 255, 255, 255, 0, 10, 20, 30, 51], width: 2, height: 2, channels: 4,
                     to: root.appendingPathComponent("rgba/a.png"))
        let d = try images(root, "size=2 val=0 test=0")
        XCTAssertEqual(d.classNames, ["gray", "rgba"])
        let gray = d.train.labels.firstIndex(of: 0)!, rgba = d.train.labels.firstIndex(of: 1)!
        XCTAssertEqual(Array(d.train.image(gray)), [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255])
        XCTAssertEqual(Array(d.train.image(rgba)), [200, 100, 50, 100, 50, 25, 0, 0, 0, 2, 4, 6])
    }

    func testResizingCoversTheTargetThenCropsTheCentre() {
        let fit = Fit(width: 640, height: 480, to: ImageSize(side: 64))
        XCTAssertEqual([fit.resizedWidth, fit.resizedHeight, fit.cropX, fit.cropY], [85, 64, 10, 0])
        // A uniform image stays uniform; an unscaled one is copied exactly.
        let flat = RGBImage(width: 640, height: 480, pixels: [UInt8](repeating: 77, count: 640 * 480 * 3))
        XCTAssertEqual(Set(fit.image(flat).pixels), [77])
        let same = Fit(width: 8, height: 8, to: ImageSize(side: 8))
        let noise = RGBImage(width: 8, height: 8, pixels: (0..<192).map { UInt8(($0 * 37) % 256) })
        XCTAssertEqual(same.image(noise), noise)
    }

    func testStratifiedSplitsAreExactDisjointDeterministicAndCoverEveryClass() throws {
        let root = try temporaryFolder(self)
        try writeClasses(root, classes: ["a", "b", "c"], per: 9)
        let d1 = try images(root, "val=0.2 test=4"), d2 = try images(root, "val=0.2 test=4")
        XCTAssertEqual([d1.train.count, d1.validation.count, d1.test.count], [18, 5, 4])
        XCTAssertEqual(d1.validation.ids, d2.validation.ids)
        XCTAssertEqual(d1.test.ids, d2.test.ids)
        let all = d1.train.ids + d1.validation.ids + d1.test.ids
        XCTAssertEqual(Set(all).count, 27)
        for set in [d1.validation, d1.test] { XCTAssertEqual(Set(set.labels), [0, 1, 2]) }
        var other = try Arguments(command: "load", words: [root.path, "val=0.2", "test=4", "seed=99"])
        let d3 = try ImageFolderSource(&other).load()
        XCTAssertNotEqual(d3.validation.ids + d3.test.ids, d1.validation.ids + d1.test.ids)
    }

    func testBadFoldersGiveClearErrorsOrListedSkips() throws {
        let base = try temporaryFolder(self)
        assertThrows(try images(base.appendingPathComponent("nowhere")), mentions: ["no such folder"])
        let file = base.appendingPathComponent("file.png")
        try Data([1, 2, 3]).write(to: file)
        assertThrows(try images(file), mentions: ["is a file"])
        let flat = base.appendingPathComponent("flat")
        try writePNG([1, 2, 3], width: 1, height: 1, channels: 3, to: flat.appendingPathComponent("x.png"))
        assertThrows(try images(flat), mentions: ["holds 1 files but no class folders"])
        let one = base.appendingPathComponent("one")
        try writeClasses(one, classes: ["only"], per: 1)
        assertThrows(try images(one), mentions: ["one class folder", "at least two"])
        let empty = base.appendingPathComponent("empty")
        try writeClasses(empty, classes: ["a"], per: 3)
        try FileManager.default.createDirectory(at: empty.appendingPathComponent("b"), withIntermediateDirectories: true)
        assertThrows(try images(empty), mentions: ["b", "empty class folder"])

        // Damaged and odd files are skipped and listed; names with spaces and non-ASCII load.
        let odd = base.appendingPathComponent("odd")
        try writeClasses(odd, classes: ["chat noir", "été"], per: 4)
        try Data("not an image".utf8).write(to: odd.appendingPathComponent("été/notes.txt"))
        try Data().write(to: odd.appendingPathComponent("été/zero.png"))
        let good = try Data(contentsOf: odd.appendingPathComponent("été/img 0.png"))
        try good.prefix(good.count / 2).write(to: odd.appendingPathComponent("été/half.png"))
        // A 65500x65500 header: refused from the header.
        var huge = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]) + Data("IHDR".utf8)
        huge += Data([0, 0, 0xFF, 0xDC, 0, 0, 0xFF, 0xDC, 8, 2, 0, 0, 0, 0, 0, 0, 0])
        try huge.write(to: odd.appendingPathComponent("été/huge.png"))
        XCTAssertEqual(mkfifo(odd.appendingPathComponent("chat noir/pipe.png").path, 0o644), 0)
        try FileManager.default.createSymbolicLink(atPath: odd.appendingPathComponent("chat noir/loop").path,
                                                   withDestinationPath: odd.appendingPathComponent("chat noir").path)
        try FileManager.default.createSymbolicLink(atPath: odd.appendingPathComponent("chat noir/self.png").path, withDestinationPath: "self.png")
        let d = try images(odd, "val=0 test=0")
        XCTAssertEqual(d.classNames, ["chat noir", "été"])
        XCTAssertEqual(d.train.count, 8)
        let skipped = d.skipped.joined(separator: "\n")
        for fragment in ["notes.txt: not a PNG or JPEG", "zero.png: an empty file", "half.png", "huge.png: 65500x65500 image, larger than bsn decodes",
                         "pipe.png: a FIFO", "loop: a link to a folder already listed", "self.png: a symbolic link loop"] {
            XCTAssertTrue(skipped.contains(fragment), "skipped should list '\(fragment)':\n\(skipped)")
        }
        assertThrows(try images(odd, "val=0 test=0 strict=on"), mentions: ["strict=on refuses"])
    }

    func testMasksOfAnotherSizeOrAnUnknownClassAreSkipped() throws {
        let root = try temporaryFolder(self)
        for (name, maskSide, value) in [("good", 4, UInt8(1)), ("small", 2, UInt8(1)), ("bad", 4, UInt8(7))] {
            try writePNG([UInt8](repeating: 50, count: 48), width: 4, height: 4, channels: 3, to: root.appendingPathComponent("images/\(name).png"))
            try writePNG([UInt8](repeating: value, count: maskSide * maskSide), width: maskSide, height: maskSide, channels: 1,
                         to: root.appendingPathComponent("masks/\(name).png"))
        }
        try "back 0 0 0\nthing 255 0 0\n".write(to: root.appendingPathComponent("classes.txt"), atomically: true, encoding: .utf8)
        let d = try masks(root, "val=0 test=0")
        XCTAssertEqual(d.train.ids, ["images/good.png"])
        XCTAssertEqual(d.classNames, ["back", "thing"])
        let skipped = d.skipped.joined(separator: "\n")
        XCTAssertTrue(skipped.contains("masks/small.png: a 2x2 mask for a 4x4 image"), skipped)
        XCTAssertTrue(skipped.contains("masks/bad.png: value 7"), skipped)
    }

    func testSecondLoadComesFromTheCacheAndAChangedOrDamagedPackDecodesAgain() throws {
        let root = try temporaryFolder(self)
        try writeClasses(root, classes: ["a", "b"], per: 5)
        let first = try images(root, "val=0 test=0")
        XCTAssertEqual(first.imagesDecoded, 10)
        let again = try images(root, "val=0 test=0")
        XCTAssertEqual(again.imagesDecoded, 0)
        XCTAssertNotNil(again.cache)
        XCTAssertEqual(again.train.pixels, first.train.pixels)
        // A touched file: a new listing, decoded again.
        let touched = root.appendingPathComponent("a/img 0.png")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: touched.path)
        XCTAssertEqual(try images(root, "val=0 test=0").imagesDecoded, 10)
        // A damaged pack: one warning, decoded again, rebuilt.
        let pack = try FileManager.default.contentsOfDirectory(at: cache, includingPropertiesForKeys: nil).first { $0.pathExtension == "pack" }!
        var bytes = try Data(contentsOf: pack)
        bytes[bytes.count - 5] ^= 0xFF
        try bytes.write(to: pack)
        let rebuilt = try images(root, "val=0 test=0")
        XCTAssertEqual(rebuilt.imagesDecoded, 10)
        XCTAssertTrue(rebuilt.notes.contains { $0.contains("damaged") }, "\(rebuilt.notes)")
        XCTAssertEqual(try images(root, "val=0 test=0").imagesDecoded, 0)
    }

    /// Every one-byte change of a pack's header, index and padding (each
    /// position, to each of eight bytes that make numbers, fields and lines
    /// wrong) gives a load that decodes again with the original pixels and
    /// masks, with the damage warning unless the change made it another
    /// version's or another listing's pack: never a trap, never the damaged pack used.
    func testEveryOneByteChangeOfAPacksHeaderAndIndexIsWarnedAndRebuilt() throws {
        let root = try temporaryFolder(self).appendingPathComponent("faces")
        _ = try FolderExport.write(try Faces(side: 16, train: 4, validation: 2, test: 2, seed: 5).load(), to: root.path, splits: Split.allCases)
        let first = try masks(root)
        let pack = try FileManager.default.contentsOfDirectory(at: cache, includingPropertiesForKeys: nil).first { $0.pathExtension == "pack" }!
        let original = try Data(contentsOf: pack)
        let header = String(decoding: original.prefix(95), as: UTF8.self).split(separator: " ")
        let pixelOffset = Int(header[4])!
        // The version (byte 9) and the key (bytes 11…26): changed, the pack is simply not this load's.
        let quiet = Set([9] + Array(11..<(11 + header[2].count)))
        var loads = 0
        for position in 0..<pixelOffset {
            for byte: UInt8 in [0x2D, 0x20, 0x39, 0x30, 0x0A, 0x09, 0x00, 0xFF] where byte != original[position] {
                var bytes = original
                bytes[position] = byte
                try bytes.write(to: pack)
                let d = try masks(root)
                loads += 1
                XCTAssertEqual(d.imagesDecoded, 8, "byte \(position) → \(byte): decoded again")
                XCTAssertEqual(d.train.pixels, first.train.pixels)
                XCTAssertEqual(d.test.masks, first.test.masks)
                if !quiet.contains(position) {
                    XCTAssertTrue(d.notes.contains { $0.hasPrefix("warning: the cached decode is damaged and was ignored") }, "byte \(position) → \(byte): \(d.notes)")
                }
                XCTAssertEqual(try Data(contentsOf: pack), original, "rebuilt as it was")
            }
        }
        XCTAssertGreaterThan(loads, 8 * 300)
    }

    /// 100,000 tiny files: listed, decoded and split without trouble, and the listing's order is the sorted one.
    func testAHundredThousandTinyFilesLoad() throws {
        let root = try temporaryFolder(self)
        var pngs = [Data]()
        for k in 0..<4 {
            let url = root.appendingPathComponent("seed-\(k).png")
            try writePNG([UInt8](repeating: UInt8(60 * k), count: 3), width: 1, height: 1, channels: 3, to: url)
            pngs.append(try Data(contentsOf: url))
            try FileManager.default.removeItem(at: url)
        }
        for k in 0..<4 {
            let folder = root.appendingPathComponent("class-\(k)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            // POSIX calls: Foundation's Data.write and removeItem take ~0.4 ms a file here, the kernel 10 µs.
            try pngs[k].withUnsafeBytes { bytes in
                for i in 0..<25_000 {
                    let fd = open(folder.appendingPathComponent(String(format: "%05d.png", i)).path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
                    guard fd >= 0, write(fd, bytes.baseAddress, bytes.count) == bytes.count, close(fd) == 0 else { throw POSIXError(.EIO) }
                }
            }
        }
        addTeardownBlock { _ = try? runProgram("/bin/rm", ["-rf", root.path]) }
        let d = try images(root, "val=1000 test=1000")
        XCTAssertEqual([d.train.count, d.validation.count, d.test.count], [98_000, 1000, 1000])
        XCTAssertEqual(d.imagesDecoded, 100_000)
        XCTAssertEqual(d.skipped, [])
        XCTAssertEqual(d.classNames, ["class-0", "class-1", "class-2", "class-3"])
        // Every image kept its class: the pixel value is 60·class.
        let train = d.train
        for i in stride(from: 0, to: train.count, by: 997) {
            XCTAssertEqual(Int(train.pixels[i * train.imageSize]), 60 * Int(train.labels[i]), train.ids[i])
        }
        XCTAssertEqual(try images(root, "val=1000 test=1000").imagesDecoded, 0)
    }
}
