import Foundation
import XCTest

/// A fresh temporary folder, removed when the test ends.
public func temporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Asserts that `body` throws an error whose message contains every fragment.
public func assertThrows(_ body: @autoclosure () throws -> some Any, mentions fragments: [String],
                         file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected an error mentioning \(fragments)", file: file, line: line)
    } catch {
        for f in fragments { XCTAssertTrue("\(error)".contains(f), "'\(error)' should mention '\(f)'", file: file, line: line) }
    }
}
