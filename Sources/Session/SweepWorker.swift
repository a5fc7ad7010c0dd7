import Foundation
import Interface
import Tensor

/// A sweep worker's life (`bsn sweep-worker`, started by a sweep's pool):
/// it trains one child to its target step, printing one `SweepEvent` JSON
/// per line on standard output. SIGINT or SIGTERM, or the sweep process
/// going away, stops it at the next batch, saved.
public enum SweepWorker {
    /// Where the signals land (a signal handler can only reach a global).
    private static let stop = Cancellation()

    /// Runs the child given as JSON in the sessions folder `root` on
    /// `threads` threads; returns the exit status: 0 done, 130 stopped, 1 failed, 2 bad arguments.
    public static func run(root: String, threads: Int, child spec: String) -> Int32 {
        guard !root.isEmpty, let child = try? JSONDecoder().decode(SweepChild.self, from: Data(spec.utf8)) else {
            StandardStreams.error("bsn sweep-worker: needs --sessions DIR and a child as JSON\n")
            return 2
        }
        signal(SIGINT) { _ in SweepWorker.stop.cancel() }
        signal(SIGTERM) { _ in SweepWorker.stop.cancel() }
        let parent = getppid()
        Thread.detachNewThread {
            while getppid() == parent { Thread.sleep(forTimeInterval: 0.5) }
            SweepWorker.stop.cancel()
        }
        let encoder = JSONEncoder()
        do {
            try SessionStore(root: URL(fileURLWithPath: root)).runSweepChild(child, threads: threads, cancel: stop) { e in
                // The parent gone (its pipe closed): the child stops at its next batch, as after SIGTERM.
                if let line = try? encoder.encode(e), !StandardStreams.write(line + Data([0x0A]), to: STDOUT_FILENO) {
                    SweepWorker.stop.cancel()
                }
            }
        } catch {
            StandardStreams.error("bsn sweep-worker: \(child.name): \(error)\n")
            return 1
        }
        return stop.isCancelled ? 130 : 0
    }
}
