import Datasets
import Foundation
import Interface
import Session
import SuperNet
import Tensor

struct SetCommand: Command {
    let name = "set"
    let group = CommandGroup.training
    let effect: CommandEffect = .changesState
    let usage = "set lr|path-lr|momentum|wd|batch|seed|threads|sampling|nesterov|sync-bn|allreduce-bucket|tensorboard <value> | set <name> <value>"
    let summary = "sets a hyper-parameter, or defines a variable used as $name"
    let example = "set lr 0.05"
    let details = """
    lr (0.1)        weight learning rate (a schedule overrides it)
    path-lr (1e-3)  learning rate of the gate logits (REINFORCE)
    momentum (0.9)  SGD momentum;  wd (5e-4) weight decay;  nesterov yes|no (no)
    batch (64)      batch size;    threads (all cores)
    seed (1)        reseeds the session's generator and the trainer's
    sampling example|batch (example)  one architecture per example, or per batch
    sync-bn on|off (off)  under mpirun: batch-norm statistics over the whole batch, not each rank's rows
    allreduce-bucket <bytes>|auto|off (auto: gradients × ranks / 32, 256k…25M)  under mpirun: gradients
                    all-reduced in buckets of this size during backward; off: in one all-reduce after it
    tensorboard <folder>|off (off)  training writes TensorBoard logs to <folder>/<session name>
    inline on|off|auto (auto)  pictures shown under their cell (kitty, iTerm2 or sixel terminals)
    Any other name defines a variable: set data ~/cifar-10-batches-bin, then load cifar10 $data.
    set alone lists the settings and variables.
    """
    static let keys = Setting.allCases.map(\.rawValue) + ["inline"]

    /// `set` alone: the session's settings and variables, and the notebook's picture setting.
    struct Listing: Output {
        let session: SettingsReport, inline: String, terminalImages: String?
        var text: String { session.text + "\ninline pictures \(inline) (this terminal: \(terminalImages ?? "no images"))" }
    }
    var words: [String] { Self.keys }

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        guard let key = a.next() else {
            try a.finish()
            return Listing(session: nb.session.settingsReport, inline: nb.inlinePictures.rawValue, terminalImages: nb.terminalImages?.rawValue)
        }
        let value = try a.required("a value for \(key)")
        try a.finish()
        if let setting = Setting(rawValue: key) { return try nb.session.set(try SettingValue(setting, parsing: value), written: value) }
        if key == "inline" {
            guard let mode = InlinePictures(rawValue: value) else { throw UsageError("set inline: expected on, off or auto, got '\(value)'") }
            nb.inlinePictures = mode
            return Message("inline = \(value)" + (mode == .auto ? " (this terminal: \(nb.terminalImages?.rawValue ?? "no images"))" : ""))
        }
        guard key.first?.isLetter == true, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw UsageError("set: '\(key)' is neither a setting (\(Self.keys.joined(separator: ", "))) nor a valid variable name")
        }
        nb.session.define(key, as: value)
        var text = "$\(key) = \(value)"
        if let close = nearest(key, in: Self.keys), close != key, key.count <= 8 {
            text = "(defining variable $\(key); did you mean the setting '\(close)'?)\n" + text
        }
        return Message(text)
    }
}

struct ScheduleCommand: Command {
    let name = "schedule"
    let group = CommandGroup.training
    let effect: CommandEffect = .changesState
    let usage = "schedule <lr> [@<epoch>:<lr> …]"
    let summary = "piecewise-constant learning rate by epoch"
    let example = "schedule 0.1 @150:0.01 @225:0.001"

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let first = try a.required("the initial learning rate")
        let lr = Settings.learningRateRange
        guard let initial = parseNumber(first), lr.contains(initial) else {
            throw UsageError("schedule: expected a learning rate in [0, \(String(format: "%g", lr.upperBound))], got '\(first)'")
        }
        var changes = [(epoch: Int, learningRate: Double)]()
        while let w = a.next() {
            let parts = w.dropFirst().split(separator: ":")
            guard w.hasPrefix("@"), parts.count == 2, let at = parseWhole(String(parts[0])), (0...Settings.maxEpoch).contains(at),
                  let v = parseNumber(String(parts[1])), lr.contains(v) else {
                throw UsageError("schedule: expected @<epoch>:<lr> like @150:0.01 (epoch 0…\(Settings.maxEpoch), lr in [0, \(String(format: "%g", lr.upperBound))]), got '\(w)'")
            }
            changes.append((at, v))
        }
        try a.finish()
        return try nb.session.setSchedule(initial: initial, changes: changes)
    }
}

/// "10 epochs" or "200 steps" (steps when no unit is given).
func parseLength(_ a: inout Arguments) throws -> TrainingLength {
    let countWord = try a.required("a length like 10 epochs or 200 steps")
    guard let n = parseWhole(countWord), n >= 0 else { throw UsageError("\(a.command): expected a whole number of steps or epochs, got '\(countWord)'") }
    let unit = a.next() ?? "steps"
    switch unit {
    case "step", "steps": return .steps(n)
    case "epoch", "epochs": return .epochs(n)
    default: throw UsageError("\(a.command): expected steps or epochs after \(n), got '\(unit)'")
    }
}

struct WarmupCommand: Command {
    let name = "warmup"
    let group = CommandGroup.training
    let effect: CommandEffect = .changesState
    let usage = "warmup <n> epochs|steps"
    let summary = "the first n steps train with every gate on; sampling starts after"
    let example = "warmup 2 epochs"
    let words = ["epochs", "steps"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let length = try parseLength(&a)
        try a.finish()
        return try nb.session.setWarmup(length)
    }
}

struct TrainCommand: Command {
    let name = "train"
    let group = CommandGroup.training
    let effect: CommandEffect = .changesState
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

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let length = try parseLength(&a)
        let validate = !a.flag("no-val")
        try a.finish()
        let observer = trainingObserver(nb)
        defer { nb.console.endProgress() }
        // The token stays cancelled after Ctrl-C: a script stops after this command.
        return try nb.session.train(length, validate: validate, cancel: nb.freshCancellation, observer: observer, autosave: nb.store)
    }
}

/// What `train` (and a sweep's warm-up) shows while it runs: the epoch table's
/// header, a progress bar per step, a row per epoch.
func trainingObserver(_ nb: Notebook) -> TrainingObserver {
    if let listener = nb.listener { return LiveTraining(nb, listener).observer }
    var observer = TrainingObserver(), columns = TrainingReport.Columns(costName: "flops", searching: true, segmentation: false)
    var table = TrainingReport.table(columns)
    observer.begin = { c in
        columns = c
        table = TrainingReport.table(c)
        nb.live(table.header)
    }
    observer.step = { m, done, steps, elapsed in
        let eta = elapsed / Double(done) * Double(steps - done)
        let width = 24, filled = width * done / max(steps, 1)
        nb.console.progress("[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
                            + String(format: "%d/%d  loss %.3f  acc %.3f  %@ %@  ETA %@", done, steps, m.loss, m.accuracy,
                                     columns.costName, Format.quantity(columns.searching ? m.sampledCost : m.deterministicCost), Format.duration(eta)))
    }
    observer.validation = { done, total in nb.console.progress("validating \(done)/\(total) batches") }
    observer.epoch = { row in nb.live(table.line(row.cells(columns))) }
    return observer
}

struct EvalCommand: Command {
    let name = "eval"
    let group = CommandGroup.training
    let effect: CommandEffect = .changesState
    let usage = "eval val|test|train [--sampled] [--json]"
    let summary = "loss and accuracy of the deterministic architecture on a split (segmentation: per-class accuracy, mean IoU)"
    let example = "eval test"
    let words = ["val", "test", "train", "--sampled", "--json"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let split = try Split(parsing: a.next() ?? "val")
        let sampled = a.flag("sampled")
        try a.finish()
        defer { nb.console.endProgress() }
        return try nb.session.evaluate(split, sampled: sampled, cancel: nb.freshCancellation) { done, total in
            nb.console.progress("evaluating \(done)/\(total) batches")
        }
    }
}

extension SettingValue {
    /// The user's word for a setting's value, as its type (bounds are the Session's to check).
    init(_ setting: Setting, parsing word: String) throws {
        let name = setting.rawValue
        func number() throws -> Double {
            guard let x = parseNumber(word) else { throw SettingValue.outOfRange(setting, written: word) }
            return x
        }
        func whole(_ range: ClosedRange<Int>) throws -> Int {
            guard let n = parseWhole(word), range.contains(n) else {
                throw SessionError("\(name): expected a whole number in \(Interface.describe(range)), got '\(word)'")
            }
            return n
        }
        func choice(_ yes: String, _ no: String) throws -> Bool {
            guard word == yes || word == no else { throw SessionError("\(name): expected \(yes) or \(no)") }
            return word == yes
        }
        switch setting {
        case .learningRate: self = .learningRate(try number())
        case .pathLearningRate: self = .pathLearningRate(try number())
        case .momentum: self = .momentum(try number())
        case .weightDecay: self = .weightDecay(try number())
        case .batch: self = .batch(try whole(Settings.batchRange))
        case .threads: self = .threads(try whole(Settings.threadRange))
        case .seed: self = .seed(UInt64(try whole(0...Int.max)))
        case .sampling:
            guard let m = Sampling(rawValue: word) else { throw SessionError("sampling: expected example or batch, got '\(word)'") }
            self = .sampling(m)
        case .nesterov: self = .nesterov(try choice("yes", "no"))
        case .syncBatchNorm: self = .syncBatchNorm(try choice("on", "off"))
        case .tensorboard: self = .tensorboard(word == "off" ? nil : word)
        case .allreduceBucket:
            if word == "off" || word == "auto" { self = .allreduceBucket(word == "off" ? 0 : nil); return }
            guard let bytes = parseWhole(word), Settings.allreduceBucketRange.contains(bytes) else {
                throw SessionError("allreduce-bucket: expected a size in bytes from 4k to 4G (for example 1M or 25M), auto or off, got '\(word)'")
            }
            self = .allreduceBucket(bytes)
        }
    }
}
