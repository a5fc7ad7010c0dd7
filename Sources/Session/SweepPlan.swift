import Files
import Foundation
import Interface
import Tensor

/// A sweep recorded for a job array (`sweep … --plan`): the children in
/// index order. Task `i` of the array runs `bsn sweep-child <parent> i`,
/// which trains `children[i]` alone.
public struct SweepPlan: Codable, Sendable {
    public var children: [SweepChild]
    /// The grid's values, as the plan said them.
    public var grid: String
}

/// What `sweep … --plan` reports: the children, and the job array that runs them.
public struct SweepPlanReport: Output, Sendable {
    public let parent: String, grid: String, children: [String]
    /// `sbatch --array=0-(n-1)%k <script>`; with halving, one submission per rung, each after the one before.
    public let sbatch: String
    public let scriptName: String, script: String

    public var text: String {
        (["planned \(plural(children.count, "child", "children")) of '\(parent)' (grid: \(grid) = \(plural(children.count, "child", "children"))); nothing trained.",
          "Each child is one task of a job array, its index the child's number (0…\(children.count - 1)):", "",
          ] + sbatch.split(separator: "\n").map { "  " + $0 } + ["", "\(scriptName):"]
         + script.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
         + ["", "A rerun of an index continues its child from its last save; a second task on an index that is training exits at once;",
            "pareto shows the finished children at any time."]).joined(separator: "\n")
    }
}

extension Session {
    /// Records `request`'s children in this session, saved, for a job array:
    /// nothing is trained. The warm-up, when one is set, must be done first
    /// (each child starts from this session's weights). `executable` is the
    /// bsn the tasks run; `concurrent` bounds the tasks running at once (%k).
    public func planSweep(_ request: SweepRequest, store: SessionStore, executable: String, concurrent: Int) throws -> SweepPlanReport {
        let (_, trainer) = try requireModel()
        if case .budgets = request.grid, settings.warmupSteps > trainer.step {
            throw SessionError("the warm-up is not done (\(plural(settings.warmupSteps - trainer.step, "step")) to go) and --plan trains nothing: "
                               + "train \(settings.warmupSteps - trainer.step) steps first, then plan (every child starts from this session's weights)")
        }
        let children = try request.children(of: self)
        sweepPlan = SweepPlan(children: children, grid: request.values)
        var rungs = 1
        if let halving = request.halving {
            guard case .budgets = request.grid else { throw SessionError("halving= is for sweep budget (baselines all train in full)") }
            let record = try HalvingRecord(halving: halving, epochs: request.epochs, start: trainer.step, perEpoch: max(loader?.batchesPerEpoch ?? 1, 1),
                                           children: children.map(\.name))
            halvingRecord = record
            rungs = record.rungSteps.count
        }
        try store.save(self)
        let scriptName = "\(name)-tasks.sh"
        let cwd = FileManager.default.currentDirectoryPath
        let quote = { (s: String) in "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let script = """
        #!/bin/bash
        #SBATCH --job-name=\(name)
        #SBATCH --cpus-per-task=\(settings.threads)
        #SBATCH --output=\(name)-%A_%a.out
        # One child of the sweep of '\(name)' per task: SLURM_ARRAY_TASK_ID is its index.
        cd \(quote(cwd))
        export BSN_SESSIONS=\(quote(store.root.standardizedFileURL.path))
        exec \(quote(executable)) sweep-child \(quote(name)) "$SLURM_ARRAY_TASK_ID" --threads "${SLURM_CPUS_PER_TASK:-\(settings.threads)}"
        """
        let array = "--array=0-\(children.count - 1)%\(max(1, concurrent)) \(scriptName)"
        // Halving: one run of the array per rung, each after the one before (a task trains its child to the rung in
        // progress; the last to reach it decides who goes on and goes on; the children of the others wait for the next run).
        let sbatch = rungs == 1 ? "sbatch " + array
            : (["jid=$(sbatch --parsable \(array))                                   # rung 1 of \(rungs)"]
               + (2...rungs).map { "jid=$(sbatch --parsable --dependency=afterany:$jid \(array))   # rung \($0)" }).joined(separator: "\n")
        return SweepPlanReport(parent: name, grid: request.values, children: children.map(\.name),
                               sbatch: sbatch, scriptName: scriptName, script: script)
    }
}

/// A job-array task's life (`bsn sweep-child <parent> <index>`): it trains
/// one child of a planned sweep alone, printing a line per epoch.
///
/// The child's folder lock is taken first, without waiting: a second task on
/// the same index finds it held, says by whom, and ends with status 0 (the
/// lock is flock's: it dies with its process, so a crashed task leaves none).
/// A child already finished is left as it is; one started before continues
/// from its last save.
public enum SweepTask {
    public struct Outcome: Sendable {
        public let status: Int32, message: String
    }

    public static func run(store: SessionStore, parent: String, index: Int, threads: Int, cancel: Cancellation,
                           say: @escaping (String) -> Void) throws -> Outcome {
        guard store.exists(parent) else { throw SessionError("no session '\(parent)' in \(store.root.path) (the parent of a planned sweep)") }
        guard let plan = try store.readManifest(store.folder(parent)).sweepPlan else {
            throw SessionError("'\(parent)' has no planned sweep: sweep budget … --plan records one")
        }
        guard plan.children.indices.contains(index) else {
            throw SessionError("'\(parent)' plans \(plural(plan.children.count, "child", "children")) (indices 0…\(plan.children.count - 1)), not \(index)")
        }
        let child = plan.children[index]
        let dir = store.folder(child.name)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw SessionError("cannot create \(dir.path): \(error.localizedDescription)")
        }
        let lock: FolderLock
        do { lock = try FolderLock(dir.path, wait: 0) } catch let busy as FolderLock.Busy {
            return Outcome(status: 0, message: "\(child.name) (index \(index)) is being trained by \(busy.holder ?? "another process"): nothing for this task to do")
        }
        if let status = try store.sweepStatus(child.name), status.step >= child.origin.targetStep {
            return Outcome(status: 0, message: "\(child.name) (index \(index)) is finished (step \(status.step)): nothing for this task to do")
        }
        var last: SweepEvent?
        func train(until: Int?) throws {
            var c = child
            c.until = until
            try store.runSweepChild(c, threads: threads, cancel: cancel, holding: lock) { e in
                last = e
                guard e.kind != .progress else { return }
                say("\(child.name): \(e.kind.rawValue), step \(e.step)/\(e.targetStep)"
                    + (e.validationAccuracy.map { ", val acc " + Format.fixed($0, 3) } ?? "") + (e.cost.map { ", \(e.costName ?? "cost") " + Format.quantity($0) } ?? ""))
            }
        }
        let halving = try store.readManifest(store.folder(parent)).halving.flatMap { $0.children == plan.children.map(\.name) ? $0 : nil }
        guard halving != nil else {
            try train(until: nil)
            let done = (last?.step ?? 0) >= child.origin.targetStep
            return Outcome(status: done ? 0 : 130, message: done ? "\(child.name) (index \(index)) finished"
                           : "\(child.name) (index \(index)) stopped at step \(last?.step ?? 0), saved: rerun the index to continue")
        }
        // Halving: rung by rung. A rung every child going on has reached is decided (under the parent's lock, by the
        // first task to find it complete); this child then trains to the rung in progress, unless it stopped or waits there.
        var record: HalvingRecord?
        let end = try store.halve([child.name], decide: {
            let decided = try decideRungs(store: store, parent: parent)
            record = decided
            return decided
        }, train: { _, _, until in
            try train(until: until)
            return true
        }, cancel: cancel)
        switch end {
        case .finished:
            return Outcome(status: 0, message: "\(child.name) (index \(index)) finished")
        case .stopped(let rung):
            return Outcome(status: 0, message: "\(child.name) (index \(index)) was stopped by halving after rung \(rung + 1): nothing for this task to do")
        case .waiting(let r):
            let record = record!
            let there = try record.alive.filter { (try store.sweepStatus($0)?.step ?? 0) >= record.rungSteps[r] }.count
            return Outcome(status: 0, message: "\(child.name) (index \(index)) reached rung \(r + 1) of \(record.rungSteps.count) and waits for the others "
                           + "(\(there) of \(record.alive.count) there): the array's next run goes on after the rung's decision")
        case .interrupted:
            return Outcome(status: 130, message: "\(child.name) (index \(index)) stopped at step \(last?.step ?? 0), saved: rerun the index to continue")
        }
    }

    /// The parent's halving record with every complete rung decided: under the parent's lock (waiting for
    /// another task that holds it), decided rungs are read back and the rung in progress is decided when complete.
    private static func decideRungs(store: SessionStore, parent: String) throws -> HalvingRecord {
        let s = try store.open(parent, access: .requireWrite)
        guard var record = s.halvingRecord else { throw SessionError("'\(parent)' has no halving record") }
        var changed = false
        while try store.decideRung(&record) != nil { changed = true }
        if changed {
            s.halvingRecord = record
            try store.save(s)
        }
        return record
    }
}
