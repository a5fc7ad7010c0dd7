import Foundation
import Interface
import Tensor

/// Where a sweep's children train: worker processes of this bsn
/// (`SweepPool`), the ranks under mpirun (`RankRunner`), or this process,
/// one child after the other (`LocalRunner`). A runner trains a list of
/// children, each to its `until` (or its end), and says everything that
/// happens to them as events, their ends and failures too; `sweep` and its
/// halving loop see no difference between them.
protocol SweepRunner {
    /// Children trained at once, and the threads of each.
    var workers: Int { get }
    var threads: Int { get }
    func train(_ children: [SweepChild], cancel: Cancellation, event: @escaping (SweepEvent) -> Void) throws
}

/// One child after the other, in this process.
struct LocalRunner: SweepRunner {
    let store: SessionStore, threads: Int
    /// 1, or 0 with nothing to train.
    let workers: Int

    func train(_ children: [SweepChild], cancel: Cancellation, event: @escaping (SweepEvent) -> Void) throws {
        _ = store.runSweepChildren(children, threads: threads, cancel: cancel, event: event)
    }
}

/// Under mpirun: child k runs on rank k mod N, in that rank's process (each
/// rank writes its own children's sessions). Rank 0 hears its own children
/// as they run, and every child's end from its save once all ranks are done.
struct RankRunner: SweepRunner {
    let store: SessionStore, ranks: any Communicator, threads: Int
    var workers: Int { ranks.count }

    func train(_ children: [SweepChild], cancel: Cancellation, event: @escaping (SweepEvent) -> Void) throws {
        var writer = store
        writer.writes = true
        let mine = children.enumerated().filter { $0.offset % ranks.count == ranks.rank }.map(\.element)
        let failedHere = writer.runSweepChildren(mine, threads: threads, cancel: cancel, event: event)
        var failed = children.map { failedHere.contains($0.name) ? 1.0 : 0 }
        ranks.barrier()
        ranks.sum(&failed)
        for (child, failures) in zip(children, failed) where !failedHere.contains(child.name) {
            let status = try store.sweepStatus(child.name)
            let step = status?.step ?? child.origin.parentStep, target = child.origin.targetStep
            let kind: SweepEvent.Kind = failures > 0 ? .failed : step >= target ? .finished : step >= (child.until ?? target) ? .rung : .interrupted
            event(SweepEvent(kind: kind, child: child.name, step: step, targetStep: target, validationAccuracy: status?.validationAccuracy,
                             cost: status?.cost, costName: status?.costName,
                             message: failures > 0 ? "failed on another rank (its error is on that rank's standard error)" : nil))
        }
    }
}

extension SessionStore {
    /// Runs children one after the other in this process (until cancelled);
    /// a child that fails is reported as an event. Returns the failed ones' names.
    func runSweepChildren(_ children: [SweepChild], threads: Int, cancel: Cancellation, event: @escaping (SweepEvent) -> Void) -> Set<String> {
        var failed = Set<String>()
        for child in children where !cancel.isCancelled {
            do {
                try runSweepChild(child, threads: threads, cancel: cancel, event: event)
            } catch {
                event(SweepEvent(kind: .failed, child: child.name, step: -1, targetStep: child.origin.targetStep, message: "\(error)"))
                failed.insert(child.name)
            }
        }
        return failed
    }
}

/// Worker processes running a sweep's children: at most `size` at once,
/// each `<executable> sweep-worker --sessions <root> --threads <t> <child JSON>`,
/// whose standard output is one `SweepEvent` JSON per line.
struct SweepPool: SweepRunner {
    let executable: URL, store: SessionStore, threads: Int, size: Int
    var workers: Int { size }

    /// One running worker: its process and what it has said.
    final class Worker: @unchecked Sendable {
        let child: SweepChild, process = Process()
        let lock = NSLock()
        var lines = [Data](), errors = Data(), outputClosed = false, errorsClosed = false
        init(child: SweepChild) { self.child = child }
        var done: Bool { lock.withLock { outputClosed && errorsClosed } && !process.isRunning }
    }

    func train(_ children: [SweepChild], cancel: Cancellation, event: @escaping (SweepEvent) -> Void) throws {
        var queue = children[...], running = [Worker]()
        let wake = DispatchSemaphore(value: 0)
        var signalled = false
        while !queue.isEmpty || !running.isEmpty {
            while running.count < size, !cancel.isCancelled, let child = queue.popFirst() {
                do {
                    running.append(try launch(child, wake: wake))
                } catch {
                    // The workers already started stop at their next batch (saved) before this fails.
                    for w in running where w.process.isRunning { kill(w.process.processIdentifier, SIGTERM) }
                    for w in running { w.process.waitUntilExit() }
                    throw error
                }
            }
            if running.isEmpty { break }
            _ = wake.wait(timeout: .now() + 0.2)
            if cancel.isCancelled && !signalled {
                for w in running where w.process.isRunning { kill(w.process.processIdentifier, SIGTERM) }
                signalled = true
            }
            var ended = Set<ObjectIdentifier>()
            for w in running {
                let finished = w.done                    // before reading: every line it wrote is in by then
                let lines: [Data] = w.lock.withLock { defer { w.lines = [] }; return w.lines }
                for line in lines {
                    if let e = try? JSONDecoder().decode(SweepEvent.self, from: line) { event(e) }
                }
                guard finished else { continue }
                ended.insert(ObjectIdentifier(w))
                let status = w.process.terminationStatus
                if status != 0 {
                    let said = String(decoding: w.errors, as: UTF8.self).split(separator: "\n").last.map(String.init)
                    let interrupted = status == 130 || status == 143 || w.process.terminationReason == .uncaughtSignal
                    event(SweepEvent(kind: interrupted ? .interrupted : .failed, child: w.child.name, step: -1, targetStep: w.child.origin.targetStep,
                                     message: said ?? "the worker exited with status \(status)"))
                }
            }
            running.removeAll { ended.contains(ObjectIdentifier($0)) }
        }
    }

    private func launch(_ child: SweepChild, wake: DispatchSemaphore) throws -> Worker {
        let w = Worker(child: child)
        let spec = String(decoding: try JSONEncoder().encode(child), as: UTF8.self)
        w.process.executableURL = executable
        w.process.arguments = ["sweep-worker", "--sessions", store.root.path, "--threads", "\(threads)", spec]
        let output = Pipe(), errors = Pipe()
        w.process.standardOutput = output
        w.process.standardError = errors
        w.process.standardInput = FileHandle.nullDevice
        w.process.terminationHandler = { _ in wake.signal() }
        do { try w.process.run() } catch {
            throw SessionError("cannot start a sweep worker (\(executable.path)): \(error.localizedDescription)")
        }
        Thread.detachNewThread {
            var pending = Data()
            while true {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = pending[pending.startIndex..<newline]
                    w.lock.withLock { w.lines.append(Data(line)) }
                    pending.removeSubrange(pending.startIndex...newline)
                }
                wake.signal()
            }
            w.lock.withLock { w.outputClosed = true }
            wake.signal()
        }
        Thread.detachNewThread {
            let data = errors.fileHandleForReading.readDataToEndOfFile()
            w.lock.withLock { (w.errors, w.errorsClosed) = (data, true) }
            wake.signal()
        }
        return w
    }
}

