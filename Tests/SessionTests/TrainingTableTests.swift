import Session
import XCTest

/// The epoch table's header keeps a space between its titles, whatever the cost's name.
final class TrainingTableTests: XCTestCase {
    func testLongCostNamesWidenTheirColumn() {
        for name in ["flops", "time", "parallel-2", "parallel-2-cp", "parallel-128-cp"] {
            for (searching, segmentation) in [(true, true), (true, false), (false, true), (false, false)] {
                let table = TrainingReport.table(.init(costName: name, searching: searching, segmentation: segmentation))
                let words = table.columns.flatMap { $0.title.split(separator: " ") }
                XCTAssertEqual(table.header.split(separator: " "), words, table.header)
                XCTAssertEqual(table.line(table.columns.map { _ in "123456" }).split(separator: " ").count, table.columns.count)
            }
        }
    }
}
