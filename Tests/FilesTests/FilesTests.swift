import Files
import Foundation
import XCTest

/// Reading only regular files, writing atomically without touching anything
/// else, and folder locks.
final class FilesTests: XCTestCase {
    private var folder: String!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-files-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    private func names() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() }

    func testReadingRefusesAFIFOWithoutBlockingAndAFolderByName() throws {
        let fifo = folder + "/f.png"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let start = Date()
        XCTAssertThrowsError(try RegularFile.read(fifo)) { XCTAssertTrue("\($0)".contains("FIFO"), "\($0)") }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        XCTAssertThrowsError(try RegularFile.read(folder)) { XCTAssertTrue("\($0)".contains("a folder"), "\($0)") }
        XCTAssertThrowsError(try RegularFile.read(folder + "/none")) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
        XCTAssertThrowsError(try RegularFile.read("/dev/zero")) { XCTAssertTrue("\($0)".contains("character device"), "\($0)") }
        try Data("abc".utf8).write(to: URL(fileURLWithPath: folder + "/a"))
        XCTAssertEqual(try RegularFile.read(folder + "/a"), Data("abc".utf8))
        XCTAssertThrowsError(try RegularFile.read(folder + "/a", limit: 2))
    }

    func testWritingReplacesAFileAtomicallyAndLeavesNoTemporaryFile() throws {
        let path = folder + "/out.bin"
        try AtomicFile.write(Data("one".utf8), to: path)
        let written = try AtomicFile.write(Data("two!".utf8), to: path)
        XCTAssertEqual(written.bytes, 4)
        XCTAssertNil(written.note)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data("two!".utf8))
        XCTAssertEqual(names(), ["out.bin"])
        // A failing writer leaves the old file, and nothing else.
        struct Boom: Error {}
        XCTAssertThrowsError(try AtomicFile.write(to: path) { fd in
            _ = Foundation.write(fd, "partial", 7)
            throw Boom()
        })
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data("two!".utf8))
        XCTAssertEqual(names(), ["out.bin"])
        XCTAssertThrowsError(try AtomicFile.write(Data(), to: folder + "/no-such-folder/x")) { XCTAssertTrue("\($0)".contains("does not exist"), "\($0)") }
    }

    func testWritingReplacesASymlinkAndNeverWritesItsTarget() throws {
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-victim-\(UUID().uuidString)").path
        try Data("precious".utf8).write(to: URL(fileURLWithPath: outside))
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let link = folder + "/link.png"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: outside)
        let written = try AtomicFile.write(Data("png".utf8), to: link)
        XCTAssertEqual(written.replacedLink, outside)
        XCTAssertTrue(written.note?.contains("untouched") ?? false)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: outside)), Data("precious".utf8))
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: link)[.type] as? FileAttributeType, .typeRegular)
    }

    func testWritingRefusesFIFOsFoldersAndDevicesAndLeavesThemAsTheyWere() throws {
        let fifo = folder + "/pipe", sub = folder + "/sub"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        var targets = [(fifo, "FIFO"), (sub, "a folder")]
        // A device node of our own (mknod needs privilege: skipped without it).
        let device = folder + "/fakenull"
        if mknod(device, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0 { targets.append((device, "character device")) }
        else { print("skipped the device target: mknod is not permitted here") }
        for (target, kind) in targets {
            XCTAssertThrowsError(try AtomicFile.write(Data("x".utf8), to: target)) { XCTAssertTrue("\($0)".contains(kind), "\($0)") }
        }
        var info = stat()
        XCTAssertEqual(lstat(fifo, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO)
        if targets.count == 3 { XCTAssertEqual(lstat(device, &info), 0); XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR) }
        XCTAssertFalse(names().contains { $0.contains(".tmp-") })
    }

    func testTemporaryFilesOfADeadWriterAreRemovedByTheNextWriteThere() throws {
        // A pid that cannot exist (beyond pid_max).
        let stale = folder + "/.m.onnx.tmp-99999999-1"
        try Data("left by a kill -9".utf8).write(to: URL(fileURLWithPath: stale))
        let mine = folder + "/.other.tmp-\(getpid())-77"
        try Data("in progress".utf8).write(to: URL(fileURLWithPath: mine))
        try AtomicFile.write(Data("m".utf8), to: folder + "/m.onnx")
        XCTAssertEqual(names(), [".other.tmp-\(getpid())-77", "m.onnx"])
        XCTAssertEqual(AtomicFile.writer(ofTemporary: ".state-3.bin.tmp-123"), 123)
        XCTAssertEqual(AtomicFile.writer(ofTemporary: ".state-3.bin.tmp-123-4"), 123)
        XCTAssertNil(AtomicFile.writer(ofTemporary: "state-3.bin"))
        XCTAssertNil(AtomicFile.writer(ofTemporary: ".x.tmp-12a"))
    }

    func testALockExcludesASecondHolderInTheSameProcessUntilReleased() throws {
        var first: FolderLock? = try FolderLock(folder, wait: 0)
        XCTAssertNotNil(FolderLock.heldBy(folder))
        XCTAssertThrowsError(try FolderLock(folder, wait: 0.2)) { error in
            let busy = error as? FolderLock.Busy
            XCTAssertNotNil(busy)
            XCTAssertTrue(busy?.description.contains("pid \(getpid())") ?? false, "\(error)")
        }
        _ = first
        first = nil
        XCTAssertNil(FolderLock.heldBy(folder))
        XCTAssertNoThrow(try FolderLock(folder, wait: 0))
    }

    /// Another process (flock(1)) holds the lock for 0.8 s: a writer waiting 5 s gets it when it lets go, one waiting 0.1 s is told.
    func testAWaitingWriterGetsTheLockWhenAnotherProcessLetsGo() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/flock") else { throw XCTSkip("no flock(1) here") }
        FileManager.default.createFile(atPath: folder + "/.lock", contents: nil)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = [folder + "/.lock", "sleep", "0.8"]
        try holder.run()
        defer { holder.waitUntilExit() }
        // Until the other process holds it.
        let started = Date()
        while FolderLock.heldBy(folder) == nil && Date().timeIntervalSince(started) < 5 { usleep(10_000) }
        XCTAssertNotNil(FolderLock.heldBy(folder), "flock(1) took the lock")
        XCTAssertThrowsError(try FolderLock(folder, wait: 0.1)) { XCTAssertTrue($0 is FolderLock.Busy, "\($0)") }
        let start = Date()
        let lock = try FolderLock(folder, wait: 5)
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.2)
        XCTAssertEqual(lock.folder, folder)
    }
}
