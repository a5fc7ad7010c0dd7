import Files
import Foundation
import Interface
import SuperNet
import Tensor

/// Where a child of a sweep came from, saved in its manifest: the parent
/// session and the step it started from, what it changes, and where it ends.
/// A rerun of the same sweep recognises its children by it.
public struct SweepOrigin: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// A budgeted search from the parent's weights (its gates reset to p ≈ 0.95 if they had moved).
        case search
        /// A fixed baseline trained from scratch on the parent's data and settings.
        case baseline
    }
    public var kind: Kind
    public var parent: String
    public var parentStep: Int
    /// Search children: the cost, the budget C and λ.
    public var budget: BudgetSpec?
    /// Baselines: the fabric trained.
    public var fabric: Fabric?
    /// Reseeds the child (`set seed`); nil keeps the parent's generators.
    public var seed: UInt64?
    /// The child is finished at this step.
    public var targetStep: Int

    public init(kind: Kind, parent: String, parentStep: Int, budget: BudgetSpec? = nil, fabric: Fabric? = nil, seed: UInt64? = nil, targetStep: Int) {
        (self.kind, self.parent, self.parentStep, self.budget, self.fabric, self.seed, self.targetStep) = (kind, parent, parentStep, budget, fabric, seed, targetStep)
    }
}

/// One run of a sweep: a session of its own, named after its parameters
/// (`<parent>.flops-4M.lambda-1e-07.seed-1`, `<parent>.flops-4M.lambda-1e-07.abs` for
/// a mode other than max, `<parent>.cnf-W4-S4-C16`).
public struct SweepChild: Codable, Sendable {
    public var name: String
    public var origin: SweepOrigin
    /// Train only up to this step in this run (a rung of a halving sweep); nil: to `origin.targetStep`.
    public var until: Int?

    /// The name's part after the parent's ("flops-4M.lambda-1e-07").
    public var shortName: String {
        name.hasPrefix(origin.parent + ".") ? String(name.dropFirst(origin.parent.count + 1)) : name
    }
}

/// What a sweep varies.
public enum SweepGrid {
    /// Every budget C × every λ, on one cost.
    case budgets(cost: any CostChoice, limits: [Double], lambdas: [Double], mode: Budget.Mode)
    /// Fixed networks (`gated` false), trained for as many steps as a search child.
    case baselines([Fabric])
}

/// A sweep: the grid, the seeds (nil: the parent's generators), the epochs
/// each child trains after the parent's state, and the worker processes.
public struct SweepRequest {
    public var grid: SweepGrid
    public var seeds: [UInt64]?
    public var epochs: Int
    public var workers: Int
    /// Successive halving (budget grids): nil trains every child for `epochs`.
    public var halving: Halving?

    public init(grid: SweepGrid, seeds: [UInt64]? = nil, epochs: Int, workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        (self.grid, self.seeds, self.epochs, self.workers) = (grid, seeds, epochs, workers)
    }
}

/// What a running child tells the sweep (a worker prints one per line, as JSON).
/// A sweep child as its save says it is (`SessionStore.sweepStatus`).
struct SweepStatus {
    var origin: SweepOrigin?
    var step: Int
    var validationAccuracy: Double?
    /// The reported cost of the deterministic architecture, and its name (flops when no budget is set).
    var cost: Double?, costName: String
}

public struct SweepEvent: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case started, progress, epoch, finished, interrupted, failed
        /// It reached the end of its rung (`SweepChild.until`) and waits for the rung's decision.
        case rung
    }
    public var kind: Kind
    public var child: String
    /// The child's step (−1: not known, when the sweep says a worker failed).
    public var step: Int
    public var targetStep: Int
    public var validationAccuracy: Double?
    /// The optimised cost of the deterministic architecture, and its name.
    public var cost: Double?
    public var costName: String?
    public var message: String?
}

extension SweepRequest {
    /// The values the grid takes, for the user: "budgets 2M, 4M, 8M × λ 1e-08, 1e-07 × seeds 1, 2, 3".
    public var values: String {
        var axes = [String]()
        switch grid {
        case let .budgets(_, limits, lambdas, _):
            axes.append((limits.count == 1 ? "budget " : "budgets ") + limits.map { Format.quantity($0) }.joined(separator: ", "))
            axes.append("λ " + lambdas.map { String(format: "%.3g", $0) }.joined(separator: ", "))
        case .baselines(let fabrics):
            axes.append(fabrics.map(\.summary).joined(separator: ", "))
        }
        if let seeds { axes.append((seeds.count == 1 ? "seed " : "seeds ") + seeds.map(String.init).joined(separator: ", ")) }
        return axes.joined(separator: " × ")
    }

    /// The children of this request for `parent` at its current state.
    public func children(of parent: Session) throws -> [SweepChild] {
        let (network, trainer) = try parent.requireModel()
        guard let loader = parent.loader else { throw SessionError("no dataset loaded (e.g. load shapes)") }
        guard (1...Settings.maxEpoch).contains(epochs) else { throw SessionError("epochs= must be in 1…\(Settings.maxEpoch), got \(epochs)") }
        let perEpoch = max(loader.batchesPerEpoch, 1)
        let target = trainer.step + epochs * perEpoch
        let seedList: [UInt64?] = seeds.map { $0.map(Optional.some) } ?? [nil]
        func seedPart(_ seed: UInt64?) -> String { seed.map { ".seed-\($0)" } ?? "" }
        var children = [SweepChild]()
        switch grid {
        case let .budgets(cost, limits, lambdas, mode):
            guard network.gateCount > 0, parent.modelSpec?.fixedGates == nil else {
                throw SessionError("\(parent.modelSpec?.fabric.summary ?? "this model") has no gates to search: build a B-CNF or a B-ResNet Fabric (sweep baselines trains fixed networks)")
            }
            for limit in limits {
                for lambda in lambdas {
                    for seed in seedList {
                        let budget = BudgetSpec(cost: cost, budget: Budget(limit: limit, lambda: lambda, mode: mode))
                        let name = "\(parent.name).\(cost.name)-\(Format.quantity(limit, exact: true)).lambda-\(String(format: "%g", lambda))"
                            + (mode == .max ? "" : ".\(mode.rawValue)") + seedPart(seed)      // max: the names of sweeps before modes were named
                        children.append(SweepChild(name: name, origin: SweepOrigin(kind: .search, parent: parent.name, parentStep: trainer.step,
                                                                                   budget: budget, seed: seed, targetStep: target)))
                    }
                }
            }
        case .baselines(let fabrics):
            // As many steps as a search child has had in all, from scratch.
            for fabric in fabrics {
                try fabric.validate()
                for seed in seedList {
                    children.append(SweepChild(name: "\(parent.name).\(fabric.tag)" + seedPart(seed),
                                               origin: SweepOrigin(kind: .baseline, parent: parent.name, parentStep: trainer.step,
                                                                   fabric: fabric, seed: seed, targetStep: target)))
                }
            }
        }
        for child in children { try SessionStore.check(name: child.name) }
        let names = children.map(\.name)
        if let repeated = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
            throw SessionError("the grid names '\(repeated)' twice (a value given twice?)")
        }
        return children
    }
}

extension Fabric {
    static let maxSpaceTag = 60

    /// A short name-safe tag: "cnf-W4-S4-C16", "resnet-20", "resnet-fabric-k3-n3", "space-unet-C8-depth2".
    var tag: String {
        switch self {
        case let .cnf(w, s, c, segmentation, gated):
            return "\(segmentation ? "cnf-seg" : "cnf")-W\(w)-S\(s)-C\(c)" + (gated ? "-gated" : "")
        case let .resnet(k, n, shortcuts, gated):
            if !shortcuts && !gated && k == 3 { return "resnet-\(6 * n + 2)" }
            return "resnet-fabric-k\(k)-n\(n)" + (gated ? "-gated" : "")
        case let .space(source):
            let values = (try? source.expansion().parameters) ?? source.given
            let name = source.name.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" }
            let tag = "space-\(String(name))" + values.sorted { $0.key < $1.key }.map { "-\($0.key)\($0.value)" }.joined() + (source.gated ? "-gated" : "")
            // A long name or many parameters: cut, with the whole tag's checksum, so that a child's name stays a session name (≤ 100 characters).
            guard tag.count > Self.maxSpaceTag else { return tag }
            return String(tag.prefix(Self.maxSpaceTag - 9)) + "-" + String(format: "%08x", CRC32.of(Data(tag.utf8)))
        }
    }
}

extension SessionStore {
    /// Makes a child from its parent's save: the parent's data, model,
    /// weights, optimizer and settings, then what the child changes.
    public func makeChild(_ child: SweepChild, threads: Int) throws -> Session {
        let origin = child.origin
        let s = try open(origin.parent, access: .read)
        guard let trainer = s.trainer, trainer.step == origin.parentStep else {
            throw SessionError("'\(origin.parent)' is at step \(s.trainer?.step ?? 0), not \(origin.parentStep) where this sweep started it: run the sweep again from it")
        }
        s.name = child.name
        s.origin = origin
        if let seed = origin.seed { s.reseed(seed) }
        switch origin.kind {
        case .search:
            guard let spec = origin.budget else { throw SessionError("\(child.name): a search child without a budget") }
            try s.budget(spec.cost, spec.budget)
            // The paper's reset: gates back to p ≈ 0.95 when the parent had moved them.
            if trainer.samplingStarted { trainer.startSampling(logit: 3) }
        case .baseline:
            guard let fabric = origin.fabric else { throw SessionError("\(child.name): a baseline without a fabric") }
            try s.build(fabric, mode: s.modelSpec?.mode ?? .subBatch)
        }
        try s.setThreads(threads)
        return s
    }

    /// Runs one child to its target step, in this process: made from the
    /// parent (on `threads` threads) if it does not exist yet, else continued
    /// from its last save (on the threads it started with, so that the
    /// result is the same, bit for bit).
    /// Saves after every epoch and when stopped; `event` hears its progress.
    /// `holding`: the child's folder lock, when the caller took it first (a job-array task).
    public func runSweepChild(_ child: SweepChild, threads: Int, cancel: Cancellation, holding: FolderLock? = nil,
                              event: @escaping (SweepEvent) -> Void) throws {
        let s: Session
        if exists(child.name) {
            s = try open(child.name, access: .requireWrite, holding: holding)
            guard s.origin == child.origin else { throw SweepConflict(child: child.name, found: s.origin) }
            // It keeps the thread count it started with: sums split across threads round differently.
        } else {
            s = try makeChild(child, threads: threads)
            if let holding { s.lock = holding }
            try save(s)
        }
        // A child trains alone in its process (under mpirun: one child per rank).
        s.splitsBatchesAcrossRanks = false
        let (network, trainer) = try s.requireModel()
        let target = child.origin.targetStep
        func report(_ kind: SweepEvent.Kind, validation: Double? = nil, message: String? = nil) {
            let cost = s.reportedCost!
            event(SweepEvent(kind: kind, child: child.name, step: trainer.step, targetStep: target, validationAccuracy: validation,
                             cost: cost.cost(of: network.deterministicArchitecture), costName: cost.name, message: message))
        }
        report(.started, validation: s.epochs.last?.validationAccuracy)
        let perEpoch = max(s.loader?.batchesPerEpoch ?? 1, 1)
        var lastProgress = Date()
        var observer = TrainingObserver()
        observer.step = { _, _, _, _ in
            if Date().timeIntervalSince(lastProgress) >= 1 { lastProgress = Date(); report(.progress) }
        }
        observer.epoch = { row in report(.epoch, validation: row.validationAccuracy) }
        // One epoch at a time, saved after each: a killed sweep loses at most an epoch per child.
        let end = min(child.until ?? target, target)
        while trainer.step < end && !cancel.isCancelled {
            let steps = min(perEpoch - trainer.step % perEpoch, end - trainer.step)
            do {
                try s.train(.steps(steps), validate: true, cancel: cancel, observer: observer, autosave: self)
            } catch let stopped as TrainingStopped {
                report(.failed, message: stopped.description)
                throw stopped
            }
        }
        report(trainer.step >= target ? .finished : trainer.step >= end ? .rung : .interrupted, validation: s.epochs.last?.validationAccuracy)
    }

    /// A child's origin, step, last validation accuracy and cost from its manifest, without opening it (nil: no such session).
    func sweepStatus(_ name: String) throws -> SweepStatus? {
        guard exists(name) else { return nil }
        let m = try readManifest(folder(name))
        return SweepStatus(origin: m.origin, step: m.trainer?.step ?? 0, validationAccuracy: m.lastValidationAccuracy, cost: m.cost,
                           costName: m.costName ?? "flops")
    }
}

/// A session of a child's name exists but was not made by this sweep.
public struct SweepConflict: Error, CustomStringConvertible {
    public let child: String, found: SweepOrigin?
    public var description: String {
        guard let found else { return "a session named '\(child)' exists and is not a sweep's child: rename or remove it (sessions/\(child))" }
        return "'\(child)' exists from step \(found.parentStep) of '\(found.parent)'" + (found.targetStep > 0 ? " (to step \(found.targetStep))" : "")
            + ", not from this sweep's start: remove the old children (sessions/\(found.parent).*) or sweep from a session saved under a new name"
    }
}
