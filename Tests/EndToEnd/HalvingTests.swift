import Foundation
import Session
import TestSupport
import XCTest

/// `sweep budget … halving=3` through the real binary: the children it stops
/// are the ones the documented rule names, computed here by hand from the
/// children's saved metrics; the epochs it trains; a kill and a rerun.
final class HalvingSweepTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws { folder = try temporaryFolder(self) }

    private func environment(_ sessions: String) -> [String: String?] {
        ["BSN_SESSIONS": folder.appendingPathComponent(sessions).path, "BSN_HISTORY": folder.appendingPathComponent("history").path,
         "BSN_CACHE": folder.appendingPathComponent("cache").path, "BSN_CONV_ALGORITHM": "gemm"]
    }

    private func store(_ sessions: String = "sessions") -> SessionStore { SessionStore(root: folder.appendingPathComponent(sessions)) }

    private func state(_ store: SessionStore, _ session: String) throws -> Data { try savedStateBytes(store.folder(session)) }

    /// 9 children (3 budgets × 3 λ), 9 epochs of 8 steps: rungs at epochs 1, 3, 9.
    static let script = """
    load shapes train=256 val=64 test=64
    set batch 32
    set threads 2
    build cnf W=2 S=3 C=8
    set path-lr 0.05
    sweep budget flops 300k..1.2M:3 lambda=1e-6..1e-4:3 mode=abs epochs=9 halving=3 --workers=2

    """

    private func write(_ name: String, _ text: String) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testHalvingStopsTheChildrenTheRuleNamesAndTrainsAFractionOfTheEpochs() throws {
        let r = try runBSN(["run", try write("h.bsn", Self.script)], environment: environment("sessions"), workingDirectory: folder.path)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("grid: budgets 300.0k, 600.0k, 1.20M × λ 1e-06, 1e-05, 0.0001 = 9 children"), r.stdout)
        let parent = try store().open("h")
        let record = try XCTUnwrap(parent.halvingRecord)
        XCTAssertEqual(record.rungSteps, [8, 24, 72])
        XCTAssertEqual(record.survivors.count, 2)

        // The rule, by hand, from each child's saved epochs: at a rung's last epoch, its validation accuracy and the
        // deterministic architecture's flops; fronts by brute force; whole fronts until ⌈n/3⌉.
        var alive = record.children
        for (r, epoch) in [1, 3].enumerated() {
            var points = [String: (accuracy: Double, cost: Double)]()
            for name in alive {
                let e = try XCTUnwrap(try store().open(name, access: .read).epochs.first { $0.epoch == epoch }, "\(name) epoch \(epoch)")
                points[name] = (try XCTUnwrap(e.validationAccuracy), e.deterministicCost)
            }
            var left = alive, kept = [String]()
            while kept.count < (alive.count + 2) / 3 {
                let front = left.filter { i in
                    !left.contains { j in
                        let (a, b) = (points[j]!, points[i]!)
                        return a.accuracy >= b.accuracy && a.cost <= b.cost && (a.accuracy > b.accuracy || a.cost < b.cost)
                    }
                }
                kept += front
                left.removeAll { front.contains($0) }
            }
            XCTAssertEqual(Set(record.survivors[r]), Set(kept), "rung \(r + 1)")
            // The others stopped there, saved at the rung's end.
            for name in alive where !kept.contains(name) {
                XCTAssertEqual(try store().open(name, access: .read).trainer?.step, record.rungSteps[r], name)
            }
            alive = alive.filter { kept.contains($0) }
        }
        for name in alive { XCTAssertEqual(try store().open(name, access: .read).trainer?.step, 72, name) }

        // Steps trained by the children, against the full grid's 9 × 72, and the bound (1 + R/η)/R with R = 3, η = 3.
        let trained = try record.children.reduce(0) { $0 + (try store().open($1, access: .read).steps.count) }
        print("halving trained \(trained) of \(9 * 72) steps")
        XCTAssertLessThanOrEqual(Double(trained), (1 + 3.0 / 3) / 3 * Double(9 * 72))
        XCTAssertTrue(r.stdout.contains("of 81 child-epochs trained"), r.stdout)

        // pareto --all lists the stopped children; the front has only children that trained in full.
        let p = try runBSN(["run", "-"], environment: environment("sessions"), input: "open h\npareto --all --json\n", workingDirectory: folder.path)
        let line = try XCTUnwrap(p.stdout.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init), p.stdout + p.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual((report["stopped"] as? [Any])?.count, 9 - alive.count)
        XCTAssertEqual((report["rows"] as? [[String: Any]])?.compactMap { $0["session"] as? String }.sorted(), alive.sorted())
    }

    func testAHalvingSweepKilledDuringARungAndRerunEndsTheSameBitForBit() throws {
        // Eight times the data (64 steps an epoch), so that the kill lands inside the second rung.
        let script = Self.script.replacingOccurrences(of: "train=256", with: "train=2048")
        let path = try write("h.bsn", script)
        let whole = try runBSN(["run", path], environment: environment("whole"), workingDirectory: folder.path)
        XCTAssertEqual(whole.status, 0, whole.stdout + whole.stderr)

        // The same sweep, killed (kill -9) once the first rung is decided and the second is under way, then run again.
        let process = try startBSN(["run", path], environment: environment("killed"), in: folder)
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if let decided = (try? store("killed").open("h", access: .read))?.halvingRecord?.survivors, !decided.isEmpty,
               let first = decided.first?.first, ((try? store("killed").open(first, access: .read))?.trainer?.step ?? 0) > 64 { break }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "killed, not finished")
        XCTAssertLessThan(try XCTUnwrap(try store("killed").open("h", access: .read).halvingRecord).survivors.count, 2, "killed before the second rung's decision")
        usleep(1_500_000)                 // the workers see their parent gone and stop, saved
        let rerun = try runBSN(["run", "-"], environment: environment("killed"), input: "open h\n" + script.split(separator: "\n").last! + "\n",
                               workingDirectory: folder.path)
        XCTAssertEqual(rerun.status, 0, rerun.stdout + rerun.stderr)
        let a = try XCTUnwrap(try store("whole").open("h", access: .read).halvingRecord)
        let b = try XCTUnwrap(try store("killed").open("h", access: .read).halvingRecord)
        XCTAssertEqual(a.survivors, b.survivors, "the same survivors")
        for name in a.children {
            XCTAssertEqual(try state(store("killed"), name), try state(store("whole"), name), "\(name): bit for bit")
            XCTAssertEqual(try store("killed").open(name, access: .read).steps, try store("whole").open(name, access: .read).steps, name)
        }
    }
}
