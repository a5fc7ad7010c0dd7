import Foundation
import Session
import SuperNet
import TestSupport
import XCTest

/// bsn under a real `mpirun -np 2` (Open MPI; CI installs it): every rank runs
/// the script, rank 0 alone prints and writes, and a sweep spreads its
/// children over the ranks with the same results as local worker processes.
final class MPITests: XCTestCase {
    private var folder: URL!
    private var sessions: URL { folder.appendingPathComponent("sessions") }

    override func setUpWithError() throws {
        folder = try temporaryFolder(self)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/mpirun") else {
            XCTFail("the MPI checks need Open MPI's mpirun (scripts/install-deps.sh installs openmpi-bin)")
            throw XCTSkip("no mpirun")
        }
    }

    private func script(_ name: String, _ text: String) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `mpirun -np 2 bsn run <script>` in the test's folder (root allowed, as in CI containers; 2 ranks on any core count).
    private func mpirun(_ script: String, into sessionsFolder: URL, perturbRank: Int? = nil, ranks: Int = 2) throws -> (status: Int32, output: String) {
        setenv("BSN_SESSIONS", sessionsFolder.path, 1)
        setenv("BSN_CONV_ALGORITHM", "gemm", 1)
        defer { unsetenv("BSN_SESSIONS"); unsetenv("BSN_CONV_ALGORITHM") }
        let hook = perturbRank.map { ["-x", "BSN_TEST_PERTURB_RANK=\($0)"] } ?? []
        return try runProgram("/usr/bin/mpirun", ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", "-x", "BSN_SESSIONS", "-x", "BSN_CONV_ALGORITHM"] + hook
                                                  + [try bsnBinaryPath(), "run", script], in: folder)
    }

    /// The bytes of a session's saved tensors (its state file without the header line).
    private func state(_ root: URL, _ name: String) throws -> Data {
        let dir = root.appendingPathComponent(name)
        let file = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasPrefix("state-") })
        let data = try Data(contentsOf: dir.appendingPathComponent(file))
        return data.suffix(from: try XCTUnwrap(data.firstIndex(of: 0x0A)))
    }

    static let search = """
    load shapes train=512 val=64 test=64
    set batch 64
    build cnf W=2 S=3 C=8
    budget flops 1M lambda=1e-6
    warmup 1 epochs
    set path-lr 0.05
    train 3 epochs
    save dp

    """

    func testTwoRanksTrainDeterministicallyAndTheSessionContinuesInOneProcess() throws {
        let path = try script("dp.bsn", Self.search)
        let first = try mpirun(path, into: sessions)
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(first.output.contains("trained 24 steps"), first.output)
        let again = folder.appendingPathComponent("again")
        let second = try mpirun(path, into: again)
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertEqual(try state(sessions, "dp"), try state(again, "dp"), "run to run, bit for bit")
        // The session of a 2-rank run opens in one plain process and continues.
        let more = try runBSN(["run", try script("more.bsn", "open dp\ntrain 1 epochs\n")],
                              environment: ["BSN_SESSIONS": sessions.path, "BSN_CONV_ALGORITHM": "gemm"], workingDirectory: folder.path)
        XCTAssertEqual(more.status, 0, more.stderr)
        XCTAssertTrue(more.stdout.contains("(step 32, epoch 4.00)"), more.stdout)
    }

    /// `search` for 3 steps (after 1 warm-up step) with `set allreduce-bucket <bucket>` and a batch of `batch`.
    private static func threeSteps(bucket: String, batch: Int) -> String {
        search.replacingOccurrences(of: "set batch 64", with: "set batch \(batch)\nset allreduce-bucket \(bucket)")
            .replacingOccurrences(of: "warmup 1 epochs", with: "warmup 1 steps").replacingOccurrences(of: "train 3 epochs", with: "train 3 steps")
    }

    /// The gradients' all-reduce in buckets started during backward gives
    /// the weights of one all-reduce after it, bit for bit (at 2 ranks each
    /// element's sum is fl(a + b), whatever the buckets).
    func testOverlappedAndFusedAllReduceGiveTheSameSessionAfterThreeSteps() throws {
        var states = [Data]()
        for bucket in ["off", "4k", "64k"] {
            let root = folder.appendingPathComponent("bucket-\(bucket)")
            let r = try mpirun(try script("bucket-\(bucket).bsn", Self.threeSteps(bucket: bucket, batch: 64)), into: root)
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssertTrue(r.output.contains("allreduce-bucket = \(bucket)"), r.output)
            XCTAssertEqual(try SessionStore(root: root).open("dp").trainer?.step, 3)
            states.append(try state(root, "dp"))
        }
        XCTAssertEqual(states[1], states[0], "buckets of 4k bytes against one all-reduce")
        XCTAssertEqual(states[2], states[0], "buckets of 64k bytes against one all-reduce")
    }

    /// At 3 ranks Open MPI's non-blocking all-reduce may add the ranks'
    /// values in another order than its blocking one: the weights after 3
    /// steps agree within 1e-6 of each tensor's scale (and each way is the
    /// same run to run).
    func testAtThreeRanksOverlappedAndFusedAllReduceAgreeWithinRounding() throws {
        var trainers = [Trainer]()
        for bucket in ["off", "4k", "4k"] {
            let root = folder.appendingPathComponent("three-\(bucket)-\(trainers.count)")
            let r = try mpirun(try script("three-\(bucket).bsn", Self.threeSteps(bucket: bucket, batch: 60)), into: root, ranks: 3)
            XCTAssertEqual(r.status, 0, r.output)
            trainers.append(try XCTUnwrap(try SessionStore(root: root).open("dp").trainer))
        }
        for (x, y) in zip(trainers[0].stateTensors, trainers[1].stateTensors) {
            let scale = max(x.tensor.values.map { abs($0) }.max() ?? 0, 1)
            let worst = zip(x.tensor.values, y.tensor.values).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-6 * scale, x.name)
        }
        for (x, y) in zip(trainers[1].stateTensors, trainers[2].stateTensors) { XCTAssertEqual(x.tensor.values, y.tensor.values, "run to run: \(x.name)") }
    }

    /// A search in a space file, at two ranks: every rank builds it from the file; run to run bit for bit.
    func testTwoRanksSearchASpaceFile() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../samples/spaces/choice-blocks.yaml").standardized
        try FileManager.default.copyItem(at: sample, to: folder.appendingPathComponent("choice.yaml"))
        let path = try script("space.bsn", Self.search.replacingOccurrences(of: "build cnf W=2 S=3 C=8", with: "build space choice.yaml C=4 layers=1")
                                                  .replacingOccurrences(of: "save dp", with: "save sp"))
        let first = try mpirun(path, into: sessions)
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(first.output.contains("trained 24 steps"), first.output)
        let again = folder.appendingPathComponent("again")
        XCTAssertEqual(try mpirun(path, into: again).status, 0)
        XCTAssertEqual(try state(sessions, "sp"), try state(again, "sp"), "run to run, bit for bit")
        XCTAssertTrue(try SessionStore(root: sessions).open("sp").modelSpec!.fabric.summary.hasPrefix("space choice-blocks C=4 layers=1"))
    }

    func testWithSyncBNOneStepAtTwoRanksEqualsOneStepInOneProcess() throws {
        // Mask execution runs every batch norm on every rank; one sampled step, gates learning fast.
        let text = "load shapes train=64 val=16 test=16\nset batch 64\nbuild cnf W=2 S=3 C=8 mode=mask\nbudget flops 1M lambda=1e-6\n"
            + "set path-lr 0.5\nset threads 1\nset sync-bn on\ntrain 1 steps\nsave s\n"
        let path = try script("sync.bsn", text)
        let r = try mpirun(path, into: sessions)
        XCTAssertEqual(r.status, 0, r.output)
        let local = folder.appendingPathComponent("local")
        let one = try runBSN(["run", path], environment: ["BSN_SESSIONS": local.path, "BSN_CONV_ALGORITHM": "gemm"], workingDirectory: folder.path)
        XCTAssertEqual(one.status, 0, one.stderr)
        let a = try XCTUnwrap(try SessionStore(root: local).open("s").trainer), b = try XCTUnwrap(try SessionStore(root: sessions).open("s").trainer)
        XCTAssertEqual(a.step, 1)
        for (x, y) in zip(a.stateTensors, b.stateTensors) {
            // Within 1e-5 of the tensor's scale (at least 1): conv biases before a batch norm hold only rounding noise.
            let scale = max(x.tensor.values.map { abs($0) }.max() ?? 0, 1)
            let worst = zip(x.tensor.values, y.tensor.values).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-5 * scale, x.name)
        }
        let m = try XCTUnwrap(try SessionStore(root: local).open("s").steps.last), n = try XCTUnwrap(try SessionStore(root: sessions).open("s").steps.last)
        for (p, q) in [(m.loss, n.loss), (m.accuracy, n.accuracy), (m.sampledCost, n.sampledCost), (m.gateEntropy, n.gateEntropy)] {
            XCTAssertEqual(p, q, accuracy: 1e-5 * max(abs(p), 1))
        }
        // Sub-batch execution with gates cannot synchronise (a rank may run no example through a module): refused.
        let refused = try mpirun(try script("refused.bsn", "load shapes train=64 val=16 test=16\nset batch 64\nbuild cnf W=2 S=3 C=4\nset sync-bn on\ntrain 1 steps\n"),
                                 into: folder.appendingPathComponent("refused"))
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("sync-bn needs every batch norm to run on every rank"), refused.output)
    }

    func testAFailureOnRankZeroEndsEveryRank() throws {
        // Rank 1 would otherwise wait for rank 0 in a collective call forever: a timeout bounds the test.
        for (text, status) in [("load shapes train=64 val=16 test=16\nbuild cnf W=2 S=3 C=4\nexport arch /nonexistent/x.json\nsessions\n", Int32(1))] {
            let path = try script("fails.bsn", text)
            let r = try runProgram("/usr/bin/timeout", ["60", "/usr/bin/mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2",
                                                        try bsnBinaryPath(), "run", path], in: folder)
            XCTAssertEqual(r.status, status, r.output)
            XCTAssertTrue(r.output.contains("export arch: /nonexistent/x.json"), r.output)
        }
        let missing = try runProgram("/usr/bin/timeout", ["60", "/usr/bin/mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2",
                                                          try bsnBinaryPath(), "run", folder.appendingPathComponent("absent.bsn").path], in: folder)
        XCTAssertEqual(missing.status, 2, missing.output)
    }

    func testRanksWhoseWeightsDifferStopWithAClearError() throws {
        let r = try mpirun(try script("drift.bsn", Self.search), into: sessions, perturbRank: 1)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("the ranks' weights differ after epoch 1"), r.output)
        XCTAssertEqual(try SessionStore(root: sessions).open("drift").trainer?.step, 8, "rank 0's state after the first epoch is saved")
    }

    func testUnderMPIRunRankZeroAlonePrintsAndWritesTheSession() throws {
        let path = try script("m.bsn", "load shapes train=128 val=32 test=32\nset batch 32\nbuild cnf W=2 S=3 C=4\ntrain 4 steps\nrender graph g.png\nsave m\n")
        let r = try mpirun(path, into: sessions)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.output.components(separatedBy: "loaded shapes").count - 1, 1, "one rank prints: \(r.output)")
        XCTAssertEqual(r.output.components(separatedBy: "trained 4 steps").count - 1, 1, r.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("g.png").path))
        let opened = try SessionStore(root: sessions).open("m")
        XCTAssertEqual(opened.trainer?.step, 4)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sessions.path).filter { !$0.hasPrefix(".") }, ["m"])
    }

    func testASweepUnderMPIRunGivesTheResultsOfLocalWorkers() throws {
        let text = """
        load shapes train=256 val=64 test=64
        set batch 32
        set threads 1
        build cnf W=2 S=3 C=8
        warmup 1 epochs
        set path-lr 0.05
        sweep budget flops 300k,600k lambda=1e-6,1e-5 mode=max epochs=2

        """
        let path = try script("sw.bsn", text)
        let r = try mpirun(path, into: sessions)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("4 children of 'sw'") && r.output.contains("2 ranks × 1 thread"), r.output)
        let local = folder.appendingPathComponent("local")
        let alone = try runBSN(["run", path], environment: ["BSN_SESSIONS": local.path, "BSN_CONV_ALGORITHM": "gemm"], workingDirectory: folder.path)
        XCTAssertEqual(alone.status, 0, alone.stderr)
        XCTAssertTrue(alone.stdout.contains("2 workers × 1 thread"), alone.stdout)
        for child in ["flops-300k.lambda-1e-06", "flops-300k.lambda-1e-05", "flops-600k.lambda-1e-06", "flops-600k.lambda-1e-05"].map({ "sw." + $0 }) {
            let a = try SessionStore(root: sessions).open(child), b = try SessionStore(root: local).open(child)
            XCTAssertEqual(a.trainer?.step, 8 + 2 * 8, child)
            XCTAssertEqual(a.steps, b.steps, child)
            for (x, y) in zip(try XCTUnwrap(a.trainer).stateTensors, try XCTUnwrap(b.trainer).stateTensors) {
                XCTAssertEqual(x.tensor.values, y.tensor.values, "\(child) \(x.name)")
            }
        }
    }

    func testAHalvingSweepUnderMPIRunDecidesTheRungsAsLocalWorkersDo() throws {
        let path = try script("hv.bsn", """
        load shapes train=256 val=64 test=64
        set batch 32
        set threads 1
        build cnf W=2 S=3 C=8
        set path-lr 0.05
        sweep budget flops 300k..1.2M:3 lambda=1e-6..1e-4:3 mode=abs epochs=9 halving=3

        """)
        let r = try mpirun(path, into: sessions)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("halving η=3: rungs at epoch 1, 3, 9"), r.output)
        let local = folder.appendingPathComponent("local")
        let alone = try runBSN(["run", path], environment: ["BSN_SESSIONS": local.path, "BSN_CONV_ALGORITHM": "gemm"], workingDirectory: folder.path)
        XCTAssertEqual(alone.status, 0, alone.stderr)
        let a = try XCTUnwrap(try SessionStore(root: sessions).open("hv").halvingRecord), b = try XCTUnwrap(try SessionStore(root: local).open("hv").halvingRecord)
        XCTAssertEqual(a.survivors, b.survivors, "the same decisions on 2 ranks as in 2 local workers")
        XCTAssertEqual(a.survivors.count, 2)
        for child in a.children {
            XCTAssertEqual(try state(sessions, child), try state(local, child), child)
        }
    }
}
