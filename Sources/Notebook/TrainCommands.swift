import Datasets
import Foundation
import Layers
import Session
import SuperNet
import Tensor

struct SetCommand: Command {
    let name = "set"
    let usage = "set lr|path-lr|momentum|wd|batch|seed|threads|sampling|nesterov <value> | set <name> <value>"
    let summary = "sets a hyper-parameter, or defines a variable used as $name"
    let example = "set lr 0.05"
    let details = """
    lr (0.1)        weight learning rate (a schedule overrides it)
    path-lr (1e-3)  learning rate of the gate logits (REINFORCE)
    momentum (0.9)  SGD momentum;  wd (5e-4) weight decay;  nesterov yes|no (no)
    batch (64)      batch size;    threads (all cores)
    seed (1)        reseeds the session's generator and the trainer's
    sampling example|batch (example)  one architecture per example, or per batch
    Any other name defines a variable: set data ~/cifar-10-batches-bin, then load cifar10 $data.
    set alone lists the settings and variables.
    """
    static let keys = ["lr", "path-lr", "momentum", "wd", "batch", "seed", "threads", "sampling", "nesterov"]
    var words: [String] { Self.keys }

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        guard let key = a.next() else {
            try a.finish()
            let s = nb.session.settings
            var lines = [String(format: "lr %g, path-lr %g, momentum %g, wd %g, nesterov %@, batch %d, seed %llu, threads %d, sampling per %@",
                                s.learningRate, s.pathLearningRate, s.momentum, s.weightDecay, s.nesterov ? "yes" : "no", s.batch, s.seed,
                                s.threads, s.sampling.rawValue)]
            if let schedule = s.schedule { lines.append("schedule " + ScheduleCommand.describe(schedule)) }
            if s.warmupSteps > 0 { lines.append("warm-up \(s.warmupSteps) steps") }
            for (k, v) in nb.session.variables.sorted(by: { $0.key < $1.key }) { lines.append("$\(k) = \(v)") }
            nb.console.print(lines.joined(separator: "\n"))
            return
        }
        let value = try a.required("a value for \(key)")
        try a.finish()
        let s = nb.session
        func number(_ range: ClosedRange<Double>) throws -> Float {
            guard let x = parseNumber(value), range.contains(x) else {
                throw UsageError("set \(key): expected a number in [\(String(format: "%g", range.lowerBound)), \(String(format: "%g", range.upperBound))], got '\(value)'")
            }
            return Float(x)
        }
        func whole(_ range: ClosedRange<Int>) throws -> Int {
            guard let n = parseWhole(value), range.contains(n) else { throw UsageError("set \(key): expected a whole number in \(describe(range)), got '\(value)'") }
            return n
        }
        switch key {
        case "lr":
            s.settings.learningRate = try number(Settings.learningRateRange)
            s.settings.schedule = nil
        case "path-lr": s.settings.pathLearningRate = try number(Settings.pathLearningRateRange)
        case "momentum":
            guard let m = parseNumber(value), m >= 0, Float(m) < 1 else { throw UsageError("set momentum: expected a number in [0, 1), got '\(value)'") }
            s.settings.momentum = Float(m)
        case "wd": s.settings.weightDecay = try number(Settings.weightDecayRange)
        case "batch": try s.setBatch(try whole(Settings.batchRange))
        case "threads": try s.setThreads(try whole(Settings.threadRange))
        case "seed":
            let seed = UInt64(try whole(0...Int.max))
            s.settings.seed = seed
            s.rng = RNG(seed: seed)
            s.trainer?.rng = RNG(seed: seed &+ 1)
        case "sampling":
            guard let m = Sampling(rawValue: value) else { throw UsageError("set sampling: expected example or batch, got '\(value)'") }
            s.settings.sampling = m
        case "nesterov":
            guard ["yes", "no"].contains(value) else { throw UsageError("set nesterov: expected yes or no") }
            s.settings.nesterov = value == "yes"
        default:
            guard key.first?.isLetter == true, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw UsageError("set: '\(key)' is neither a setting (\(Self.keys.joined(separator: ", "))) nor a valid variable name")
            }
            if let close = nearest(key, in: Self.keys), close != key, key.count <= 8 {
                nb.console.print("(defining variable $\(key); did you mean the setting '\(close)'?)")
            }
            s.variables[key] = value
            nb.console.print("$\(key) = \(value)")
            return
        }
        s.applySettings()
        nb.console.print("\(key) = \(value)")
    }
}

struct ScheduleCommand: Command {
    let name = "schedule"
    let usage = "schedule <lr> [@<epoch>:<lr> …]"
    let summary = "piecewise-constant learning rate by epoch"
    let example = "schedule 0.1 @150:0.01 @225:0.001"

    static func describe(_ s: PiecewiseConstantSchedule) -> String {
        ([String(format: "%g", s.initial)] + s.changes.map { String(format: "@%d:%g", $0.at, $0.value) }).joined(separator: " ")
    }

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let first = try a.required("the initial learning rate")
        let lr = Settings.learningRateRange
        guard let initial = parseNumber(first), lr.contains(initial) else {
            throw UsageError("schedule: expected a learning rate in [0, \(String(format: "%g", lr.upperBound))], got '\(first)'")
        }
        var changes = [PiecewiseConstantSchedule.Change]()
        while let w = a.next() {
            let parts = w.dropFirst().split(separator: ":")
            guard w.hasPrefix("@"), parts.count == 2, let at = parseWhole(String(parts[0])), (0...Settings.maxEpoch).contains(at),
                  let v = parseNumber(String(parts[1])), lr.contains(v) else {
                throw UsageError("schedule: expected @<epoch>:<lr> like @150:0.01 (epoch 0…\(Settings.maxEpoch), lr in [0, \(String(format: "%g", lr.upperBound))]), got '\(w)'")
            }
            changes.append(.init(at: at, value: Float(v)))
        }
        try a.finish()
        let schedule = PiecewiseConstantSchedule(initial: Float(initial), changes: changes)
        nb.session.settings.schedule = schedule
        nb.session.settings.learningRate = Float(initial)
        nb.session.applySettings()
        nb.console.print("schedule: " + Self.describe(schedule) + " (epochs)")
    }
}

/// "10 epochs" or "200 steps" → steps.
func parseLength(_ a: inout Arguments, _ nb: Notebook, _ what: String) throws -> Int {
    let countWord = try a.required("a length like 10 epochs or 200 steps")
    guard let n = parseWhole(countWord), (0...Settings.maxSteps).contains(n) else {
        throw UsageError("\(a.command): expected a whole number of \(what) in 0…\(Settings.maxSteps), got '\(countWord)'")
    }
    let unit = a.next() ?? "steps"
    switch unit {
    case "step", "steps": return n
    case "epoch", "epochs":
        guard let loader = nb.session.loader else { throw UsageError("\(a.command): epochs need a dataset: load one first") }
        let (steps, overflow) = n.multipliedReportingOverflow(by: max(loader.batchesPerEpoch, 1))
        guard !overflow, steps <= Settings.maxSteps else { throw UsageError("\(a.command): \(n) epochs are more than \(Settings.maxSteps) steps") }
        return steps
    default: throw UsageError("\(a.command): expected steps or epochs after \(n), got '\(unit)'")
    }
}

struct WarmupCommand: Command {
    let name = "warmup"
    let usage = "warmup <n> epochs|steps"
    let summary = "the first n steps train with every gate on; sampling starts after"
    let example = "warmup 2 epochs"
    let words = ["epochs", "steps"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let steps = try parseLength(&a, nb, "steps or epochs")
        try a.finish()
        nb.session.settings.warmupSteps = steps
        nb.session.applySettings()
        let done = nb.session.trainer?.step ?? 0
        nb.console.print("warm-up: the first \(steps) steps with every gate on" + (done > 0 ? " (\(done) steps done)" : ""))
    }
}

struct TrainCommand: Command {
    let name = "train"
    let usage = "train <n> epochs|steps [--no-val]"
    let summary = "trains weights and architecture; a row per epoch; Ctrl-C stops at the next batch"
    let example = "train 10 epochs"
    let details = """
    Each step: sample architectures, forward/backward on the modules they use, SGD on the
    weights, REINFORCE on the gate logits (after the warm-up). After each epoch: a table row
    with loss, accuracy, validation accuracy of the deterministic architecture, sampled and
    deterministic cost, mean gate entropy. The session is saved when training ends.
    """
    let words = ["epochs", "steps", "--no-val"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let (net, trainer) = try nb.requireModel("train")
        guard let loader = nb.session.loader, let dataset = nb.session.dataset else { throw UsageError("train: no dataset loaded") }
        let steps = try parseLength(&a, nb, "steps or epochs")
        let validate = !a.flag("no-val")
        try a.finish()
        nb.session.applySettings()
        let perEpoch = max(loader.batchesPerEpoch, 1)
        let costName = nb.session.optimisedCost?.name ?? "flops"
        nb.console.print(pad("epoch", 7) + padLeft("step", 8) + padLeft("lr", 8) + padLeft("loss", 9) + padLeft("acc", 8) + padLeft("val acc", 9)
                         + padLeft(costName + " (sampled)", 18) + padLeft("deterministic", 15) + padLeft("entropy", 9) + padLeft("s", 7))
        let start = Date()
        var epochStart = Date(), done = 0
        // Where the loader was before the step in progress: a diverged step gives its batch back.
        var position = loader.state
        var diverged: TrainingDiverged?
        Interrupt.clear()
        do {
            _ = try trainer.train(steps: steps, from: loader, onStep: { m in
                nb.session.steps.append(m)
                position = loader.state
                done += 1
                let elapsed = Date().timeIntervalSince(start), eta = elapsed / Double(done) * Double(steps - done)
                let width = 24, filled = width * done / max(steps, 1)
                nb.console.progress("[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
                                    + String(format: "%d/%d  loss %.3f  acc %.3f  %@ %@  ETA %@", done, steps, m.loss, m.accuracy, costName,
                                             human(m.sampledCost), duration(eta)))
                if Interrupt.requested { return false }
                return true
            }, onEpoch: { e in
                var e = e
                if validate && dataset.validation.count > 0 {
                    let batches = InterruptibleBatches(EvaluationBatches(dataset.validation, augmentation: dataset.augmentation,
                                                                         batchSize: max(nb.session.settings.batch, 32))) {
                        nb.console.progress("validating \($0)/\($1) batches")
                    }
                    let accuracy = (try? trainer.evaluate(batches))?.accuracy
                    e.validationAccuracy = batches.stoppedAfter == nil ? accuracy : nil
                }
                nb.session.epochs.append(e)
                nb.console.print(pad(String(e.epoch), 7) + padLeft(String(trainer.step), 8) + padLeft(String(format: "%.3g", trainer.optimizer.groups[0].learningRate), 8)
                                 + padLeft(decimal(e.loss), 9) + padLeft(String(format: "%.3f", e.accuracy), 8)
                                 + padLeft(e.validationAccuracy.map { String(format: "%.3f", $0) } ?? "-", 9)
                                 + padLeft(human(e.sampledCost), 18) + padLeft(human(e.deterministicCost), 15)
                                 + padLeft(String(format: "%.3f", e.gateEntropy), 9) + padLeft(String(format: "%.1f", Date().timeIntervalSince(epochStart)), 7))
                epochStart = Date()
            })
        } catch let error as TrainingDiverged {
            loader.restore(position)
            diverged = error
        }
        nb.console.endProgress()
        // The flag stays set: a script stops after this command (the REPL clears it at its next prompt).
        let interrupted = Interrupt.requested
        let last = nb.session.steps.last
        let r = net.report(nb.session.optimisedCost ?? FlopsCost(net))
        nb.console.print((diverged != nil ? "stopped after \(done) of \(steps) steps" : interrupted ? "interrupted after \(done) of \(steps) steps" : "trained \(done) steps")
                         + String(format: " in %@ (step %d, epoch %.2f); last loss %@, accuracy %.3f; %@ deterministic %@ (expected %@)",
                                  duration(Date().timeIntervalSince(start)), trainer.step, Double(trainer.step) / Double(perEpoch),
                                  decimal(last?.loss ?? .nan), last?.accuracy ?? .nan, r.name, human(r.deterministic), human(r.expected))
                         + (nb.session.budgetSpec.map { " vs budget \(human($0.budget.limit))" } ?? ""))
        // Training's work is kept whatever happened; a save that fails makes the command fail.
        do {
            try nb.save()
            nb.console.print("saved session '\(nb.session.name)'")
        } catch {
            throw UsageError("training's results are in memory but the autosave failed: \(error); save <new-name> keeps them")
        }
        if let diverged { throw diverged }
    }
}

/// Evaluation batches that end early when Ctrl-C is pressed (`stoppedAfter`
/// then says after how many), with a progress callback (done, total).
final class InterruptibleBatches: Sequence {
    let batches: EvaluationBatches
    let progress: (Int, Int) -> Void
    private(set) var stoppedAfter: Int?

    init(_ batches: EvaluationBatches, progress: @escaping (Int, Int) -> Void) {
        self.batches = batches
        self.progress = progress
    }

    func makeIterator() -> AnyIterator<(images: Tensor, labels: [Int32])> {
        let it = batches.makeIterator()
        var done = 0
        return AnyIterator { [self] in
            if Interrupt.requested { stoppedAfter = done; return nil }
            progress(done, batches.count)
            done += 1
            return it.next()
        }
    }
}

func duration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : String(format: "%.1fs", seconds)
}

struct EvalCommand: Command {
    let name = "eval"
    let usage = "eval val|test|train [--sampled] [--json]"
    let summary = "loss and accuracy of the deterministic architecture on a split (segmentation: per-class accuracy, mean IoU)"
    let example = "eval test"
    let words = ["val", "test", "train", "--sampled", "--json"]

    struct Output: Codable {
        let split: String, examples: Int, loss: Double, accuracy: Double
        let classAccuracy: [Double?], meanIoU: Double?, cost: Double, costName: String
    }

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let split = a.next() ?? "val"
        let sampled = a.flag("sampled"), json = a.flag("json")
        try a.finish()
        let (net, trainer) = try nb.requireModel("eval")
        guard let dataset = nb.session.dataset else { throw UsageError("eval: no dataset loaded") }
        let set = try dataset.split(split)
        guard set.count > 0 else { throw UsageError("eval: the \(split) split is empty") }
        Interrupt.clear()
        let batches = InterruptibleBatches(EvaluationBatches(set, augmentation: dataset.augmentation, batchSize: max(nb.session.settings.batch, 32))) {
            nb.console.progress("evaluating \($0)/\($1) batches")
        }
        let r = try trainer.evaluateInDetail(batches, classes: dataset.classNames.count, sampling: sampled)
        if let stopped = batches.stoppedAfter {
            throw UsageError("eval: interrupted after \(stopped) of \(batches.batches.count) batches; nothing recorded")
        }
        let cost = nb.session.optimisedCost ?? FlopsCost(net)
        let c = cost.cost(of: net.deterministicArchitecture)
        nb.session.evaluations.append(.init(step: trainer.step, split: split, loss: r.loss, accuracy: r.accuracy, cost: c))
        let out = Output(split: split, examples: r.examples, loss: r.loss, accuracy: r.accuracy, classAccuracy: r.classAccuracy,
                         meanIoU: dataset.isSegmentation ? r.meanIoU : nil, cost: c, costName: cost.name)
        if json { return try nb.printJSON(out) }
        var text = String(format: "%@ (%d images, %@ architecture): loss %@, %@accuracy %.4f; %@ %@",
                          split, r.examples, sampled ? "sampled" : "deterministic", decimal(r.loss), dataset.isSegmentation ? "pixel " : "", r.accuracy, cost.name, human(c))
        if dataset.isSegmentation {
            text += String(format: "; mean IoU %.4f; per class: ", r.meanIoU)
                + zip(dataset.classNames, r.classAccuracy).map { "\($0) \($1.map { String(format: "%.3f", $0) } ?? "-")" }.joined(separator: ", ")
        }
        nb.console.print(text)
    }
}
