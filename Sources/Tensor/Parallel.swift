import CWorkers
import Dispatch
import Foundation

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
            guard ran == 0 else { return }
            let unchecked = UncheckedSendable(part)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in unchecked.value(worker) }
        }
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
