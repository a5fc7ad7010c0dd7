import Foundation
import Interface
import Layers
import SuperNet
import Tensor

/// A training length as the user gives it: `10 epochs`, `200 steps`.
public enum TrainingLength: Sendable {
    case steps(Int), epochs(Int)
}

extension Session {
    /// Sets a hyper-parameter, within its bounds (`Settings.table`). `written` is the value
    /// as the user wrote it ("3.2e1"), for the messages; by default its `word`.
    @discardableResult
    public func set(_ value: SettingValue, written: String? = nil) throws -> Message {
        try value.apply(self, written ?? value.word)
    }

    /// The folder as an absolute path (sweep workers and later sessions may run elsewhere); refused when it exists and is no folder.
    static func tensorboardFolder(_ written: String) throws -> String {
        let path = URL(fileURLWithPath: (written as NSString).expandingTildeInPath).standardizedFileURL.path
        try TensorBoardRun.check(root: path, written: written)
        return path
    }

    /// Defines the script variable `$name`.
    public func define(_ name: String, as value: String) {
        variables[name] = value
    }

    /// Reseeds the session's generator and the trainer's.
    public func reseed(_ seed: UInt64) {
        settings.seed = seed
        rng = RNG(seed: seed)
        trainer?.rng = RNG(seed: seed &+ 1)
    }

    public var settingsReport: SettingsReport {
        SettingsReport(settings: settings, schedule: settings.schedule.map(Self.describe), variables: variables)
    }

    /// A piecewise-constant learning rate: `initial`, then each change from its epoch on.
    @discardableResult
    public func setSchedule(initial: Double, changes: [(epoch: Int, learningRate: Double)]) throws -> Message {
        let lr = Settings.learningRateRange
        guard lr.contains(initial) else { throw SessionError("the learning rate must be in [0, \(String(format: "%g", lr.upperBound))], got \(initial)") }
        for c in changes where !(0...Settings.maxEpoch).contains(c.epoch) || !lr.contains(c.learningRate) {
            throw SessionError("@\(c.epoch):\(c.learningRate): the epoch must be in 0…\(Settings.maxEpoch) and the learning rate in [0, \(String(format: "%g", lr.upperBound))]")
        }
        let schedule = PiecewiseConstantSchedule(initial: Float(initial), changes: changes.map { .init(at: $0.epoch, value: Float($0.learningRate)) })
        settings.schedule = schedule
        settings.learningRate = Float(initial)
        applySettings()
        return Message("schedule: " + Self.describe(schedule) + " (epochs)")
    }

    static func describe(_ s: PiecewiseConstantSchedule) -> String {
        ([String(format: "%g", s.initial)] + s.changes.map { String(format: "@%d:%g", $0.at, $0.value) }).joined(separator: " ")
    }

    /// The number of steps of a length; epochs need a loaded dataset.
    public func stepCount(_ length: TrainingLength) throws -> Int {
        switch length {
        case .steps(let n):
            guard (0...Settings.maxSteps).contains(n) else { throw SessionError("expected 0…\(Settings.maxSteps) steps, got \(n)") }
            return n
        case .epochs(let n):
            guard let loader else { throw SessionError("epochs need a dataset: load one first") }
            let (steps, overflow) = n.multipliedReportingOverflow(by: max(loader.batchesPerEpoch, 1))
            guard n >= 0, !overflow, steps <= Settings.maxSteps else { throw SessionError("\(n) epochs are more than \(Settings.maxSteps) steps") }
            return steps
        }
    }

    /// The first steps train with every gate on; sampling starts after.
    @discardableResult
    public func setWarmup(_ length: TrainingLength) throws -> Message {
        let steps = try stepCount(length)
        settings.warmupSteps = steps
        applySettings()
        let done = trainer?.step ?? 0
        return Message("warm-up: the first \(steps) steps with every gate on" + (done > 0 ? " (\(done) steps done)" : ""))
    }
}
