import Datasets
import Files
import Foundation
import Interface
import Layers
import SuperNet
import Tensor

/// The model of a session: what to build again when the session is opened.
public struct ModelSpec: Codable, Equatable, Sendable {
    public var fabric: Fabric
    public var mode: ExecutionMode
    /// Seed of the initial weights (overwritten by saved weights on open).
    public var seed: UInt64
    /// A fixed architecture (built from an exported one): these gates, not learned.
    public var fixedGates: [Bool]?
}

/// The cost a budget applies to and the budget. Saved as
/// `{"cost": "parallel", "machines": 4, …, "budget": {…}}`: the cost's word
/// and its own fields, then the budget.
public struct BudgetSpec: Codable, Equatable, Sendable {
    public var cost: any CostChoice
    public var budget: Budget

    public init(cost: any CostChoice, budget: Budget) {
        self.cost = cost
        self.budget = budget
    }

    public var costName: String { cost.name }

    private enum Key: String, CodingKey { case budget }

    public init(from decoder: any Decoder) throws {
        cost = try SavedChoice<CostChoices>(from: decoder).value
        budget = try decoder.container(keyedBy: Key.self).decode(Budget.self, forKey: .budget)
    }

    public func encode(to encoder: any Encoder) throws {
        try SavedChoice<CostChoices>(cost).encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(budget, forKey: .budget)
    }

    public static func == (a: BudgetSpec, b: BudgetSpec) -> Bool {
        a.budget == b.budget && SavedChoice<CostChoices>(a.cost).key == SavedChoice<CostChoices>(b.cost).key
    }
}

/// One numbered cell of the notebook: the command and what it printed.
public struct Cell: Codable, Equatable, Sendable {
    public var number: Int
    public var command: String
    public var output: String
    public var failed: Bool
    public init(number: Int, command: String, output: String, failed: Bool) {
        self.number = number
        self.command = command
        self.output = output
        self.failed = failed
    }
}

extension Dataset {
    /// The shape of one network input (after augmentation's crop or padding).
    var inputShape: FeatureShape {
        FeatureShape(height: augmentation.height, width: augmentation.width, channels: train.channels)
    }
}

/// Everything a researcher builds in a notebook: the data, the model and its
/// trainer, the budget, the settings, the history of metrics and cells.
/// `save` and `open` persist it (see SessionStore).
public final class Session {
    public internal(set) var name: String
    public internal(set) var settings = Settings()
    public internal(set) var variables: [String: String] = [:]
    /// The session's generator: seeds of loaders and models are drawn from it.
    public internal(set) var rng: RNG

    /// What the loaded dataset was loaded from (saved with the session, not the images).
    public private(set) var datasetSource: (any DatasetSource)?
    public private(set) var dataset: Dataset?
    public private(set) var loader: Loader?

    public private(set) var modelSpec: ModelSpec?
    public private(set) var network: SuperNetwork?
    public private(set) var trainer: Trainer?
    public private(set) var budgetSpec: BudgetSpec?
    /// The costs, built for the current network: flops, params, the optimised one.
    public private(set) var optimisedCost: (any Cost)?

    /// The cost reports speak of: the optimised one, or flops when none is set (nil without a model).
    public var reportedCost: (any Cost)? { optimisedCost ?? network.map { FlopsCost($0) } }

    public internal(set) var steps: [StepMetrics] = []
    public internal(set) var epochs: [EpochMetrics] = []
    public internal(set) var evaluations: [Evaluation] = []
    public internal(set) var cells: [Cell] = []
    /// Files rendered in this session (absolute paths).
    public var renders: [String] = []
    /// The TensorBoard run training writes to (`settings.tensorboard`), kept across `train` commands.
    var tensorboardRun: TensorBoardRun?
    /// Set in a sweep's children: the parent, the step and what the child changes.
    public internal(set) var origin: SweepOrigin?
    /// The sweep recorded for job arrays (`sweep … --plan`): each task trains its child by index.
    public internal(set) var sweepPlan: SweepPlan?
    /// The decisions of this session's last halving sweep (which children went on after each rung).
    public internal(set) var halvingRecord: HalvingRecord?
    /// The processes this one runs with: a single process, or MPI's ranks under mpirun.
    public let ranks: any Communicator
    /// Where the session's network computes: its threads, scratch memory,
    /// convolution choices, and the ranks a batch is split across. The
    /// session's own: other sessions in the process do not see it.
    public let context: ExecutionContext
    /// Under mpirun, whether `train` splits each batch across the ranks (true) or every rank
    /// trains alone (a sweep: its warm-up and its children, one child per rank). Not saved.
    public var splitsBatchesAcrossRanks = true {
        didSet { context.communicator = splitsBatchesAcrossRanks ? ranks : SingleProcess() }
    }

    // On disk (see SessionStore): not saved, they describe this process's hold on the folder.
    /// The lock of the session's folder while this process may write it (nil: never saved, or read-only).
    public internal(set) var lock: FolderLock?
    /// The folder and generation this session was opened from or last saved as: a save refuses to replace another one.
    var savedGeneration: (folder: String, generation: Int)?
    /// Whether the session is on disk: opened from a save, or saved since.
    public var isSaved: Bool { savedGeneration != nil }
    /// Why the session was opened without its data and model (its data could not be loaded): its save stays as it was.
    public internal(set) var dataUnavailable: String?
    /// Why the session is read-only (another process holds its folder), when it is.
    public internal(set) var readOnlyBecause: String?
    /// Cells when it was opened or last saved.
    var cellsWhenSaved = 0
    /// Resident memory when the model was built or opened, and the step it opened at (`memoryReport`).
    var residentBeforeModel = 0.0, trainedStepsAtOpen = 0

    /// Records a notebook cell before its command runs (so that a save the command makes includes it),
    /// or, with its number already last, its output and whether it failed.
    public func record(cell number: Int, command: String, output: String = "", failed: Bool = false) {
        if cells.last?.number == number {
            cells[cells.count - 1].output = output
            cells[cells.count - 1].failed = failed
        } else {
            cells.append(Cell(number: number, command: command, output: output, failed: failed))
        }
    }

    /// The accuracy of the deterministic architecture on `split` measured last: epochs' validation rows (at the step where each
    /// epoch ended) and `eval` results, the later step winning, an evaluation
    /// over an epoch row at the same step. Evaluations of sampled
    /// architectures do not count: they measure something else.
    public func latestAccuracy(on split: Split) -> Double? {
        var latest: (step: Int, accuracy: Double)?
        if split == .validation {
            var step = 0
            for e in epochs {
                step += e.steps
                if let v = e.validationAccuracy { latest = (step, v) }
            }
        }
        for e in evaluations where e.split == split && e.sampled != true && e.step >= (latest?.step ?? 0) {
            latest = (e.step, e.accuracy)
        }
        return latest?.accuracy
    }

    /// Lets go of the session's folder (its lock), so that another process,
    /// or another open in this one, may write it. The session stays usable in
    /// memory; a later save takes the lock again (and refuses to replace a
    /// save made meanwhile). Releasing the session does the same.
    public func close() {
        lock = nil
    }

    /// Whether a save would keep anything new. A fresh session with no data and
    /// no model has nothing; an opened one has something when a cell was
    /// added since (besides `current`, the command asking, e.g. `open`).
    public func hasUnsavedChanges(besidesCurrentCell current: Bool = false) -> Bool {
        guard savedGeneration != nil else { return datasetSource != nil || modelSpec != nil }
        return cells.count - (current ? 1 : 0) > cellsWhenSaved
    }

    public struct Evaluation: Codable, Equatable, Sendable {
        public var step: Int, split: Split, loss: Double, accuracy: Double
        public var cost: Double?
        /// True when sampled architectures were evaluated (absent: the deterministic one).
        public var sampled: Bool?
        /// Segmentation: the mean IoU over classes.
        public var meanIoU: Double?
        public init(step: Int, split: Split, loss: Double, accuracy: Double, cost: Double?, sampled: Bool? = nil, meanIoU: Double? = nil) {
            (self.step, self.split, self.loss, self.accuracy, self.cost, self.sampled, self.meanIoU) = (step, split, loss, accuracy, cost, sampled, meanIoU)
        }

        private enum Key: String, CodingKey { case step, split, loss, accuracy, cost, sampled, meanIoU }

        /// The split as any version wrote it ("validation", recorded by earlier versions, is "val").
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            let word = try c.decode(String.self, forKey: .split)
            guard let split = try? Split(parsing: word) else {
                throw DecodingError.dataCorruptedError(forKey: .split, in: c, debugDescription: "unknown split '\(word)'")
            }
            self.init(step: try c.decode(Int.self, forKey: .step), split: split, loss: try c.decode(Double.self, forKey: .loss),
                      accuracy: try c.decode(Double.self, forKey: .accuracy), cost: try c.decodeIfPresent(Double.self, forKey: .cost),
                      sampled: try c.decodeIfPresent(Bool.self, forKey: .sampled), meanIoU: try c.decodeIfPresent(Double.self, forKey: .meanIoU))
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(step, forKey: .step)
            try c.encode(split, forKey: .split)
            try c.encode(loss, forKey: .loss)
            try c.encode(accuracy, forKey: .accuracy)
            try c.encodeIfPresent(cost, forKey: .cost)
            try c.encodeIfPresent(sampled, forKey: .sampled)
            try c.encodeIfPresent(meanIoU, forKey: .meanIoU)
        }
    }

    public init(name: String, seed: UInt64 = 1, ranks: any Communicator = SingleProcess()) {
        self.name = name
        rng = RNG(seed: seed)
        settings.seed = seed
        self.ranks = ranks
        context = ExecutionContext(threads: settings.threads, communicator: ranks)
    }

    // MARK: data

    /// Makes a loaded dataset the session's; the loader's seed comes from the session generator.
    func use(_ d: Dataset) throws {
        if let network, !fits(d, network) {
            throw SessionError("\(d.name) does not fit this session's model (input \(network.inputShape), output \(network.nodes[network.outputNode].shape)); start a new session for it: new <name>, then load")
        }
        datasetSource = d.source
        dataset = d
        loader = nil
        try makeLoader(seed: rng.next())
    }

    private func fits(_ d: Dataset, _ net: SuperNetwork) -> Bool {
        net.inputShape == d.inputShape && net.nodes[net.outputNode].shape.channels == d.classNames.count
    }

    private func makeLoader(seed: UInt64) throws {
        guard let dataset else { return }
        guard dataset.train.count > 0 else { throw SessionError("\(dataset.name): the training split is empty") }
        loader = Loader(dataset.train, augmentation: dataset.augmentation, batchSize: settings.batch, seed: seed)
    }

    /// Changes the batch size: a new loader continuing the same seed and epoch.
    public func setBatch(_ n: Int) throws {
        _ = try Settings.Declared.batch.checked(n)
        try checkTrainingMemory(batch: n, threads: settings.threads)
        settings.batch = n
        if let old = loader {
            try makeLoader(seed: old.state.seed)
            loader?.restore(LoaderState(seed: old.state.seed, epoch: old.state.batch == 0 ? old.state.epoch : old.state.epoch + 1))
            trainer?.stepsPerEpoch = max(loader?.batchesPerEpoch ?? 1, 1)
        }
    }

    // MARK: model

    /// Builds a fabric for the loaded dataset and a trainer for it. `verify`
    /// sees the network built, before the session changes, and may refuse it.
    @discardableResult
    public func build(_ fabric: Fabric, mode: ExecutionMode = .subBatch, fixedGates: [Bool]? = nil,
                      verify: ((SuperNetwork) throws -> Void)? = nil) throws -> BuildReport {
        try fabric.validate()
        guard let dataset else { throw SessionError("no data: load a dataset first (e.g. load shapes)") }
        let replaced = replacedNote()
        let spec = ModelSpec(fabric: fabric, mode: mode, seed: rng.next(), fixedGates: fixedGates)
        try instantiate(spec, for: dataset, verify: verify)
        budgetSpec = nil
        steps = []
        epochs = []
        evaluations = []
        try makeLoader(seed: loader?.state.seed ?? rng.next())
        var report = buildReport()
        report.replaced = replaced
        return report
    }

    /// What a build says when it replaces a trained network (a notebook run
    /// again over its session must not drop the training without a word): what
    /// it was, and whether the session's last save still holds it.
    func replacedNote() -> String? {
        guard let old = modelSpec, let step = trainer?.step, step > 0 else { return nil }
        let was = "this replaces \(old.fabric.summary), trained \(step) steps"
        guard let saved = savedGeneration else { return was + "; it was never saved and is gone (save <name> before build keeps a network)" }
        return was + "; the last save in \(saved.folder) keeps it until this session is saved again "
            + "(training saves it): open \(name) brings it back, save <other-name> keeps the new one apart"
    }

    private func instantiate(_ spec: ModelSpec, for dataset: Dataset, verify: ((SuperNetwork) throws -> Void)? = nil) throws {
        guard spec.fabric.isSegmentation == dataset.isSegmentation else { throw SessionError(spec.fabric.mismatch(dataset.name)) }
        let input = dataset.inputShape
        let size = try spec.fabric.size(input: input, classes: dataset.classNames.count)
        try Memory.check(size.weightBytes, spec.fabric.summary, of: "weights")
        try checkTrainingMemory(spec, size, input: input, batch: settings.batch, threads: settings.threads)
        // What the process held before the network: the peak from here on is the network's (summary compares it with the estimate).
        residentBeforeModel = Memory.resident()
        Memory.resetPeak()
        var seed = RNG(seed: spec.seed)
        applySettings()
        let net = try spec.fabric.build(input: input, classes: dataset.classNames.count, rng: &seed, context: context)
        let cost = FlopsCost(net)
        let t = Trainer(network: net, task: dataset.task, optimisedCost: cost,
                        seed: spec.seed &+ 1, learningRate: settings.learningRate, momentum: settings.momentum,
                        weightDecay: settings.weightDecay, nesterov: settings.nesterov, mode: spec.mode, context: context)
        if let gates = spec.fixedGates {
            guard gates.count == net.gateCount else {
                throw SessionError("the architecture has \(gates.count) gates, \(spec.fabric.summary) has \(net.gateCount)")
            }
            guard net.architecture(gates: gates).isConsistent else { throw SessionError("the architecture has no input → output path") }
            // Logits of ±1e30 give probabilities of exactly 1 and 0: every sample is this architecture.
            t.startSampling(logit: 0)
            for (k, on) in gates.enumerated() { net.gateLogits.value[k] = on ? 1e30 : -1e30 }
        }
        try verify?(net)
        modelSpec = spec
        network = net
        trainer = t
        optimisedCost = cost
        applySettings()
        chooseConvolutionAlgorithms()
    }

    /// Every convolution of the network takes its algorithm now (measured
    /// once per shape on this CPU, then cached; pinned when the session was
    /// opened), by one inference pass of a blank image through the whole
    /// network: the session records them all before its first step.
    private func chooseConvolutionAlgorithms() {
        guard let network, let trainer else { return }
        _ = try? trainer.executor.forward(Tensor(shape: network.inputShape.batch(1)), architectures: [network.fullArchitecture], training: false)
    }

    /// Refuses a batch (or a thread count) whose activations and workspace do not fit next to the weights.
    private func checkTrainingMemory(_ spec: ModelSpec, _ size: FabricSize, input: FeatureShape, batch: Int, threads: Int) throws {
        try Memory.check(size.trainingBytes(batch: min(batch, dataset?.train.count ?? batch), input: input, threads: threads, gathers: gathers(spec)),
                         "training \(spec.fabric.summary) with batch \(batch)" + (threads > 2 ? " on \(threads) threads" : ""),
                         of: "weights, activations and workspace (a smaller batch needs less: set batch)")
    }

    /// The memory check's estimate for training the session's model now (its
    /// batch and threads), beside what this process measured: its peak since
    /// the model was built or opened, above what it held before.
    public func memoryReport() -> MemoryReport? {
        guard let spec = modelSpec, let dataset, let size = try? spec.fabric.size(input: dataset.inputShape, classes: dataset.classNames.count) else { return nil }
        let batch = min(settings.batch, dataset.train.count)
        let estimate = size.trainingBytes(batch: batch, input: dataset.inputShape, threads: settings.threads, gathers: gathers(spec))
        let measured = max(0, Memory.peakResident() - residentBeforeModel)
        return MemoryReport(batch: batch, threads: settings.threads, estimated: estimate, measured: measured, before: residentBeforeModel,
                            trained: (trainer?.step ?? 0) > trainedStepsAtOpen)
    }

    /// Whether training gathers each module's rows (sub-batch mode, one architecture per example, gates learned).
    private func gathers(_ spec: ModelSpec) -> Bool {
        spec.mode == .subBatch && spec.fixedGates == nil && settings.sampling == .perExample
    }

    /// The same check for the session's model, when it has one.
    private func checkTrainingMemory(batch: Int, threads: Int) throws {
        guard let spec = modelSpec, let dataset else { return }
        let size = try spec.fabric.size(input: dataset.inputShape, classes: dataset.classNames.count)
        try checkTrainingMemory(spec, size, input: dataset.inputShape, batch: batch, threads: threads)
    }

    /// Changes the worker thread count (each thread has its own convolution workspace).
    public func setThreads(_ n: Int) throws {
        _ = try Settings.Declared.threads.checked(n)
        let fitting = Parallel.fitting(n)
        guard fitting >= n else {
            throw SessionError("threads \(n) do not fit in this process's address-space limit (ulimit -v): each worker thread takes "
                               + "~\(Memory.format(Parallel.threadBytes)) (its stack and OpenBLAS's buffer); at most \(fitting) fit now")
        }
        try checkTrainingMemory(batch: settings.batch, threads: n)
        settings.threads = n
    }

    /// Pushes `settings` into the execution context and the trainer.
    public func applySettings() {
        context.threads = settings.threads
        context.synchronisedBatchNorm = settings.syncBatchNorm == true
        guard let trainer else { return }
        trainer.pathLearningRate = modelSpec?.fixedGates == nil ? settings.pathLearningRate : 0
        trainer.sampling = settings.sampling
        trainer.allreduceBucket = settings.allreduceBucket
        trainer.warmupSteps = settings.warmupSteps
        trainer.schedule = settings.schedule ?? PiecewiseConstantSchedule(initial: settings.learningRate)
        for g in trainer.optimizer.groups {
            g.momentum = settings.momentum
            g.weightDecay = settings.weightDecay
            g.nesterov = settings.nesterov
            g.learningRate = trainer.schedule.value(at: trainer.epoch)
        }
        if let loader { trainer.stepsPerEpoch = max(loader.batchesPerEpoch, 1) }
    }

    // MARK: budget

    /// The cost the search optimises and its budget, in the session and its trainer.
    func optimise(_ cost: any Cost, under spec: BudgetSpec?) {
        optimisedCost = cost
        budgetSpec = spec
        trainer?.optimisedCost = cost
        trainer?.budget = spec?.budget
    }

    /// The network and its trainer, or the error a verb that needs them gives.
    func requireModel() throws -> (SuperNetwork, Trainer) {
        guard let network, let trainer else { throw SessionError("no model yet: build one first (e.g. build cnf W=4 S=4 C=16)") }
        return (network, trainer)
    }

    /// The loaded dataset, or the error a verb that needs it gives.
    func requireDataset() throws -> Dataset {
        guard let dataset else { throw SessionError("no dataset loaded (e.g. load shapes)") }
        return dataset
    }

    // MARK: persistence hooks (SessionStore)

    /// Rebuilds data, model, trainer and loader from saved specs, and applies the settings.
    func restore(dataset spec: (any DatasetSource)?, loader state: LoaderState?, model: ModelSpec?, budget: BudgetSpec?,
                 trainer trainerState: Trainer.State?, progress: ((Int, Int) -> Void)?, datasets: DatasetCache? = nil) throws {
        if let spec {
            let d = try datasets?.dataset(spec, progress: progress) ?? spec.load(progress: progress, cancel: .never)
            datasetSource = spec
            dataset = d
            try makeLoader(seed: state?.seed ?? 0)
            if let state, let loader {
                guard state.batch < max(loader.batchesPerEpoch, 1) else {
                    throw SessionError("loader.batch = \(state.batch) is beyond the \(loader.batchesPerEpoch) batches of an epoch")
                }
                loader.restore(state)
            }
        }
        if let model {
            guard let dataset else { throw SessionError("the session has a model but no dataset") }
            try instantiate(model, for: dataset)
        }
        if var budget, let network, trainer != nil {
            let cost = try budget.cost.make(for: network)
            optimise(cost, under: budget)
        }
        if let trainerState { trainer?.restore(trainerState) }
        applySettings()
    }
}

/// Datasets loaded once for many sessions opened in a row (a sweep's
/// children share their parent's data): keyed by the source as saved.
public final class DatasetCache {
    private var loaded: [Data: Dataset] = [:]
    public init() {}

    func dataset(_ source: any DatasetSource, progress: ((Int, Int) -> Void)?) throws -> Dataset {
        let key = SavedChoice<DatasetSources>(source).key
        if let key, let d = loaded[key] { return d }
        let d = try source.load(progress: progress, cancel: .never)
        if let key { loaded[key] = d }
        return d
    }
}
