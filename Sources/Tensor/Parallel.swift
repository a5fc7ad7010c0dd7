import CWorkers
import Dispatch
import Foundation
import Synchronization

/// Work split over the machine's cores. Hot loops hand out independent chunks
/// with `Parallel.forEach`; each worker has an index (`0..<workers`) so it can
/// use its own scratch space from `Workspace`. How many threads is the
/// caller's to say (its execution context's `threads`).
public enum Parallel {
    /// Calls `body(index, worker)` for every index in `0..<count`, spread over
    /// up to `threads` workers. The assignment is fixed (worker w takes indices
    /// w, w + workers, …), so per-worker partial sums combine in the same order
    /// on every run: the same seed gives the same numbers. Returns when all
    /// calls have returned.
    public static func forEach(_ count: Int, threads: Int, _ body: (_ index: Int, _ worker: Int) -> Void) {
        let workers = min(threads, count)
        if workers <= 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        _ = warmupRegistered
        withoutActuallyEscaping(body) { body in
            let part: (Int) -> Void = { worker in
                for i in stride(from: worker, to: count, by: workers) { body(i, worker) }
            }
            // The pool's spinning threads; Dispatch's when the pool serves another caller (or this is inside a job).
            let ran = withUnsafePointer(to: part) { context in
                bsn_workers_run(Int32(workers), { context, worker in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(worker))
                }, UnsafeMutableRawPointer(mutating: context))
            }
            if ran == 1 { return }
            if ran == -1 {
                // The threads would not fit in the address-space limit: the parts run here, one after another
                // (the same assignment of indices to workers, so the same numbers).
                warnOnce(workers)
                for worker in 0..<workers { part(worker) }
                return
            }
            let unchecked = UncheckedSendable(part)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in unchecked.value(worker) }
        }
    }

    /// How many of `threads` workers can run in parallel now: all of them,
    /// or fewer where the threads still to start would not fit in this
    /// process's address-space limit (`ulimit -v`).
    public static func fitting(_ threads: Int) -> Int { Int(bsn_workers_fitting(Int32(min(threads, 64)))) }

    /// The address space one more worker thread is counted to take (its
    /// stack, its malloc arena, OpenBLAS's buffer), in bytes.
    public static var threadBytes: Double { Double(bsn_workers_thread_bytes()) }

    /// A new pool thread's first call under an address-space limit: a product
    /// large enough that OpenBLAS maps its buffer (it skips it for tiny ones).
    private static let warmupRegistered: Void = bsn_workers_set_warmup { _, _ in
        let n = 128
        let a = [Float](repeating: 0, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        a.withUnsafeBufferPointer { a in
            c.withUnsafeMutableBufferPointer { c in
                BLAS.sgemm(m: n, n: n, k: n, a: a.baseAddress!, lda: n, b: a.baseAddress!, ldb: n, c: c.baseAddress!, ldc: n)
            }
        }
    }

    private static let warned = Atomic<Bool>(false)

    /// Says once that loops run on one thread for want of address space.
    private static func warnOnce(_ workers: Int) {
        guard !warned.exchange(true, ordering: .relaxed) else { return }
        let message = "bsn: warning: \(workers) worker threads do not fit in this process's address-space limit (ulimit -v; "
            + "each takes ~\(Memory.format(threadBytes))): loops of more workers than fit run on one thread; set threads \(fitting(workers)) to use what fits\n"
        try? FileHandle.standardError.write(contentsOf: Data(message.utf8))
    }

    /// Splits `0..<count` into `parts` contiguous ranges of nearly equal length.
    public static func ranges(_ count: Int, parts: Int) -> [Range<Int>] {
        let parts = max(1, min(parts, count))
        return (0..<parts).map { p in (count * p / parts)..<(count * (p + 1) / parts) }
    }
}

/// Wraps a value that is safe to share for the duration of a parallel call
/// (the caller guarantees the workers touch disjoint memory).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
