import Dispatch
import Foundation
import Tensor
import XCTest

/// `Parallel.forEach` runs on a pool of spinning threads (CWorkers), falling
/// back to Dispatch when the pool is taken: every index exactly once, on the
/// fixed worker, whoever calls and however the calls interleave.
final class ParallelTests: XCTestCase {
    /// Runs a forEach and checks each index ran once, on worker index % workers.
    private func checkOnce(_ n: Int, threads: Int, file: StaticString = #filePath, line: UInt = #line) {
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: n), owners = UnsafeMutablePointer<Int>.allocate(capacity: n)
        defer { hits.deallocate(); owners.deallocate() }
        hits.initialize(repeating: 0, count: n)
        Parallel.forEach(n, threads: threads) { i, worker in
            hits[i] += 1
            owners[i] = worker
        }
        let workers = max(1, min(threads, n))
        XCTAssertTrue((0..<n).allSatisfy { hits[$0] == 1 }, "\(n) indices on \(threads) threads", file: file, line: line)
        XCTAssertTrue((0..<n).allSatisfy { owners[$0] == $0 % workers }, "fixed assignment, \(threads) threads", file: file, line: line)
    }

    func testEveryIndexRunsOnceOnItsFixedWorkerForAnyThreadCount() {
        for threads in [1, 2, 3, 5, 8, 64, 65] {
            for n in [0, 1, 2, 7, 100] { checkOnce(n, threads: threads) }
        }
    }

    func testManyShortJobsInARowLoseNoWork() {
        // Thousands of jobs a few microseconds apart: the pool's threads spin between them.
        let total = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        defer { total.deallocate() }
        total.initialize(repeating: 0, count: 2)
        for _ in 0..<5_000 { Parallel.forEach(2, threads: 2) { i, _ in total[i] += 1 } }
        XCTAssertEqual([total[0], total[1]], [5_000, 5_000])
    }

    func testJobsOfFewAndManyWorkersInTurnNeverRunAStaleJob() {
        // More threads than CPUs (`set threads 30` on 2 cores): a thread the last job did not need may
        // wake late, while the next job is being published; it must run the job it reads, whole.
        for round in 0..<300 {
            let threads = round % 2 == 0 ? 30 : 2, n = round % 3 == 0 ? 30 : 7
            checkOnce(n, threads: threads)
        }
    }

    func testJobsAfterTheThreadsFellAsleepStillRun() {
        // Longer than the pool's spin: its threads wait in the kernel and must be woken.
        for _ in 0..<3 {
            Thread.sleep(forTimeInterval: 0.01)
            checkOnce(10, threads: 2)
        }
    }

    func testNestedCallsFromInsideAJobRunEveryIndex() {
        let n = 6, m = 50
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: n * m)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: n * m)
        Parallel.forEach(n, threads: 2) { i, _ in
            Parallel.forEach(m, threads: 2) { j, _ in hits[i * m + j] += 1 }
        }
        XCTAssertTrue((0..<(n * m)).allSatisfy { hits[$0] == 1 })
    }

    func testCallersOnSeveralThreadsAtOnceEachGetTheirWholeJob() {
        // Four threads call forEach at the same time, repeatedly: one holds the pool, the others fall back to Dispatch.
        let callers = 4, rounds = 500, n = 64
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: callers * n)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: callers * n)
        let shared = UncheckedSendable(hits)
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            for _ in 0..<rounds {
                Parallel.forEach(n, threads: 3) { i, _ in shared.value[caller * n + i] += 1 }
            }
        }
        XCTAssertTrue((0..<(callers * n)).allSatisfy { hits[$0] == rounds })
    }

    func testRangesSplitEvenly() {
        XCTAssertEqual(Parallel.ranges(10, parts: 3), [0..<3, 3..<6, 6..<10])
        XCTAssertEqual(Parallel.ranges(2, parts: 5), [0..<1, 1..<2])
    }
}
