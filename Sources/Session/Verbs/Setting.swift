import Foundation
import Interface
import Layers
import SuperNet
import Tensor

/// A hyper-parameter the user sets by name (`set lr 0.05`).
public enum Setting: String, CaseIterable, Sendable {
    case learningRate = "lr", pathLearningRate = "path-lr", momentum, weightDecay = "wd", batch, seed, threads, sampling, nesterov
    case syncBatchNorm = "sync-bn"
}

/// What `set` alone lists: the settings, the schedule, the warm-up and the variables.
public struct SettingsReport: Output, Sendable {
    public let settings: Settings, schedule: String?, variables: [String: String]

    public var text: String {
        let s = settings
        var lines = [String(format: "lr %g, path-lr %g, momentum %g, wd %g, nesterov %@, batch %d, seed %llu, threads %d, sampling per %@",
                            s.learningRate, s.pathLearningRate, s.momentum, s.weightDecay, s.nesterov ? "yes" : "no", s.batch, s.seed,
                            s.threads, s.sampling.rawValue)]
        if let schedule { lines.append("schedule " + schedule) }
        if s.warmupSteps > 0 { lines.append("warm-up \(s.warmupSteps) steps") }
        if s.syncBatchNorm == true { lines.append("sync-bn on (under mpirun, batch-norm statistics over the whole batch)") }
        for (k, v) in variables.sorted(by: { $0.key < $1.key }) { lines.append("$\(k) = \(v)") }
        return lines.joined(separator: "\n")
    }
}

/// A training length as the user gives it: `10 epochs`, `200 steps`.
public enum TrainingLength: Sendable {
    case steps(Int), epochs(Int)
}

extension Session {
    /// Sets a hyper-parameter from the user's word for its value, within its bounds.
    @discardableResult
    public func set(_ setting: Setting, to value: String) throws -> Message {
        func number(_ range: ClosedRange<Double>) throws -> Float {
            guard let x = parseNumber(value), range.contains(x) else {
                throw SessionError("\(setting.rawValue): expected a number in [\(String(format: "%g", range.lowerBound)), \(String(format: "%g", range.upperBound))], got '\(value)'")
            }
            return Float(x)
        }
        func whole(_ range: ClosedRange<Int>) throws -> Int {
            guard let n = parseWhole(value), range.contains(n) else {
                throw SessionError("\(setting.rawValue): expected a whole number in \(Interface.describe(range)), got '\(value)'")
            }
            return n
        }
        switch setting {
        case .learningRate:
            settings.learningRate = try number(Settings.learningRateRange)
            settings.schedule = nil
        case .pathLearningRate: settings.pathLearningRate = try number(Settings.pathLearningRateRange)
        case .momentum:
            guard let m = parseNumber(value), m >= 0, Float(m) < 1 else { throw SessionError("momentum: expected a number in [0, 1), got '\(value)'") }
            settings.momentum = Float(m)
        case .weightDecay: settings.weightDecay = try number(Settings.weightDecayRange)
        case .batch: try setBatch(try whole(Settings.batchRange))
        case .threads: try setThreads(try whole(Settings.threadRange))
        case .seed: reseed(UInt64(try whole(0...Int.max)))
        case .sampling:
            guard let m = Sampling(rawValue: value) else { throw SessionError("sampling: expected example or batch, got '\(value)'") }
            settings.sampling = m
        case .nesterov:
            guard ["yes", "no"].contains(value) else { throw SessionError("nesterov: expected yes or no") }
            settings.nesterov = value == "yes"
        case .syncBatchNorm:
            guard ["on", "off"].contains(value) else { throw SessionError("sync-bn: expected on or off") }
            settings.syncBatchNorm = value == "on" ? true : nil
        }
        applySettings()
        return Message("\(setting.rawValue) = \(value)")
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
