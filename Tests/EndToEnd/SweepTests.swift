import Foundation
import Session
import TestSupport
import XCTest

/// `sweep` and `pareto` through the real binary: worker processes, children
/// that equal their runs alone, a shared warm-up, resuming after a kill.
final class SweepTests: XCTestCase {
    private var folder: URL!
    private var store: SessionStore { SessionStore(root: folder.appendingPathComponent("sessions")) }

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-sweep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// One algorithm for every convolution, so that separate processes compute alike whatever they measure.
    private var environment: [String: String?] {
        ["BSN_SESSIONS": folder.appendingPathComponent("sessions").path, "BSN_HISTORY": folder.appendingPathComponent("history").path,
         "BSN_CACHE": folder.appendingPathComponent("cache").path, "BSN_CONV_ALGORITHM": "gemm"]
    }

    private func script(_ name: String, _ text: String) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func run(_ name: String, _ text: String) throws -> BinaryRun {
        let r = try runBSN(["run", try script(name, text)], environment: environment, workingDirectory: folder.path)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        return r
    }

    /// The bytes of a session's saved weights, gates, statistics and optimizer state.
    private func state(_ session: String) throws -> Data { try savedStateBytes(store.folder(session)) }

    static let parent = """
    load shapes train=256 val=64 test=64
    set batch 32
    set threads 2
    build cnf W=2 S=3 C=8
    warmup 1 epochs
    set path-lr 0.05

    """

    func testATwoByTwoGridRunsInTwoWorkersAndEachChildEqualsItsRunAlone() throws {
        let r = try run("grid.bsn", Self.parent + "sweep budget flops 300k,600k lambda=1e-6,1e-5 mode=max epochs=2 --workers=2\npareto --json\n")
        XCTAssertTrue(r.stdout.contains("warming up 'grid' once: 8 steps"), r.stdout)
        XCTAssertTrue(r.stdout.contains("4 children of 'grid'"), r.stdout)
        XCTAssertTrue(r.stdout.contains("2 workers × 1 thread"), r.stdout)
        let names = ["flops-300k.lambda-1e-06", "flops-300k.lambda-1e-05", "flops-600k.lambda-1e-06", "flops-600k.lambda-1e-05"].map { "grid." + $0 }
        let parent = try store.open("grid")
        XCTAssertEqual(parent.trainer?.step, 8, "the parent stops after the warm-up")
        for name in names {
            let child = try store.open(name)
            XCTAssertEqual(child.trainer?.step, 8 + 2 * 8, name)
            XCTAssertEqual(child.origin?.parent, "grid")
            XCTAssertEqual(child.settings.threads, 1)
            // The warm-up was done once, in the parent: the child's first steps are the parent's.
            XCTAssertEqual(Array(child.steps.prefix(8)), parent.steps, name)
            XCTAssertTrue(child.steps[8].sampling, name)
        }

        // The same run alone: the parent's save, the same budget, the same threads.
        _ = try run("alone.bsn", "open grid\nsave alone\nset threads 1\nbudget flops 600k lambda=1e-5\ntrain 2 epochs\n")
        XCTAssertEqual(try state("alone"), try state("grid.flops-600k.lambda-1e-05"), "bit for bit")
        XCTAssertEqual(try store.open("alone").steps, try store.open("grid.flops-600k.lambda-1e-05").steps)

        // Pareto's test accuracies are eval test's on each front model's session.
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init), r.stdout)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let rows = try XCTUnwrap(report["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.count, 4)
        let front = rows.filter { $0["onFront"] as? Bool == true }
        XCTAssertFalse(front.isEmpty)
        for row in front {
            let session = try XCTUnwrap(row["session"] as? String)
            let eval = try run("eval.bsn", "open \(session)\neval test --json\n")
            let json = try XCTUnwrap(eval.stdout.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init))
            let accuracy = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["accuracy"] as? Double)
            XCTAssertEqual(row["testAccuracy"] as? Double, accuracy, session)
        }
        // The rest has no test accuracy: only the front is evaluated on test.
        for row in rows where row["onFront"] as? Bool != true { XCTAssertNil(row["testAccuracy"] as? Double) }
    }

    /// A space file sweeps as the built-ins do: searches under budgets, the space's fixed baselines for listed
    /// parameter values, and the front over both.
    func testASpaceFileSweepsItsBudgetsAndBaselinesAndRanksThemOnTheFront() throws {
        let space = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../samples/spaces/choice-blocks.yaml").standardized.path
        let r = try run("space.bsn", """
        load shapes train=256 val=64 test=64
        set batch 32
        set threads 2
        build space \(space) C=4 layers=2
        warmup 1 epochs
        set path-lr 0.05
        sweep budget flops 2M,3M lambda=1e-6 mode=max epochs=2 --workers=2
        sweep baselines space layers=1,2 epochs=2 --workers=2
        pareto --json

        """)
        let searches = ["space.flops-2M.lambda-1e-06", "space.flops-3M.lambda-1e-06"]
        let baselines = ["space.space-choice-blocks-C4-layers1-stages3", "space.space-choice-blocks-C4-layers2-stages3"]
        for name in searches + baselines {
            let child = try store.open(name)
            XCTAssertEqual(child.trainer?.step, 8 + 2 * 8, name)
            guard case let .space(source)? = child.modelSpec?.fabric else { return XCTFail("\(name): not a space") }
            XCTAssertEqual(source.gated, searches.contains(name), name)
            XCTAssertEqual(source.given["layers"], name.contains("layers1") ? 1 : 2, name)
            XCTAssertEqual(child.network?.gateCount, searches.contains(name) ? 18 : 0, name)   // 3 stages x 2 layers x 3 candidates
        }
        // The input, 3 stages of one layer (a stem, two convolutions, a sum; the fixed skip is a link), the head.
        XCTAssertEqual(try store.open(baselines[0]).network?.nodes.count, 14)
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init), r.stdout)
        let rows = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["rows"] as? [[String: Any]])
        XCTAssertEqual(Set(rows.compactMap { $0["session"] as? String }), Set(searches + baselines))
        XCTAssertFalse(rows.filter { $0["onFront"] as? Bool == true }.isEmpty)
    }

    func testAChildStartsFromTheWarmedUpParentsWeightsWithItsGatesReset() throws {
        _ = try run("warm.bsn", Self.parent + "train 12 steps\nsweep budget flops 500k lambda=1e-6 mode=max epochs=1 --workers=1\n")
        let parent = try store.open("warm"), child = try store.open("warm.flops-500k.lambda-1e-06")
        XCTAssertEqual(child.origin?.parentStep, 12)
        // The parent had sampled for 4 steps: the child's first steps are those, then it starts again from p ≈ 0.95.
        XCTAssertEqual(Array(child.steps.prefix(12)), parent.steps)
        XCTAssertTrue(parent.steps[11].sampling)
        XCTAssertEqual(child.steps.count, 12 + 8)
        XCTAssertEqual(child.steps[12].gateEntropy, parent.steps[8].gateEntropy, accuracy: 0.02, "entropy back to where sampling starts")
    }

    func testAKilledSweepResumesWithoutRedoingFinishedChildren() throws {
        let text = """
        load shapes train=1024 val=64 test=64
        set batch 32
        build cnf W=2 S=3 C=16
        set path-lr 0.05
        sweep budget flops 1M,2M,3M lambda=1e-6 mode=max epochs=3 --workers=1

        """
        let path = try script("killed.bsn", text)
        let process = try startBSN(["run", path], environment: environment, in: folder)
        // Kill the sweep as soon as its first child is finished.
        let deadline = Date().addingTimeInterval(120)
        var finished = [SessionStore.Listing]()
        while Date() < deadline {
            finished = store.list().filter { $0.origin != nil && $0.steps >= $0.origin!.targetStep }
            if !finished.isEmpty { break }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(finished.count, 1, "one child finished before the kill")
        // Its worker sees the sweep gone and stops at the next batch, saved.
        let children = ["flops-1M", "flops-2M", "flops-3M"].map { "killed.\($0).lambda-1e-06" }
        while Date() < deadline && workersRunning() { usleep(50_000) }
        XCTAssertFalse(workersRunning(), "the workers stop when the sweep is killed")
        let before = try Data(contentsOf: store.folder(finished[0].name).appendingPathComponent("session.json"))
        XCTAssertLessThan(store.list().filter { children.contains($0.name) && $0.steps >= $0.origin!.targetStep }.count, 3)

        let again = try run("killed.bsn", text)
        XCTAssertTrue(again.stdout.contains("1 finished now") || again.stdout.contains("2 finished now"), again.stdout)
        XCTAssertTrue(again.stdout.contains("kept from before"), again.stdout)
        XCTAssertEqual(try Data(contentsOf: store.folder(finished[0].name).appendingPathComponent("session.json")), before, "a finished child is not redone")
        for name in children {
            let listing = try XCTUnwrap(store.list().first { $0.name == name }, name)
            XCTAssertEqual(listing.steps, 3 * 32, name)
        }
    }

    /// Whether a sweep worker of this test's sessions folder is still running.
    private func workersRunning() -> Bool {
        let sessions = folder.appendingPathComponent("sessions").path
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.contains { pid in
            guard Int(pid) != nil, let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let words = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return words.contains("sweep-worker") && words.contains(sessions)
        }
    }
}
