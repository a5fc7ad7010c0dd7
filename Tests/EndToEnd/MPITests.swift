import Foundation
import Session
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
    private func mpirun(_ script: String, into sessionsFolder: URL) throws -> (status: Int32, output: String) {
        setenv("BSN_SESSIONS", sessionsFolder.path, 1)
        setenv("BSN_CONV_ALGORITHM", "gemm", 1)
        defer { unsetenv("BSN_SESSIONS"); unsetenv("BSN_CONV_ALGORITHM") }
        return try runProgram("/usr/bin/mpirun", ["--allow-run-as-root", "--oversubscribe", "-np", "2", "-x", "BSN_SESSIONS", "-x", "BSN_CONV_ALGORITHM",
                                                  try bsnBinaryPath(), "run", script], in: folder)
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
        sweep budget flops 300k,600k lambda=1e-6,1e-5 epochs=2

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
}
