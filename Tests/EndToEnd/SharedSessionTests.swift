import Foundation
import TestSupport
import XCTest

/// Several bsn processes on one sessions folder (the findings of the
/// two-processes issue, each reproducer through the real binary, under a
/// timeout): two savers of one name, openers during a save, a sweep child
/// opened while its worker saves, a copied folder, open without a save
/// first, SIGTERM.
final class SharedSessionTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws { folder = try temporaryFolder(self) }

    /// Runs a bash script in the test folder with `$B` the binary and the sessions in `sess/`; fails the test on a timeout.
    private func shell(_ script: String, seconds: Int, file: StaticString = #filePath, line: UInt = #line) throws -> (status: Int32, output: String) {
        let prelude = """
        set -u
        cd '\(folder.path)'
        export B='\(try bsnBinaryPath())' BSN_SESSIONS='\(folder.path)/sess' BSN_HISTORY='\(folder.path)/history' BSN_CACHE='\(folder.path)/cache'
        export BSN_CONV_ALGORITHM=gemm

        """
        let path = folder.appendingPathComponent("test-\(UUID().uuidString.prefix(8)).sh").path
        try (prelude + script).write(toFile: path, atomically: true, encoding: .utf8)
        let result = try runProgram("/usr/bin/timeout", ["-k", "5", "\(seconds)", "/bin/bash", path], in: folder)
        XCTAssertNotEqual(result.status, 124, "timed out after \(seconds) s:\n\(result.output.suffix(3000))", file: file, line: line)
        return result
    }

    /// (1) 50 rounds of two processes saving the same name: the session always opens, whole (one saver's or the other's).
    func testTwoProcessesSavingTheSameNameAlwaysLeaveAWholeSession() throws {
        let r = try shell("""
        printf 'load shapes train=256 val=64 test=64\\nbuild cnf W=2 S=3 C=4\\ntrain 1 steps\\nsave srcA\\nnew srcB\\nload shapes train=256 val=64 test=64 seed=2\\nbuild cnf W=1 S=3 C=8\\ntrain 2 steps\\nsave srcB\\n' > mk.bsn
        $B run mk.bsn > /dev/null || exit 3
        echo 'save shared' > s.bsn; echo 'open shared' > o.bsn
        for i in $(seq 50); do
          rm -rf sess/shared
          $B run s.bsn --session srcA > a.out 2>&1 & $B run s.bsn --session srcB > b.out 2>&1 & wait
          grep -q "saved session 'shared'" a.out || { echo "round $i: A did not save"; cat a.out; exit 1; }
          grep -q "saved session 'shared'" b.out || { echo "round $i: B did not save"; cat b.out; exit 1; }
          $B run o.bsn > o.out 2>&1 || { echo "round $i: open failed"; cat o.out; exit 1; }
          grep -Eq "B-CNF W=2 S=3 C=4, step 1|B-CNF W=1 S=3 C=8, step 2" o.out || { echo "round $i: mixed"; cat o.out; exit 1; }
          ls -a sess/shared | grep -q 'tmp-' && { echo "round $i: temporary files left"; ls -a sess/shared; exit 1; }
        done
        echo ok
        """, seconds: 240)
        XCTAssertEqual(r.status, 0, r.output)
    }

    /// (2) 25 rounds of a saver and 6 openers: every opener succeeds, none removes the saver's files, the session is never lost.
    func testOpenersDuringASaveNeitherFailNorRemoveIt() throws {
        let r = try shell("""
        printf 'load shapes train=64 val=16 test=16\\nbuild cnf W=4 S=4 C=32\\ntrain 1 steps\\nsave X\\n' > mk.bsn
        $B run mk.bsn > /dev/null || exit 3
        printf 'open X\\nsave\\n' > w.bsn; printf 'open X\\nquit --no-save\\n' > r.bsn
        for i in $(seq 25); do
          # The writer pauses between its generation's files and its manifest: openers catch it mid-save.
          BSN_TEST_PAUSE_BEFORE_MANIFEST=0.1 $B run w.bsn > w.out 2>&1 &
          for j in 1 2 3 4 5 6; do
            $B run r.bsn > r.out 2>&1 || { echo "round $i: opener $j failed"; cat r.out; exit 1; }
            grep -q 'removed stale' r.out && { echo "round $i: opener $j removed files"; cat r.out; exit 1; }
          done
          wait
          grep -q "saved session 'X'" w.out || { echo "round $i: the writer did not save"; cat w.out; exit 1; }
          $B run r.bsn > r.out 2>&1 || { echo "round $i: LOST"; cat r.out; ls -a sess/X; exit 1; }
        done
        grep -o '"generation" : [0-9]*' sess/X/session.json
        """, seconds: 400)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("\"generation\" : 26"), "every writer's save landed: \(r.output)")
    }

    /// (2) A sweep child opened 20 times while its worker trains and saves it: read-only, never removing the worker's files.
    func testOpeningASweepChildWhileItsWorkerSavesIsReadOnlyAndHarmless() throws {
        let r = try shell("""
        cat > sw.bsn <<'END'
        load shapes train=256 val=64 test=64
        set batch 16
        build cnf W=2 S=3 C=8
        warmup 2 steps
        sweep budget flops 300k lambda=1e-6 mode=max epochs=12 --workers=1
        END
        $B run sw.bsn > sw.out 2>&1 &
        sweep=$!
        child=sw.flops-300k.lambda-1e-06
        for t in $(seq 300); do [ -f sess/$child/session.json ] && break; sleep 0.1; done
        [ -f sess/$child/session.json ] || { echo "no child"; cat sw.out; exit 1; }
        printf 'open %s\\ninspect\\nquit --no-save\\n' $child > r.bsn
        readonly=0
        for i in $(seq 20); do
          $B run r.bsn > r.out 2>&1 || { echo "open $i failed"; cat r.out; exit 1; }
          grep -q 'removed stale' r.out && { echo "open $i removed the worker's files"; cat r.out; exit 1; }
          grep -q 'read-only: .*sweep-worker' r.out && readonly=$((readonly + 1))
          sleep 0.05
        done
        wait $sweep || { echo "the sweep failed"; cat sw.out; exit 1; }
        echo "read-only opens: $readonly"
        [ $readonly -gt 0 ] || { echo "no open saw the worker's lock"; exit 1; }
        printf 'open sw\\npareto\\n' > p.bsn
        $B run p.bsn > p.out 2>&1 || { echo "pareto failed"; cat p.out; exit 1; }
        $B run r.bsn | head -1
        """, seconds: 400)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("opened 'sw.flops-300k.lambda-1e-06'"), r.output)
    }

    /// Two notebooks on one session: the second opens it read-only and cannot save over the first's work; save NAME keeps its own.
    func testASecondWriterIsToldWhoHoldsTheSessionAndLosesNothing() throws {
        let r = try shell("""
        printf 'load shapes train=64 val=16 test=16\\nbuild cnf W=1 S=2 C=4\\nsave H\\n' > mk.bsn
        $B run mk.bsn > /dev/null || exit 3
        # The first notebook holds H for 4 seconds, then trains and saves.
        (sleep 4; echo 'train 1 steps') | $B --session H > first.out 2>&1 &
        sleep 1.5
        printf 'open H\\ntrain 2 steps\\n' > second.bsn
        BSN_LOCK_WAIT=0.5 $B run second.bsn > second.out 2>&1; echo "second: $?"
        cat second.out
        printf 'open H\\nsave H-mine\\ntrain 2 steps\\n' > third.bsn
        BSN_LOCK_WAIT=0.5 $B run third.bsn > third.out 2>&1; echo "third: $?"
        wait
        cat first.out
        printf 'open H\\n' > o.bsn; $B run o.bsn; printf 'open H-mine\\n' > o2.bsn; $B run o2.bsn
        """, seconds: 120)
        XCTAssertTrue(r.output.contains("read-only: "), r.output)
        XCTAssertTrue(r.output.contains("is in use by pid"), "the holder is named: \(r.output)")
        XCTAssertTrue(r.output.contains("second: 1"), "the second's autosave fails, it does not replace the first's: \(r.output)")
        XCTAssertTrue(r.output.contains("save <other-name> keeps"), r.output)
        XCTAssertTrue(r.output.contains("third: 0"), r.output)
        XCTAssertTrue(r.output.contains("opened 'H': shapes (synthetic, seed 1), B-CNF W=1 S=2 C=4, step 1"), "the first's save: \(r.output)")
        XCTAssertTrue(r.output.contains("opened 'H-mine': shapes (synthetic, seed 1), B-CNF W=1 S=2 C=4, step 2"), r.output)
    }

    /// (7) A copied folder is a session of its own: it saves to itself, the original stays.
    func testACopiedFolderSavesUnderItsOwnName() throws {
        let r = try shell("""
        printf 'load shapes train=64 val=16 test=16\\nbuild cnf W=1 S=2 C=4\\ntrain 1 steps\\nsave orig\\n' > mk.bsn
        $B run mk.bsn > /dev/null || exit 3
        cp -r sess/orig sess/backup
        printf 'open backup\\ntrain 3 steps\\n' | $B
        printf 'sessions\\n' | $B
        """, seconds: 60)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("opened 'backup'"), r.output)
        XCTAssertTrue(r.output.contains("saved session 'backup'"), r.output)
        XCTAssertFalse(r.output.contains("saved session 'orig'"), r.output)
        let lines = r.output.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("backup") && $0.contains(" 4 ") }, r.output)
        XCTAssertTrue(lines.contains { $0.hasPrefix("orig") && $0.contains(" 1 ") }, r.output)
    }

    /// `open NAME` saves nothing of a fresh, unused session first (a script or stdin), so a saved session can be read on a read-only disk.
    func testOpeningFromAFreshSessionWritesNothing() throws {
        let r = try shell("""
        printf 'load shapes train=64 val=16 test=16\\nbuild cnf W=1 S=2 C=4\\nsave keep\\n' > mk.bsn
        $B run mk.bsn > /dev/null || exit 3
        printf 'open keep\\nquit --no-save\\n' > peek.bsn
        $B run peek.bsn || exit 4
        printf 'open keep\\nquit --no-save\\n' | $B || exit 5
        ls sess
        """, seconds: 60)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertFalse(r.output.contains("peek"), "no session 'peek' was written: \(r.output)")
        XCTAssertFalse(r.output.contains("stdin") || r.output.contains("notebook-"), r.output)
        XCTAssertFalse(r.output.contains("saved session"), r.output)
    }

    /// SIGTERM during training stops at the next batch, saves like Ctrl-C, and exits with 143.
    func testSIGTERMDuringTrainingSavesAndExitsWith143() throws {
        let r = try shell("""
        printf 'load shapes train=512 val=64 test=64\\nbuild cnf W=2 S=3 C=16\\ntrain 100000 steps\\n' > long.bsn
        $B run long.bsn > long.out 2>&1 &
        pid=$!
        for t in $(seq 300); do grep -Eq '^[0-9]+ +[0-9]+ ' long.out 2>/dev/null && break; sleep 0.1; done
        kill -TERM $pid
        wait $pid; echo "status $?"
        cat long.out
        printf 'open long\\n' > o.bsn; $B run o.bsn
        """, seconds: 120)
        XCTAssertTrue(r.output.contains("status 143"), r.output)
        XCTAssertTrue(r.output.contains("saved session 'long'"), r.output)
        XCTAssertTrue(r.output.contains("stopped by SIGTERM"), r.output)
        XCTAssertTrue(r.output.contains("opened 'long'"), r.output)
    }
}
