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
    /// process when `worker` is nil; under mpirun, on the ranks. A child that
    /// exists already is kept if finished and continued otherwise. Cancelling
    /// stops every child at its next batch (each saves). Throws `SweepFailed`
    /// (with the report) when a child failed.
    @discardableResult
    public func sweep(_ request: SweepRequest, store: SessionStore, worker: URL? = nil, cancel: Cancellation = .never,
                      observer: SweepObserver = SweepObserver()) throws -> SweepReport {
        let start = Date()
        let (warnings, warmup) = try prepareSweep(request, store: store, cancel: cancel, observer: observer)
        if warmup != nil && cancel.isCancelled {
            return SweepReport(parent: name, rows: [], workers: 0, threadsPerWorker: settings.threads, warmup: warmup, interrupted: true,
                               seconds: Date().timeIntervalSince(start))
        }
        let children = try request.children(of: self)
        let table = try SweepTable(children, store: store, perEpoch: max(loader?.batchesPerEpoch ?? 1, 1), observer: observer)
        let pending = children.filter { table.row($0.name).state == .waiting }
        let runner = sweepRunner(worker: worker, workers: request.workers, pending: pending.count, store: store)
        observer.note(plural(children.count, "child", "children") + ", \(pending.count) to train" + (pending.isEmpty ? "" : " in "
                      + plural(runner.workers, ranks.distributed ? "rank" : "worker") + " × " + plural(runner.threads, "thread")))
        observer.rows(table.rows)
        var halvingLine: String?
        if let halving = request.halving {
            halvingLine = try halve(children, halving, request, table: table, runner: runner, store: store, cancel: cancel)
        } else {
            try runner.train(pending, cancel: cancel, event: table.handle)
        }
        var report = SweepReport(parent: name, rows: table.rows, workers: runner.workers, threadsPerWorker: runner.threads, warmup: warmup,
                                 interrupted: cancel.isCancelled, seconds: Date().timeIntervalSince(start))
        (report.onRanks, report.warnings, report.halving) = (ranks.distributed, warnings, halvingLine)
        if table.rows.contains(where: { $0.state == .failed }) { throw SweepFailed(report: report) }
        return report
    }

    /// Checks the request, says its grid and the budgets nobody means, then
    /// trains the warm-up (once, when set and not done) or saves this session:
    /// every child is made from its save.
    private func prepareSweep(_ request: SweepRequest, store: SessionStore, cancel: Cancellation,
                              observer: SweepObserver) throws -> (warnings: [String], warmup: TrainingReport?) {
        let (network, trainer) = try requireModel()
        guard loader != nil else { throw SessionError("no dataset loaded (e.g. load shapes)") }
        guard (1...256).contains(request.workers) else { throw SessionError("workers must be in 1…256, got \(request.workers)") }
        let planned = try request.children(of: self)     // checks the grid before any training
        observer.note("grid: \(request.values) = \(plural(planned.count, "child", "children"))")
        var warnings = [String]()
        if case let .budgets(choice, limits, _, mode) = request.grid {
            var c = choice
            warnings = Self.budgetWarnings(try c.make(for: network), limits: limits, mode: mode, network: network)
            for w in warnings { observer.note("warning: " + w) }
        }
        var warmup: TrainingReport?
        if case .budgets = request.grid, settings.warmupSteps > trainer.step {
            observer.note("warming up '\(name)' once: \(settings.warmupSteps - trainer.step) steps with every gate on")
            // Under mpirun every rank warms up the whole batch, as a local sweep does, so that children match it.
            let split = splitsBatchesAcrossRanks
            splitsBatchesAcrossRanks = false
            defer { splitsBatchesAcrossRanks = split }
            warmup = try train(.steps(settings.warmupSteps - trainer.step), validate: true, cancel: cancel, observer: observer.warmup, autosave: store)
        } else {
            try store.save(self)
        }
        ranks.barrier()                                  // under mpirun: rank 0's save is on disk for every rank
        return (warnings, warmup)
    }

    /// Who trains the children: the ranks under mpirun (each on its share of
    /// its machine's cores), else `workers` processes of `worker` sharing the
    /// cores (a child keeps its thread count when it resumes), else this process.
    private func sweepRunner(worker: URL?, workers: Int, pending: Int, store: SessionStore) -> any SweepRunner {
        if ranks.distributed { return RankRunner(store: store, ranks: ranks, threads: settings.threads) }
        guard let worker else { return LocalRunner(store: store, threads: settings.threads, workers: min(1, pending)) }
        let size = min(workers, pending)
        return SweepPool(executable: worker, store: store, threads: max(1, settings.threads / max(size, 1)), size: size)
    }

    /// A halving sweep (`Halving`): rung by rung, the children still going on
    /// train to the rung's end, then the rung's survivors are decided and
    /// recorded in this session (saved). A resumed sweep takes the recorded
    /// decisions as they are and goes on from the first rung not decided.
    /// Returns the line the report ends with.
    private func halve(_ children: [SweepChild], _ halving: Halving, _ request: SweepRequest, table: SweepTable, runner: any SweepRunner,
                       store: SessionStore, cancel: Cancellation) throws -> String {
        guard case .budgets = request.grid else { throw SessionError("halving= is for sweep budget (baselines all train in full)") }
        let epochs = request.epochs
        let names = children.map(\.name), start = children.first?.origin.parentStep ?? trainer?.step ?? 0
        let fresh = try HalvingRecord(halving: halving, epochs: epochs, start: start, perEpoch: table.perEpoch, children: names)
        // The same grid and rungs as the record: its decisions stand; anything else starts a new record.
        var record = halvingRecord.flatMap { $0.children == names && $0.rungSteps == fresh.rungSteps && $0.halving == halving ? $0 : nil } ?? fresh
        if halvingRecord != record {
            halvingRecord = record
            try store.save(self)
        }
        let ends = try halving.rungEpochs(epochs)
        table.observer.note("halving η=\(halving.eta): rungs end at epoch \(ends.map(String.init).joined(separator: ", ")); after each, the fronts of val acc against cost go on, at least 1/\(halving.eta) of the children")
        table.setRungs(ends.count)
        _ = try store.halve(names, decide: {
            while case let before = record.alive.count, let kept = try store.decideRung(&record) {
                halvingRecord = record
                try store.save(self)
                ranks.barrier()
                let r = record.survivors.count - 1
                table.observer.note("rung \(r + 1)/\(record.rungSteps.count) (epoch \(ends[r])): \(kept.count) of \(before) children go on")
            }
            return record
        }, train: { going, r, until in
            table.setRung(r, of: going)
            try runner.train(children.filter { going.contains($0.name) }.map { $0.until(until) }, cancel: cancel, event: table.handle)
            return !table.rows.contains { $0.state == .failed }
        }, cancel: cancel)
        // Every child's state from its save: stopped at its rung, finished, or (interrupted) waiting.
        let epochsTrained = try table.settle(record, store: store, start: start, cancelled: cancel.isCancelled)
        let counts = [children.count] + record.survivors.map { $0.count }
        return "halving η=\(halving.eta): rungs at epoch \(ends.map(String.init).joined(separator: ", ")); children \(counts.map(String.init).joined(separator: " → ")); "
            + "\(epochsTrained) of \(children.count * epochs) child-epochs trained (\(Int((100 * Double(epochsTrained) / Double(max(1, children.count * epochs))).rounded()))%)"
    }
}

/// A sweep's rows as its children train: each event updates its child's
/// row (`Row.update(from:)`), and the observer hears it.
final class SweepTable {
    private(set) var rows: [SweepReport.Row]
    let observer: SweepObserver, perEpoch: Int

    /// A row per child, as its save says (kept when finished, waiting otherwise).
    init(_ children: [SweepChild], store: SessionStore, perEpoch: Int, observer: SweepObserver) throws {
        (self.perEpoch, self.observer) = (perEpoch, observer)
        rows = try children.map { child in
            var row = SweepReport.Row(session: child.name, child: child.shortName, kind: child.origin.kind, state: .waiting,
                                      step: child.origin.parentStep, targetStep: child.origin.targetStep, perEpoch: perEpoch)
            row.budget = child.origin.budget?.budget
            if let status = try store.sweepStatus(child.name) {
                guard status.origin == child.origin else { throw SweepConflict(child: child.name, found: status.origin) }
                row.update(from: status)
                if status.step >= child.origin.targetStep { row.state = .kept }
            }
            return row
        }
    }

    func row(_ session: String) -> SweepReport.Row { rows.first { $0.session == session }! }

    func handle(_ e: SweepEvent) {
        guard let k = rows.firstIndex(where: { $0.session == e.child }) else { return }
        rows[k].update(from: e)
        observer.event(rows[k], e)
        observer.rows(rows)
    }

    func setRungs(_ count: Int) { for k in rows.indices { rows[k].rungs = count } }

    func setRung(_ r: Int, of sessions: [String]) {
        for k in rows.indices where sessions.contains(rows[k].session) { rows[k].rung = r }
        observer.rows(rows)
    }

    /// After halving: each row from its save, stopped at its rung, finished, or (cancelled) interrupted; returns the child-epochs trained.
    func settle(_ record: HalvingRecord, store: SessionStore, start: Int, cancelled: Bool) throws -> Int {
        var epochs = 0
        for k in rows.indices {
            if let status = try store.sweepStatus(rows[k].session) { rows[k].update(from: status) }
            epochs += max(0, rows[k].step - start) / perEpoch
            if let stopped = record.stoppedAt(rows[k].session) {
                (rows[k].state, rows[k].rung) = (.stopped, stopped)
            } else if rows[k].step >= rows[k].targetStep && rows[k].state != .kept {
                rows[k].state = .finished
            } else if rows[k].state == .waiting || rows[k].state == .running {
                rows[k].state = cancelled ? .interrupted : rows[k].state
            }
        }
        observer.rows(rows)
        return epochs
    }
}

extension SweepReport.Row {
    /// What a child's event says: its step, accuracy and cost, and its state.
    mutating func update(from e: SweepEvent) {
        if e.step >= 0 { step = e.step }
        cost = e.cost ?? cost
        costName = e.costName ?? costName
        validationAccuracy = e.validationAccuracy ?? validationAccuracy
        switch e.kind {
        case .started, .progress, .epoch: state = .running
        case .rung: state = .waiting
        case .finished: state = .finished
        case .interrupted: state = .interrupted
        case .failed: (state, message) = (.failed, e.message ?? message)
        }
    }

    /// What a child's save says: its step, accuracy and cost.
    mutating func update(from status: SweepStatus) {
        (step, validationAccuracy, cost, costName) = (status.step, status.validationAccuracy, status.cost, status.costName)
    }
}

extension SweepChild {
    /// The same child, trained only to `step` (a rung's end).
    func until(_ step: Int) -> SweepChild {
        var c = self
        c.until = step
        return c
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

/// "1 worker", "2 workers".
func plural(_ n: Int, _ one: String, _ many: String? = nil) -> String { "\(n) " + (n == 1 ? one : many ?? one + "s") }
