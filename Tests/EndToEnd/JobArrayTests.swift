import Foundation
import Session
import TestSupport
import XCTest

/// Sweeps as job arrays: `sweep … --plan` records the children, and each
/// `bsn sweep-child <parent> <index>` (a task) trains one, alone, under its lock.
final class JobArrayTests: XCTestCase {
    private var folder: URL!
    private var store: SessionStore { SessionStore(root: folder.appendingPathComponent("sessions")) }

    override func setUpWithError() throws { folder = try temporaryFolder(self) }

    /// One algorithm for every convolution, so that separate processes compute alike whatever they measure.
    private var environment: [String: String?] {
        ["BSN_SESSIONS": folder.appendingPathComponent("sessions").path, "BSN_HISTORY": folder.appendingPathComponent("history").path,
         "BSN_CACHE": folder.appendingPathComponent("cache").path, "BSN_CONV_ALGORITHM": "gemm"]
    }

    private func run(_ name: String, _ text: String) throws -> BinaryRun {
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try runBSN(["run", path], environment: environment, workingDirectory: folder.path)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        return r
    }

    /// A task, started: `bsn sweep-child parent index --threads 1`.
    private func task(_ parent: String, _ index: Int, threads: Int = 1) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try bsnBinaryPath())
        process.arguments = ["sweep-child", parent, String(index), "--threads", String(threads)]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.currentDirectoryURL = folder
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        return (process, out)
    }

    private func finish(_ t: (Process, Pipe)) -> (status: Int32, output: String) {
        let data = t.1.fileHandleForReading.readDataToEndOfFile()
        t.0.waitUntilExit()
        return (t.0.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The bytes of a session's saved weights, gates, statistics and optimizer state.
    private func state(_ session: String) throws -> Data { try savedStateBytes(store.folder(session)) }

    private static func parent(_ sweep: String) -> String {
        """
        load shapes train=256 val=64 test=64
        set batch 32
        set threads 2
        build cnf W=2 S=3 C=8
        warmup 1 epochs
        set path-lr 0.05
        train 8 steps
        \(sweep)

        """
    }

    static let grid = "sweep budget flops 300k,600k lambda=1e-6,1e-5 mode=max epochs=2 --workers=2"
    static let children = ["flops-300k.lambda-1e-06", "flops-300k.lambda-1e-05", "flops-600k.lambda-1e-06", "flops-600k.lambda-1e-05"]

    func testPlanPrintsTheArrayAndTrainsNothing() throws {
        let r = try run("planned.bsn", Self.parent(Self.grid + " --plan"))
        XCTAssertTrue(r.stdout.contains("planned 4 children of 'planned' (grid: budgets 300.0k, 600.0k × λ 1e-06, 1e-05 = 4 children); nothing trained"), r.stdout)
        XCTAssertTrue(r.stdout.contains("  sbatch --array=0-3%2 planned-tasks.sh"), r.stdout)
        XCTAssertTrue(r.stdout.contains("sweep-child 'planned' \"$SLURM_ARRAY_TASK_ID\""), r.stdout)
        XCTAssertEqual(try store.open("planned").sweepPlan?.children.map(\.name), Self.children.map { "planned." + $0 })
        XCTAssertFalse(store.exists("planned." + Self.children[0]), "nothing trained")
        // The warm-up must be done first: --plan trains nothing.
        let early = try runBSN(["run", "-"], environment: environment, input: "load shapes train=64 val=16 test=16\nbuild cnf W=2 S=3 C=4\nwarmup 1 epochs\n" + Self.grid + " --plan\n",
                               workingDirectory: folder.path)
        XCTAssertEqual(early.status, 1)
        XCTAssertTrue(early.stderr.contains("the warm-up is not done (1 step to go) and --plan trains nothing"), early.stderr)
        // Bad indices and parents say what is wrong.
        let (status, output) = finish(try task("planned", 4))
        XCTAssertEqual(status, 1)
        XCTAssertTrue(output.contains("'planned' plans 4 children (indices 0…3), not 4"), output)
        XCTAssertTrue(finish(try task("nobody", 0)).output.contains("no session 'nobody'"))
    }

    func testEveryIndexAsItsOwnTaskTwoAtATimeInRandomOrderEqualsALocalSweep() throws {
        _ = try run("local.bsn", Self.parent(Self.grid))
        _ = try run("planned.bsn", Self.parent(Self.grid + " --plan"))
        // Two at a time, in an order of no meaning.
        for pair in [[2, 0], [3, 1]] {
            let tasks = try pair.map { try task("planned", $0) }
            for (index, t) in zip(pair, tasks) {
                let (status, output) = finish(t)
                XCTAssertEqual(status, 0, output)
                XCTAssertTrue(output.contains("(index \(index)) finished"), output)
            }
        }
        for child in Self.children {
            let local = try store.open("local." + child), planned = try store.open("planned." + child)
            XCTAssertEqual(planned.trainer?.step, 8 + 2 * 8, child)
            XCTAssertEqual(try state("planned." + child), try state("local." + child), "\(child): bit for bit")
            XCTAssertEqual(planned.steps, local.steps, child)
            XCTAssertEqual(planned.origin?.parent, "planned")
        }
        // pareto works on the finished children.
        let p = try run("front.bsn", "open planned\npareto --all --json\n")
        XCTAssertTrue(p.stdout.contains("\"rows\""), p.stdout)
    }

    func testTwoTasksOnOneIndexTrainItOnce() throws {
        // Long enough (40 epochs) that the second task starts while the first trains.
        _ = try run("planned.bsn", Self.parent("sweep budget flops 300k lambda=1e-6 mode=max epochs=40 --plan"))
        let first = try task("planned", 0)
        // The second starts once the first holds the child.
        let lock = store.folder("planned.flops-300k.lambda-1e-06").appendingPathComponent(".lock").path
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: lock) && Date() < deadline { usleep(10_000) }
        let second = finish(try task("planned", 0))
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertTrue(second.output.contains("planned.flops-300k.lambda-1e-06 (index 0) is being trained by pid"), second.output)
        let one = finish(first)
        XCTAssertEqual(one.status, 0, one.output)
        XCTAssertTrue(one.output.contains("(index 0) finished"), one.output)
        XCTAssertEqual(try store.open("planned.flops-300k.lambda-1e-06").trainer?.step, 8 + 40 * 8)
        // A task on a finished child has nothing to do.
        let again = finish(try task("planned", 0))
        XCTAssertEqual(again.status, 0)
        XCTAssertTrue(again.output.contains("is finished (step 328): nothing for this task to do"), again.output)
    }

    func testATaskKilledMidEpochIsFinishedByARerunOfItsIndex() throws {
        _ = try run("local.bsn", Self.parent("sweep budget flops 300k lambda=1e-6 mode=max epochs=40 --workers=1\n"))
        _ = try run("planned.bsn", Self.parent("sweep budget flops 300k lambda=1e-6 mode=max epochs=40 --plan"))
        // A local sweep of one child runs it on every thread the session has: 2.
        let killed = try task("planned", 0, threads: 2)
        // Killed once the child has saved an epoch or two.
        let child = "planned.flops-300k.lambda-1e-06", deadline = Date().addingTimeInterval(60)
        while ((try? store.open(child, access: .read))?.trainer?.step ?? 0) < 8 + 16 && Date() < deadline { usleep(20_000) }
        kill(killed.0.processIdentifier, SIGKILL)
        _ = finish(killed)
        let stopped = try store.open(child, access: .read).trainer?.step ?? 0
        XCTAssertLessThan(stopped, 8 + 40 * 8, "killed before the end")
        let rerun = finish(try task("planned", 0, threads: 2))
        XCTAssertEqual(rerun.status, 0, rerun.output)
        XCTAssertTrue(rerun.output.contains("(index 0) finished"), rerun.output)
        let finished = try store.open(child)
        XCTAssertEqual(finished.trainer?.step, 8 + 40 * 8)
        // A local sweep of the same grid (one worker, one thread) ends at the same weights: the rerun continued from the last save.
        XCTAssertEqual(try state(child), try state("local.flops-300k.lambda-1e-06"), "bit for bit")
    }

    func testAHalvingPlanRunsAsOneArrayPerRungAndEqualsALocalHalvingSweep() throws {
        let grid = "sweep budget flops 300k..1.2M:3 lambda=1e-6..1e-4:3 mode=abs epochs=9 halving=3 --workers=2"
        _ = try run("local.bsn", Self.parent(grid))
        let plan = try run("planned.bsn", Self.parent(grid + " --plan"))
        XCTAssertTrue(plan.stdout.contains("jid=$(sbatch --parsable --dependency=afterany:$jid --array=0-8%2 planned-tasks.sh)   # rung 3"), plan.stdout)
        // Three runs of the array (one per rung), each task alone, two at a time, in an order of no meaning.
        var said = ""
        for round in 0..<3 {
            let order = round % 2 == 0 ? [4, 0, 8, 2, 6, 1, 7, 3, 5] : [5, 3, 7, 1, 6, 2, 8, 0, 4]
            for k in stride(from: 0, to: order.count, by: 2) {
                let tasks = try order[k..<min(k + 2, order.count)].map { try task("planned", $0) }
                for t in tasks {
                    let (status, output) = finish(t)
                    XCTAssertEqual(status, 0, output)
                    said += output
                }
            }
        }
        XCTAssertTrue(said.contains("waits for the others"), said)
        XCTAssertTrue(said.contains("was stopped by halving after rung 1"), said)
        let local = try XCTUnwrap(try store.open("local").halvingRecord), planned = try XCTUnwrap(try store.open("planned").halvingRecord)
        XCTAssertEqual(planned.survivors.count, 2)
        XCTAssertEqual(planned.survivors.map { $0.map { $0.dropPrefix("planned.") } }, local.survivors.map { $0.map { $0.dropPrefix("local.") } }, "the same survivors")
        for name in local.children.map({ $0.dropPrefix("local.") }) {
            XCTAssertEqual(try state("planned." + name), try state("local." + name), "\(name): bit for bit")
        }
    }
}

private extension String {
    func dropPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}
