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

/// The bytes of a saved session's tensors file (`state-<g>.bin`) in its folder: weights, gates, statistics, optimizer state.
public func savedStateBytes(_ sessionFolder: URL, file: StaticString = #filePath, line: UInt = #line) throws -> Data {
    let name = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: sessionFolder.path).first { $0.hasPrefix("state-") },
                             sessionFolder.lastPathComponent, file: file, line: line)
    return try Data(contentsOf: sessionFolder.appendingPathComponent(name))
}
