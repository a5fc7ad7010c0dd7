import Foundation
import Session
import XCTest

/// Successive halving's rungs and its rule: whole fronts of (validation accuracy ↑, cost ↓) until at least 1/η.
final class HalvingTests: XCTestCase {
    func testRungsEndAtEpochsOverPowersOfEta() throws {
        XCTAssertEqual(try Halving(eta: 3).rungEpochs(9), [1, 3, 9])
        XCTAssertEqual(try Halving(eta: 3).rungEpochs(10), [1, 3, 10])
        XCTAssertEqual(try Halving(eta: 2).rungEpochs(12), [2, 3, 6, 12], "as many rungs as leave the first at least an epoch")
        XCTAssertEqual(try Halving(eta: 2, rungs: 3).rungEpochs(12), [3, 6, 12])
        XCTAssertEqual(try Halving(eta: 3, rungs: 1).rungEpochs(5), [5])
        XCTAssertEqual(try Halving(eta: 4).rungEpochs(3), [3], "shorter than η: one rung")
        XCTAssertThrowsError(try Halving(eta: 3, rungs: 3).rungEpochs(4)) { XCTAssertTrue("\($0)".contains("too short for 3 rungs"), "\($0)") }
    }

    func testFrontsAreNonDominatedSortingAndDeadNetworksComeLast() {
        // (accuracy, cost): a and b are the front (neither beats the other); c is beaten by a; d by everything; e has no accuracy.
        let s = [Halving.Standing(name: "a", accuracy: 0.9, cost: 10), .init(name: "b", accuracy: 0.8, cost: 5), .init(name: "c", accuracy: 0.85, cost: 12),
                 .init(name: "d", accuracy: 0.5, cost: 20), .init(name: "e", accuracy: nil, cost: 1)]
        XCTAssertEqual(Halving.fronts(s), [[0, 1], [2], [3], [4]])
    }

    func testWholeFrontsAreKeptUntilAtLeastOneInEta() {
        let s = [Halving.Standing(name: "a", accuracy: 0.9, cost: 10), .init(name: "b", accuracy: 0.8, cost: 5), .init(name: "c", accuracy: 0.85, cost: 12),
                 .init(name: "d", accuracy: 0.5, cost: 20), .init(name: "e", accuracy: nil, cost: 1), .init(name: "f", accuracy: 0.84, cost: 11)]
        // ⌈6/3⌉ = 2: the first front (a, b) is enough.
        XCTAssertEqual(Halving(eta: 3).survivors(s), ["a", "b"])
        // ⌈6/2⌉ = 3: the first front, then the whole second (c and f: neither beats the other), 4 in all.
        XCTAssertEqual(Halving(eta: 2).survivors(s), ["a", "b", "c", "f"])
        // A record says where each child stopped.
        let record = HalvingRecord(halving: Halving(eta: 3), rungSteps: [10, 30, 90], children: ["a", "b", "c"], survivors: [["a", "b"], ["b"]])
        XCTAssertEqual(["a", "b", "c"].map(record.stoppedAt), [1, nil, 0])
    }
}
