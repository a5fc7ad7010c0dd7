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
    let usage = "set " + Settings.table.map(\.name).joined(separator: "|") + " <value> | set <name> <value>"
    let summary = "sets a hyper-parameter, or defines a variable used as $name"
    let example = "set lr 0.05"
    let details = (Settings.table.map { "\($0.name) \($0.help)" } + [
        "inline on|off|auto (auto)  pictures shown under their cell (kitty, iTerm2 or sixel terminals)",
        "Any other name defines a variable: set data ~/cifar-10-batches-bin, then load cifar10 $data.",
        "set alone lists the settings and variables.",
    ]).joined(separator: "\n")
    static let keys = Settings.table.map(\.name) + ["inline"]

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
        if let setting = Settings.named(key) { return try setting.set(value, in: nb.session) }
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
