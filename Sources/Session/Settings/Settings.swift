import Foundation
import Interface
import Layers
import SuperNet
import Tensor

/// Hyper-parameters set with `set`, `schedule` and `warmup`: what a session
/// saves (its fields are the keys of the saved file). A setting is one field
/// here and one declaration in `Settings.table` below, with its typed
/// `SettingValue` beside it.
public struct Settings: Codable, Equatable, Sendable {
    public internal(set) var learningRate: Float = 0.1
    public internal(set) var pathLearningRate: Float = 1e-3
    public internal(set) var momentum: Float = 0.9
    public internal(set) var weightDecay: Float = 5e-4
    public internal(set) var nesterov = false
    public internal(set) var batch = 64
    public internal(set) var seed: UInt64 = 1
    /// All cores (under mpirun: the cores split between the ranks on this machine).
    public internal(set) var threads = Cores.perRank
    public internal(set) var sampling = Sampling.perExample
    /// Learning-rate changes by epoch ("0.1 @150:0.01 @225:0.001"); nil: constant `learningRate`.
    public internal(set) var schedule: PiecewiseConstantSchedule?
    /// Warm-up length, in steps.
    public internal(set) var warmupSteps = 0
    /// Under mpirun: batch norm's training statistics over the whole batch (all ranks), not each rank's rows. Nil: off.
    public internal(set) var syncBatchNorm: Bool?
    /// Under mpirun: bytes per gradient all-reduce bucket, started during backward; 0: one all-reduce after it. Nil: automatic.
    public internal(set) var allreduceBucket: Int?
    /// Where training writes TensorBoard logs (`set tensorboard`): the run folder is `<tensorboard>/<session name>`. Nil: none.
    public internal(set) var tensorboard: String?
    public init() {}

    /// Bounds the schedule shares with `lr`.
    public static let learningRateRange = 0.0...10.0
    /// The longest run a `train` or `warmup` may ask for, in steps, and the last epoch of a schedule.
    public static let maxSteps = 1_000_000_000
    public static let maxEpoch = 10_000_000
}

extension Settings {
    /// Every setting `set` knows, in the order `set` lists them.
    public static let table: [any AnySetting] = [
        Declared.learningRate, Declared.pathLearningRate, Declared.momentum, Declared.weightDecay, Declared.nesterov, Declared.batch,
        Declared.seed, Declared.threads, Declared.sampling, Declared.syncBatchNorm, Declared.allreduceBucket, Declared.tensorboard,
    ]

    /// The setting called `name` ("lr"), if any.
    public static func named(_ name: String) -> (any AnySetting)? { table.first { $0.name == name } }

    public enum Declared {
        public static let learningRate = SettingDeclaration("lr", \.learningRate, "learningRate", .number(learningRateRange),
                                                            help: "(0.1)  weight learning rate (a schedule overrides it)", apply: { s, x in
            s.settings.learningRate = x
            s.settings.schedule = nil
            return nil
        })
        public static let pathLearningRate = SettingDeclaration("path-lr", \.pathLearningRate, "pathLearningRate", .number(0...100),
                                                                help: "(1e-3)  learning rate of the gate logits (REINFORCE)")
        public static let momentum = SettingDeclaration("momentum", \.momentum, "momentum", .number(0...Double(Float(1).nextDown)),
                                                        help: "(0.9)  SGD momentum")
        public static let weightDecay = SettingDeclaration("wd", \.weightDecay, "weightDecay", .number(0...1), help: "(5e-4)  weight decay")
        public static let nesterov = SettingDeclaration("nesterov", \.nesterov, "nesterov", .choice("yes", "no"), help: "yes|no (no)  Nesterov momentum")
        public static let batch = SettingDeclaration("batch", \.batch, "batch", .whole(1...100_000), help: "(64)  batch size", apply: { s, n in
            try s.setBatch(n)
            return nil
        })
        public static let seed = SettingDeclaration("seed", \.seed, "seed", .seed, help: "(1)  reseeds the session's generator and the trainer's", apply: { s, n in
            s.reseed(n)
            return nil
        })
        public static let threads = SettingDeclaration("threads", \.threads, "threads", .whole(1...256), help: "(all cores)  worker threads", apply: { s, n in
            try s.setThreads(n)
            return nil
        })
        public static let sampling = SettingDeclaration("sampling", \.sampling, "sampling", .words,
                                                        help: "example|batch (example)  one architecture per example, or per batch")
        public static let syncBatchNorm = SettingDeclaration(
            "sync-bn", \.syncBatchNorm, "syncBatchNorm",
            SettingDomain(expected: "on or off", read: { $0 == "on" ? .some(true) : $0 == "off" ? .some(nil) : nil }, allows: { _ in true },
                          write: { $0 == true ? "on" : "off" }),
            help: "on|off (off)  under mpirun: batch-norm statistics over the whole batch, not each rank's rows",
            listing: { $0 == true ? "sync-bn on (under mpirun, batch-norm statistics over the whole batch)" : nil })
        /// Bytes, 0 (off: one all-reduce after backward) or nil (auto).
        public static let allreduceBucket = SettingDeclaration(
            "allreduce-bucket", \.allreduceBucket, "allreduceBucket",
            SettingDomain(expected: "a size in bytes from 4k to 4G (for example 1M or 25M), auto or off",
                          read: { $0 == "auto" ? .some(nil) : $0 == "off" ? .some(0) : parseWhole($0).map { .some($0) } },
                          allows: { $0.map { $0 == 0 || GradientBuckets.chosenBytes.contains($0) } ?? true },
                          write: { $0.map { $0 == 0 ? "off" : Format.quantity(Double($0), exact: true) } ?? "auto" }),
            help: "<bytes>|auto|off (auto: gradients × ranks / 32, 256k…25M)  under mpirun: gradients all-reduced in buckets of this size "
                + "during backward; off: in one all-reduce after it",
            listing: { bytes in
                bytes.map { $0 == 0 ? "allreduce-bucket off (under mpirun, one all-reduce after backward)"
                                    : "allreduce-bucket \(Format.quantity(Double($0), exact: true)) bytes (under mpirun, overlapped with backward)" }
            })
        public static let tensorboard = SettingDeclaration(
            "tensorboard", \.tensorboard, "tensorboard",
            SettingDomain(expected: "a folder or off", read: { $0 == "off" ? .some(nil) : .some($0) }, allows: { _ in true }, write: { $0 ?? "off" }),
            help: "<folder>|off (off)  training writes TensorBoard logs to <folder>/<session name>",
            listing: { $0.map { "tensorboard logs in \($0) (tensorboard --logdir \($0))" } },
            apply: { s, folder in
                s.settings.tensorboard = try folder.map(Session.tensorboardFolder)
                return s.settings.tensorboard.map { "tensorboard = \($0): training writes its logs to \($0)/\(s.name) (tensorboard --logdir \($0))" }
            })
    }
}

extension SettingValue {
    public static func learningRate(_ x: Double) -> SettingValue { Settings.Declared.learningRate(Float(x)) }
    public static func pathLearningRate(_ x: Double) -> SettingValue { Settings.Declared.pathLearningRate(Float(x)) }
    public static func momentum(_ x: Double) -> SettingValue { Settings.Declared.momentum(Float(x)) }
    public static func weightDecay(_ x: Double) -> SettingValue { Settings.Declared.weightDecay(Float(x)) }
    public static func nesterov(_ on: Bool) -> SettingValue { Settings.Declared.nesterov(on) }
    public static func batch(_ n: Int) -> SettingValue { Settings.Declared.batch(n) }
    public static func seed(_ n: UInt64) -> SettingValue { Settings.Declared.seed(n) }
    public static func threads(_ n: Int) -> SettingValue { Settings.Declared.threads(n) }
    public static func sampling(_ m: Sampling) -> SettingValue { Settings.Declared.sampling(m) }
    public static func syncBatchNorm(_ on: Bool) -> SettingValue { Settings.Declared.syncBatchNorm(on ? true : nil) }
    /// Bytes per all-reduce bucket; 0: one all-reduce after backward; nil: automatic.
    public static func allreduceBucket(_ bytes: Int?) -> SettingValue { Settings.Declared.allreduceBucket(bytes) }
    /// A folder for TensorBoard logs, or nil (off).
    public static func tensorboard(_ folder: String?) -> SettingValue { Settings.Declared.tensorboard(folder) }
}

/// What `set` alone lists: the settings, the schedule, the warm-up and the variables.
public struct SettingsReport: Output, Sendable {
    public let settings: Settings, schedule: String?, variables: [String: String]

    public var text: String {
        let listed = Settings.table.map { $0.listed(in: settings) }
        var lines = [listed.compactMap(\.inline).joined(separator: ", ")]
        if let schedule { lines.append("schedule " + schedule) }
        if settings.warmupSteps > 0 { lines.append("warm-up \(settings.warmupSteps) steps") }
        lines += listed.compactMap(\.line)
        for (k, v) in variables.sorted(by: { $0.key < $1.key }) { lines.append("$\(k) = \(v)") }
        return lines.joined(separator: "\n")
    }
}
