import Foundation
import Session
import TestSupport
import XCTest

/// `scripts/test-hosts.sh`: network namespaces joined by shaped links, with
/// one rank of bsn in each (Open MPI over TCP). The checks need root and a
/// kernel that allows network namespaces; without them they skip and say why.
/// They leave alone test hosts that someone made before (a benchmark's).
final class TestHostsTests: XCTestCase {
    private var folder: URL!
    private let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/test-hosts.sh").standardized.path

    override func setUpWithError() throws {
        folder = try temporaryFolder(self)
        guard getuid() == 0 else { throw XCTSkip("the test hosts need root (network namespaces and tc)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip") else {
            throw XCTSkip("the test hosts need iproute2 (ip, tc)")
        }
        let probe = try runProgram("/bin/sh", ["-c", "ip netns add bsn-probe && ip netns delete bsn-probe"])
        guard probe.status == 0 else { throw XCTSkip("this machine does not allow network namespaces: \(probe.output)") }
        guard try leftovers().isEmpty else { throw XCTSkip("test hosts are up already (scripts/test-hosts.sh status); these checks leave them alone") }
        addTeardownBlock { [script] in _ = try? runProgram(script, ["down"]) }
    }

    /// What `down` must remove: namespaces, veths, the bridge and their qdiscs.
    private func leftovers() throws -> String {
        try runProgram("/bin/sh", ["-c", "{ ip netns list; ip -o link show; tc qdisc show; } | grep bsnh || true"]).output
    }

    private func hosts(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runProgram("/usr/bin/timeout", ["120", script] + arguments)
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `bsn run <script>` at 2 ranks: on the test hosts, or on this machine (loopback and shared memory).
    private func twoRanks(_ script: String, sessions: URL, onHosts: Bool) throws -> Process {
        let bsn = ["-x", "BSN_SESSIONS", "-x", "BSN_CONV_ALGORITHM", try bsnBinaryPath(), "run", script]
        let environment: [String: String?] = ["BSN_SESSIONS": sessions.path, "BSN_CONV_ALGORITHM": "gemm"]
        return onHosts ? try startProgram(self.script, ["mpirun", "2"] + bsn, environment: environment, in: folder)
                       : try startProgram("/usr/bin/mpirun", ["--allow-run-as-root", "--oversubscribe", "-np", "2"] + bsn, environment: environment, in: folder)
    }

    /// Waits at most `seconds` for the process; kills it and fails if it is still running.
    private func finish(_ process: Process, within seconds: Double, _ what: String) -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            XCTFail("\(what) still running after \(seconds) s")
            process.terminate()
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    static let search = MPITests.search

    func testTwoRanksOnShapedHostsTrainAsOnLoopbackAndDownLeavesNothing() throws {
        let up = try hosts(["up", "2", "1gbit", "0.1ms"])
        XCTAssertEqual(up.status, 0, up.output)
        XCTAssertTrue(up.output.contains("2 hosts up: bsnh0=10.213.77.10 bsnh1=10.213.77.11 links 1gbit"), up.output)
        let status = try hosts(["status"]).output
        XCTAssertTrue(status.contains("rate 1Gbit"), status)
        // One thread per rank in both runs (a test host has the machine's cores to itself).
        let path = try write("dp.bsn", Self.search.replacingOccurrences(of: "set batch 64", with: "set batch 64\nset threads 1"))
        let shaped = folder.appendingPathComponent("shaped"), loopback = folder.appendingPathComponent("loopback")
        XCTAssertEqual(finish(try twoRanks(path, sessions: shaped, onHosts: true), within: 300, "the run on the test hosts"), 0)
        XCTAssertEqual(finish(try twoRanks(path, sessions: loopback, onHosts: false), within: 300, "the run on this machine"), 0)
        XCTAssertEqual(try SessionStore(root: shaped).open("dp").trainer?.step, 24)
        XCTAssertEqual(try savedStateBytes(shaped.appendingPathComponent("dp")), try savedStateBytes(loopback.appendingPathComponent("dp")),
                       "over shaped TCP links as over shared memory, bit for bit")
        let down = try hosts(["down"])
        XCTAssertEqual(down.status, 0, down.output)
        XCTAssertEqual(try leftovers(), "")
    }

    func testKillingOneRankEndsTheJobAndTheLastSaveOpens() throws {
        XCTAssertEqual(try hosts(["up", "2", "1gbit"]).status, 0)
        let path = try write("long.bsn", Self.search.replacingOccurrences(of: "train 3 epochs\nsave dp", with: "train 1 epochs\nsave dp\ntrain 500 epochs"))
        let sessions = folder.appendingPathComponent("sessions")
        let job = try twoRanks(path, sessions: sessions, onHosts: true)
        // The first save, then a moment into the long training.
        let deadline = Date().addingTimeInterval(120)
        while job.isRunning && Date() < deadline && (try? SessionStore(root: sessions).open("dp")) == nil { usleep(100_000) }
        XCTAssertTrue(job.isRunning, "the job ended before the kill")
        sleep(1)
        let rank = try runProgram("/bin/sh", ["-c", "for p in $(ip netns pids bsnh1); do [ \"$(cat /proc/$p/comm)\" = bsn ] && echo $p; done"])
        let pid = try XCTUnwrap(Int32(rank.output.split(separator: "\n").first ?? ""), "bsn's rank in bsnh1: \(rank.output)")
        kill(pid, SIGKILL)
        XCTAssertNotEqual(finish(job, within: 60, "the job after one rank was killed"), 0)
        let saved = try SessionStore(root: sessions).open("dp")
        XCTAssertGreaterThanOrEqual(saved.trainer?.step ?? 0, 8, "at least the save after the first epoch")
        XCTAssertEqual(try hosts(["down"]).status, 0)
        XCTAssertEqual(try leftovers(), "")
    }

    func testDownLeavesNothingAfterAFailedUpOrWithProcessesInside() throws {
        // tc refuses the rate after the namespaces and links exist: up removes them.
        let failed = try hosts(["up", "2", "0bit"])
        XCTAssertNotEqual(failed.status, 0)
        XCTAssertTrue(failed.output.contains("up failed"), failed.output)
        XCTAssertEqual(try leftovers(), "")
        for (arguments, message) in [(["up", "17"], "from 1 to 16"), (["up", "2", "fast"], "bad rate 'fast'"), (["up", "2", "1gbit", "soon"], "bad delay 'soon'")] {
            let r = try hosts(arguments)
            XCTAssertEqual(r.status, 1, r.output)
            XCTAssertTrue(r.output.contains(message), r.output)
        }
        // A process still inside a namespace would keep it, and its veth, alive.
        XCTAssertEqual(try hosts(["up", "3", "10gbit"]).status, 0)
        XCTAssertNotEqual(try hosts(["up", "2"]).status, 0, "hosts already exist")
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sh")
        sleeper.arguments = ["-c", "exec ip netns exec bsnh2 sleep 600"]
        try sleeper.run()
        usleep(300_000)
        let down = try hosts(["down"])
        XCTAssertEqual(down.status, 0, down.output)
        XCTAssertNotEqual(finish(sleeper, within: 10, "the process in bsnh2"), 0)
        XCTAssertEqual(try leftovers(), "")
        XCTAssertEqual(try hosts(["down"]).status, 0, "down twice")
    }
}
