import Foundation
import Interface
import SuperNet
import Tensor

/// What the caller of `sweep` hears while it runs. Every field is optional.
public struct SweepObserver {
    /// The parent's warm-up, run once before the children (training's observer).
    public var warmup = TrainingObserver()
    /// Said once, before anything runs (the warm-up, then the children and workers).
    public var note: (String) -> Void = { _ in }
    /// Whenever a child's row changes: every row, in the grid's order.
    public var rows: ([SweepReport.Row]) -> Void = { _ in }
    /// A child's event as it arrives (an epoch done, a child finished…).
    public var event: (SweepReport.Row, SweepEvent) -> Void = { _, _ in }
    public init() {}
}

/// What `sweep` reports: a row per child, and how the run ended.
public struct SweepReport: TabularOutput, Sendable {
    public enum State: String, Codable, Sendable {
        case waiting, running, finished, kept, interrupted, failed
        /// Halving left it behind after a rung (saved; `open` continues it by hand).
        case stopped
    }

    public struct Row: Codable, Sendable {
        public let session: String, child: String, kind: SweepOrigin.Kind
        public var state: State
        public var step: Int, targetStep: Int, perEpoch: Int
        public var validationAccuracy: Double?
        public var cost: Double?, costName: String?
        public var message: String?
        /// Halving: the rung it trains in (or stopped after), 0 = the first, of `rungs`.
        public var rung: Int?, rungs: Int?
        /// A search's budget (the limit and its mode).
        public var budget: Budget?

        /// Its cells in `SweepReport.table`.
        public var cells: [String] {
            [child, state.rawValue + (rung.map { " r\($0 + 1)/\(rungs ?? 0)" } ?? ""), "\(step / perEpoch)/\(targetStep / perEpoch)", validationAccuracy.map { Format.fixed($0, 3) } ?? "-",
             cost.map { Format.quantity($0) + " " + (costName ?? "") } ?? "-"]
        }
    }

    public static func table(nameWidth: Int) -> Table {
        Table([.left("child", nameWidth + 2), .left("state", 14), .right("epoch", 9), .right("val acc", 9), .right("cost", 18)])
    }

    public let parent: String
    public let rows: [Row]
    public let workers: Int, threadsPerWorker: Int
    /// Under mpirun the workers are the ranks.
    public var onRanks = false
    /// The parent's warm-up, when this sweep ran it.
    public let warmup: TrainingReport?
    public let interrupted: Bool
    public let seconds: Double
    /// Budgets nobody means (`budget` says the same); the text leaves them out: the sweep said them when it began.
    public var warnings: [String] = []
    /// Halving: its rungs, how many children each trained, and the epochs trained against a full grid's.
    public var halving: String?

    /// Said when three or more searches with different budgets ended at one
    /// cost: the children collapsed onto one architecture, and what spreads them.
    public var collapsed: String? { Self.collapsed(rows) }

    public static func collapsed(_ rows: [Row]) -> String? {
        let searches = rows.filter { $0.kind == .search && ($0.state == .finished || $0.state == .kept) }
        let costs = searches.compactMap(\.cost)
        guard searches.count >= 3, costs.count == searches.count, let low = costs.min(), let high = costs.max(), high - low <= 0.01 * high,
              Set(searches.map { $0.budget?.limit }).count > 1 else { return nil }
        return "all \(searches.count) searches ended at one architecture (\(Format.quantity(high)) \(searches[0].costName ?? "")): below its budget a child pays no penalty, "
            + "so nothing holds it up to the budget" + (searches[0].budget?.mode == .abs ? "; try larger λ, or budgets further apart"
                : "; mode=abs pulls each child to its own budget") + " (docs/benchmarks.md, 'Children that collapse')"
    }

    public var text: String { Block.text(blocks, separator: "\n") }

    /// The warm-up line, the children's table, then the summary.
    public var blocks: [Block] {
        var head = [String](), lines = [String]()
        if let warmup { head.append("warm-up (once, in '\(parent)'): " + warmup.text.split(separator: "\n")[0]) }
        var table = Self.table(nameWidth: rows.map(\.child.count).max() ?? 10)
        for row in rows { table.add(row.cells) }
        let count = { (s: State) in rows.filter { $0.state == s }.count }
        var summary = plural(rows.count, "child", "children") + " of '\(parent)' (sessions \(parent).*): \(count(.finished)) finished now, \(count(.kept)) kept from before"
        if count(.failed) > 0 { summary += ", \(count(.failed)) failed" }
        summary += " in \(Format.duration(seconds))" + (workers > 0 ? ", " + plural(workers, onRanks ? "rank" : "worker") + " × " + plural(threadsPerWorker, "thread") : "")
        lines.append(summary)
        if let halving { lines.append(halving) }
        for row in rows where row.state == .failed { lines.append("\(row.child): \(row.message ?? "failed")") }
        if interrupted || rows.contains(where: { $0.state == .interrupted || $0.state == .waiting }) {
            lines.append("interrupted: the same sweep command continues it (finished children are kept, the others resume from their last save)")
        } else if count(.failed) == 0 {
            if let collapsed = Self.collapsed(rows) { lines.append(collapsed) }
            lines.append("pareto picks the front; open <child> continues one")
        }
        return [.text(head.joined(separator: "\n")), .table(table), .text(lines.joined(separator: "\n"))]
    }
}

extension Session {
    /// Runs a grid of searches (or baselines) from this session's state.
    /// With a warm-up set and not yet done, the session trains through it
    /// first, once; it is then saved, and each child is made from that save.
    /// Children run in `request.workers` processes of `worker` (the bsn
    /// executable, `bsn sweep-worker`), or one after the other in this
    /// process when `worker` is nil. A child that exists already is kept if
    /// finished and continued otherwise. Cancelling stops every child at its
    /// next batch (each saves). Throws `SweepFailed` (with the report) when a
    /// child failed.
    @discardableResult
    public func sweep(_ request: SweepRequest, store: SessionStore, worker: URL? = nil, cancel: Cancellation = .never,
                      observer: SweepObserver = SweepObserver()) throws -> SweepReport {
        let (_, trainer) = try requireModel()
        guard let loader else { throw SessionError("no dataset loaded (e.g. load shapes)") }
        guard (1...256).contains(request.workers) else { throw SessionError("workers must be in 1…256, got \(request.workers)") }
        let planned = try request.children(of: self)     // checks the grid before any training
        observer.note("grid: \(request.values) = \(plural(planned.count, "child", "children"))")
        var warnings = [String]()
        if case let .budgets(choice, limits, _, mode) = request.grid, let network {
            var c = choice
            warnings = Self.budgetWarnings(try c.make(for: network), limits: limits, mode: mode, network: network)
            for w in warnings { observer.note("warning: " + w) }
        }
        let start = Date()
        var workers = worker == nil ? 1 : request.workers, threads = settings.threads

        var warmup: TrainingReport?
        if case .budgets = request.grid, settings.warmupSteps > trainer.step {
            observer.note("warming up '\(name)' once: \(settings.warmupSteps - trainer.step) steps with every gate on")
            // Under mpirun every rank warms up the whole batch, as a local sweep does, so that children match it.
            let split = splitsBatchesAcrossRanks
            splitsBatchesAcrossRanks = false
            defer { splitsBatchesAcrossRanks = split }
            warmup = try train(.steps(settings.warmupSteps - trainer.step), validate: true, cancel: cancel, observer: observer.warmup, autosave: store)
            if cancel.isCancelled {
                return SweepReport(parent: name, rows: [], workers: 0, threadsPerWorker: threads, warmup: warmup, interrupted: true,
                                   seconds: Date().timeIntervalSince(start))
            }
        } else {
            try store.save(self)
        }
        ranks.barrier()                                  // under mpirun: rank 0's save is on disk for every rank
        let children = try request.children(of: self)
        let perEpoch = max(loader.batchesPerEpoch, 1)
        var rows = [SweepReport.Row](), pending = [SweepChild]()
        for child in children {
            var row = SweepReport.Row(session: child.name, child: child.shortName, kind: child.origin.kind, state: .waiting,
                                      step: child.origin.parentStep, targetStep: child.origin.targetStep, perEpoch: perEpoch)
            row.budget = child.origin.budget?.budget
            if let status = try store.sweepStatus(child.name) {
                guard status.origin == child.origin else { throw SweepConflict(child: child.name, found: status.origin) }
                (row.step, row.validationAccuracy, row.cost, row.costName) = (status.step, status.validationAccuracy, status.cost, status.costName ?? "flops")
                if status.step >= child.origin.targetStep { row.state = .kept } else { pending.append(child) }
            } else {
                pending.append(child)
            }
            rows.append(row)
        }
        // The cores split between the workers (a child keeps its thread count when it resumes);
        // under mpirun the ranks are the workers, each on its share of its machine's cores.
        workers = ranks.distributed ? ranks.count : min(workers, pending.count)
        if worker != nil && !ranks.distributed { threads = max(1, settings.threads / max(workers, 1)) }
        observer.note(plural(children.count, "child", "children") + ", \(pending.count) to train"
                      + (pending.isEmpty ? "" : " in " + plural(workers, ranks.distributed ? "rank" : "worker") + " × " + plural(threads, "thread")))
        observer.rows(rows)

        func handle(_ e: SweepEvent) {
            guard let k = rows.firstIndex(where: { $0.session == e.child }) else { return }
            if e.step >= 0 { rows[k].step = e.step }
            rows[k].cost = e.cost ?? rows[k].cost
            rows[k].costName = e.costName ?? rows[k].costName
            rows[k].validationAccuracy = e.validationAccuracy ?? rows[k].validationAccuracy
            switch e.kind {
            case .started, .progress, .epoch: rows[k].state = .running
            case .rung: rows[k].state = .waiting
            case .finished: rows[k].state = .finished
            case .interrupted: rows[k].state = .interrupted
            case .failed: (rows[k].state, rows[k].message) = (.failed, e.message)
            }
            observer.event(rows[k], e)
            observer.rows(rows)
        }
        /// Trains `list` (to each one's `until`, or its end), in the workers, the ranks or this process.
        func run(_ list: [SweepChild]) throws {
            if ranks.distributed {
                let failed = try runOnRanks(list, rows: rows.map(\.session), store: store, threads: threads, cancel: cancel, event: handle)
                // Every child's state, from its save (most ran on other ranks).
                for r in rows.indices where list.contains(where: { $0.name == rows[r].session }) {
                    if let status = try store.sweepStatus(rows[r].session) {
                        (rows[r].step, rows[r].validationAccuracy, rows[r].cost, rows[r].costName) = (status.step, status.validationAccuracy, status.cost, status.costName)
                    }
                    if failed[r] {
                        rows[r].state = .failed
                        rows[r].message = rows[r].message ?? "failed on another rank (its error is on that rank's standard error)"
                    } else {
                        let until = list.first { $0.name == rows[r].session }?.until ?? rows[r].targetStep
                        rows[r].state = rows[r].step >= rows[r].targetStep ? .finished : rows[r].step >= until ? .waiting : .interrupted
                    }
                }
            } else if let worker {
                try SweepPool(executable: worker, store: store, threads: threads, size: workers).run(list, cancel: cancel, event: handle)
            } else {
                _ = store.runSweepChildren(list, threads: threads, cancel: cancel, event: handle)
            }
        }
        /// A halving sweep (`Halving`): rung by rung, the children still going
        /// on train to the rung's end, then the rung's survivors are decided and
        /// recorded in this session (saved). A resumed sweep takes the recorded
        /// decisions as they are and goes on from the first rung not decided.
        /// Returns the line the report ends with.
        func runHalving(_ halving: Halving) throws -> String {
            guard case .budgets = request.grid else { throw SessionError("halving= is for sweep budget (baselines all train in full)") }
            let start = children.first?.origin.parentStep ?? trainer.step
            let ends = try halving.rungEpochs(request.epochs)
            let rungSteps = ends.map { start + $0 * perEpoch }
            let names = children.map(\.name)
            // The same grid and rungs as the record: its decisions stand; anything else starts a new record.
            var record = halvingRecord.flatMap { $0.children == names && $0.rungSteps == rungSteps && $0.halving == halving ? $0 : nil }
                ?? HalvingRecord(halving: halving, rungSteps: rungSteps, children: names, survivors: [])
            if halvingRecord != record {
                halvingRecord = record
                try store.save(self)
            }
            observer.note("halving η=\(halving.eta): rungs end at epoch \(ends.map(String.init).joined(separator: ", ")); after each, the fronts of val acc against cost go on, at least 1/\(halving.eta) of the children")
            var alive = children
            for r in rows.indices { rows[r].rungs = ends.count }
            for (r, until) in rungSteps.enumerated() {
                for k in rows.indices where alive.contains(where: { $0.name == rows[k].session }) { rows[k].rung = r }
                observer.rows(rows)
                if r < record.survivors.count {
                    // Decided before this sweep was interrupted: the children went on (or stopped) as recorded.
                    alive = alive.filter { record.survivors[r].contains($0.name) }
                    continue
                }
                let toTrain = try alive.filter { (try store.sweepStatus($0.name)?.step ?? 0) < until }.map { c -> SweepChild in
                    var c = c
                    c.until = until
                    return c
                }
                try run(toTrain)
                if cancel.isCancelled || rows.contains(where: { $0.state == .failed }) || r == rungSteps.count - 1 { break }
                guard let kept = try store.decideRung(&record) else { break }
                halvingRecord = record
                try store.save(self)
                ranks.barrier()
                observer.note("rung \(r + 1)/\(rungSteps.count) (epoch \(ends[r])): \(kept.count) of \(alive.count) children go on")
                alive = alive.filter { kept.contains($0.name) }
            }
            // Every child's state from its save: stopped at its rung, finished, or (interrupted) waiting.
            var epochs = 0
            for k in rows.indices {
                if let status = try store.sweepStatus(rows[k].session) {
                    (rows[k].step, rows[k].validationAccuracy, rows[k].cost, rows[k].costName) = (status.step, status.validationAccuracy, status.cost, status.costName)
                }
                epochs += max(0, rows[k].step - start) / perEpoch
                if let stopped = record.stoppedAt(rows[k].session) {
                    (rows[k].state, rows[k].rung) = (.stopped, stopped)
                } else if rows[k].step >= rows[k].targetStep && rows[k].state != .kept {
                    rows[k].state = .finished
                } else if rows[k].state == .waiting || rows[k].state == .running {
                    rows[k].state = cancel.isCancelled ? .interrupted : rows[k].state
                }
            }
            observer.rows(rows)
            let counts = [children.count] + record.survivors.map { $0.count }
            return "halving η=\(halving.eta): rungs at epoch \(ends.map(String.init).joined(separator: ", ")); children \(counts.map(String.init).joined(separator: " → ")); "
                + "\(epochs) of \(children.count * request.epochs) child-epochs trained (\(Int((100 * Double(epochs) / Double(max(1, children.count * request.epochs))).rounded()))%)"
        }
        var halvingLine: String?
        if let halving = request.halving {
            halvingLine = try runHalving(halving)
        } else {
            try run(pending)
        }
        var report = SweepReport(parent: name, rows: rows, workers: workers, threadsPerWorker: threads, warmup: warmup,
                                 interrupted: cancel.isCancelled, seconds: Date().timeIntervalSince(start))
        report.onRanks = ranks.distributed
        report.warnings = warnings
        report.halving = halvingLine
        if rows.contains(where: { $0.state == .failed }) { throw SweepFailed(report: report) }
        return report
    }
}

extension Session {
    /// Under mpirun: child k runs on rank k mod N, in that rank's process
    /// (each rank writes its own children's sessions); rank 0 hears its own
    /// children as they run. Returns, for every row, whether its child failed
    /// on some rank (summed across ranks).
    fileprivate func runOnRanks(_ pending: [SweepChild], rows: [String], store: SessionStore, threads: Int,
                                cancel: Cancellation, event: @escaping (SweepEvent) -> Void) throws -> [Bool] {
        var writer = store
        writer.writes = true
        let mine = pending.enumerated().filter { $0.offset % ranks.count == ranks.rank }.map(\.element)
        let failedHere = writer.runSweepChildren(mine, threads: threads, cancel: cancel, event: event)
        var failed = rows.map { failedHere.contains($0) ? 1.0 : 0 }
        ranks.barrier()
        ranks.sum(&failed)
        return failed.map { $0 > 0 }
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

/// Some children of a sweep failed (the others ran; the report says which and why).
public struct SweepFailed: FailureWithOutput, CustomStringConvertible {
    public let report: SweepReport
    public var output: any Output { report }
    public var description: String {
        let failed = report.rows.filter { $0.state == .failed }.map(\.child)
        return "\(failed.count) of \(report.rows.count) children failed (\(failed.joined(separator: ", "))); once the cause is fixed (a damaged session can be removed), the same command retries them"
    }
}

/// Worker processes running a sweep's children: at most `size` at once,
/// each `<executable> sweep-worker --sessions <root> --threads <t> <child JSON>`,
/// whose standard output is one `SweepEvent` JSON per line.
struct SweepPool {
    let executable: URL, store: SessionStore, threads: Int, size: Int

    /// One running worker: its process and what it has said.
    final class Worker: @unchecked Sendable {
        let child: SweepChild, process = Process()
        let lock = NSLock()
        var lines = [Data](), errors = Data(), outputClosed = false, errorsClosed = false
        init(child: SweepChild) { self.child = child }
        var done: Bool { lock.withLock { outputClosed && errorsClosed } && !process.isRunning }
    }

    func run(_ children: [SweepChild], cancel: Cancellation, event: @escaping (SweepEvent) -> Void) throws {
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

/// "1 worker", "2 workers".
func plural(_ n: Int, _ one: String, _ many: String? = nil) -> String { "\(n) " + (n == 1 ? one : many ?? one + "s") }
