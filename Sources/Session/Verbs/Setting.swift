import Foundation
import Interface
import Layers
import SuperNet
import Tensor

/// A hyper-parameter the user sets by name (`set lr 0.05`).
public enum Setting: String, CaseIterable, Sendable {
    case learningRate = "lr", pathLearningRate = "path-lr", momentum, weightDecay = "wd", batch, seed, threads, sampling, nesterov
    case syncBatchNorm = "sync-bn", allreduceBucket = "allreduce-bucket", tensorboard
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
        if let bytes = s.allreduceBucket {   // (automatic when not set)
            lines.append(bytes == 0 ? "allreduce-bucket off (under mpirun, one all-reduce after backward)"
                                    : "allreduce-bucket \(Format.quantity(Double(bytes), exact: true)) bytes (under mpirun, overlapped with backward)")
        }
        if let folder = s.tensorboard { lines.append("tensorboard logs in \(folder) (tensorboard --logdir \(folder))") }
        for (k, v) in variables.sorted(by: { $0.key < $1.key }) { lines.append("$\(k) = \(v)") }
        return lines.joined(separator: "\n")
    }
}

/// A training length as the user gives it: `10 epochs`, `200 steps`.
public enum TrainingLength: Sendable {
    case steps(Int), epochs(Int)
}

/// A hyper-parameter with its value, typed: what `Session.set` takes
/// (the notebook's `set` parses the user's words into one).
public enum SettingValue: Sendable, Equatable {
    case learningRate(Double), pathLearningRate(Double), momentum(Double), weightDecay(Double)
    case batch(Int), seed(UInt64), threads(Int), sampling(Sampling), nesterov(Bool), syncBatchNorm(Bool)
    /// A folder for TensorBoard logs, or nil (off).
    case tensorboard(String?)
    /// Bytes per all-reduce bucket; 0: one all-reduce after backward; nil: automatic.
    case allreduceBucket(Int?)

    public var setting: Setting {
        switch self {
        case .learningRate: .learningRate
        case .pathLearningRate: .pathLearningRate
        case .momentum: .momentum
        case .weightDecay: .weightDecay
        case .batch: .batch
        case .seed: .seed
        case .threads: .threads
        case .sampling: .sampling
        case .nesterov: .nesterov
        case .syncBatchNorm: .syncBatchNorm
        case .tensorboard: .tensorboard
        case .allreduceBucket: .allreduceBucket
        }
    }

    /// The value as the user writes it.
    public var word: String {
        switch self {
        case .learningRate(let x), .pathLearningRate(let x), .momentum(let x), .weightDecay(let x): String(format: "%g", x)
        case .batch(let n), .threads(let n): "\(n)"
        case .seed(let n): "\(n)"
        case .sampling(let m): m.rawValue
        case .nesterov(let on): on ? "yes" : "no"
        case .syncBatchNorm(let on): on ? "on" : "off"
        case .tensorboard(let folder): folder ?? "off"
        case .allreduceBucket(let bytes): bytes.map { $0 == 0 ? "off" : Format.quantity(Double($0), exact: true) } ?? "auto"
        }
    }

    /// "lr: expected a number in [0, 10], got '11'": a numeric setting's value outside its bounds (or no number), as written.
    public static func outOfRange(_ setting: Setting, written word: String) -> SessionError {
        let range = range(of: setting)!
        let upper = setting == .momentum ? "1)" : String(format: "%g]", range.upperBound)
        return SessionError("\(setting.rawValue): expected a number in [\(String(format: "%g", range.lowerBound)), \(upper), got '\(word)'")
    }

    /// The bounds of a numeric setting (nil for the others).
    public static func range(of setting: Setting) -> ClosedRange<Double>? {
        switch setting {
        case .learningRate: Settings.learningRateRange
        case .pathLearningRate: Settings.pathLearningRateRange
        case .momentum: Settings.momentumRange
        case .weightDecay: Settings.weightDecayRange
        default: nil
        }
    }
}

extension Session {
    /// Sets a hyper-parameter, within its bounds. `written` is the value as
    /// the user wrote it ("3.2e1"), for the messages; by default its `word`.
    @discardableResult
    public func set(_ value: SettingValue, written: String? = nil) throws -> Message {
        let name = value.setting.rawValue, word = written ?? value.word
        func checked(_ x: Double) throws -> Float {
            guard SettingValue.range(of: value.setting)!.contains(x) else { throw SettingValue.outOfRange(value.setting, written: word) }
            return Float(x)
        }
        func whole(_ n: Int, _ range: ClosedRange<Int>) throws -> Int {
            guard range.contains(n) else { throw SessionError("\(name): expected a whole number in \(Interface.describe(range)), got '\(word)'") }
            return n
        }
        switch value {
        case .learningRate(let x):
            settings.learningRate = try checked(x)
            settings.schedule = nil
        case .pathLearningRate(let x): settings.pathLearningRate = try checked(x)
        case .momentum(let x): settings.momentum = try checked(x)
        case .weightDecay(let x): settings.weightDecay = try checked(x)
        case .batch(let n): try setBatch(try whole(n, Settings.batchRange))
        case .threads(let n): try setThreads(try whole(n, Settings.threadRange))
        case .seed(let n): reseed(n)
        case .sampling(let m): settings.sampling = m
        case .nesterov(let on): settings.nesterov = on
        case .syncBatchNorm(let on): settings.syncBatchNorm = on ? true : nil
        case .allreduceBucket(let bytes):
            guard bytes.map({ $0 == 0 || Settings.allreduceBucketRange.contains($0) }) ?? true else {
                throw SessionError("allreduce-bucket: expected a size in bytes from 4k to 4G, auto or off, got '\(word)'")
            }
            settings.allreduceBucket = bytes
        case .tensorboard(let folder):
            settings.tensorboard = try folder.map(Self.tensorboardFolder)
            if let root = settings.tensorboard {
                return Message("tensorboard = \(root): training writes its logs to \(root)/\(self.name) (tensorboard --logdir \(root))")
            }
        }
        applySettings()
        return Message("\(name) = \(word)")
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
