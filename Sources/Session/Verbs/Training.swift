import Datasets
import Foundation
import Interface
import SuperNet
import Tensor

/// What the caller of `train` hears while it runs. Every field is optional.
public struct TrainingObserver {
    /// Once the arguments are checked, before the first step: the epoch table's columns.
    public var begin: (TrainingReport.Columns) -> Void = { _ in }
    /// After each step: its metrics, steps done, steps asked for, and the seconds since training began.
    public var step: (StepMetrics, Int, Int, Double) -> Void = { _, _, _, _ in }
    /// After each epoch (with its validation accuracy when asked for).
    public var epoch: (TrainingReport.Epoch) -> Void = { _ in }
    /// Validation progress after an epoch: batches done and in all.
    public var validation: (Int, Int) -> Void = { _, _ in }
    public init() {}
}

/// What `train` reports: one row per epoch finished, and where training stopped.
public struct TrainingReport: TabularOutput, Sendable {
    public struct Epoch: Codable, Sendable {
        public let epoch: Int, step: Int, learningRate: Double, loss: Double, accuracy: Double
        public let validationAccuracy: Double?, sampledCost: Double, deterministicCost: Double, gateEntropy: Double
        public var validationMeanIoU: Double? = nil
        public let seconds: Double

        /// Its row in `TrainingReport.table(columns)`.
        public func cells(_ columns: Columns) -> [String] {
            let optional = { (x: Double?) -> String in x.map { Format.fixed($0, 3) } ?? "-" }
            var cells = [String(epoch), String(step), String(format: "%.3g", learningRate), Format.decimal(loss), Format.fixed(accuracy, 3),
                         optional(validationAccuracy)]
            if columns.segmentation { cells.append(optional(validationMeanIoU)) }
            if columns.searching {
                cells += [Format.quantity(sampledCost), Format.quantity(deterministicCost), Format.fixed(gateEntropy, 3)]
            } else {
                cells.append(Format.quantity(deterministicCost))
            }
            return cells + [String(format: "%.1f", seconds)]
        }
    }

    /// What the epoch table shows: the optimised cost; sampled cost and gate
    /// entropy only while an architecture is searched (a fixed network has one
    /// cost); the validation's mean IoU for segmentation.
    public struct Columns: Codable, Sendable {
        public var costName: String, searching: Bool, segmentation: Bool
        public init(costName: String, searching: Bool, segmentation: Bool) {
            (self.costName, self.searching, self.segmentation) = (costName, searching, segmentation)
        }
    }

    /// The table of epochs (rows printed as they finish).
    public static func table(_ c: Columns) -> Table {
        // A long cost name (parallel-2-cp) widens its column rather than running into the one before.
        let sampled = c.costName + " (sampled)"
        return Table([.left("epoch", 7), .right("step", 8), .right("lr", 8), .right("loss", 9), .right(c.segmentation ? "pix acc" : "acc", 8),
               .right(c.segmentation ? "val pix" : "val acc", 9)]
              + (c.segmentation ? [.right("val IoU", 9)] : [])
              + (c.searching ? [.right(sampled, max(18, sampled.count + 2)), .right("deterministic", 15), .right("entropy", 9)]
                                : [.right(c.costName, max(12, c.costName.count + 2))])
              + [.right("s", 7)])
    }

    public let stepsAsked: Int, stepsDone: Int, seconds: Double
    public let step: Int, epoch: Double
    public let lastLoss: Double?, lastAccuracy: Double?
    public let cost: CostReport, budget: Double?
    public let epochs: [Epoch]
    public let interrupted: Bool
    /// Set when a step diverged: that step's weights were not kept.
    public let diverged: String?
    /// Files of earlier interrupted saves removed by the autosave.
    public var removedFiles: [String] = []
    /// The session's name when the autosave succeeded.
    public var savedAs: String?
    /// Said when a budgeted search's gates have barely moved (`Session.searchHint`).
    public var hint: String?
    /// The epoch table's columns (the terminal printed the table while training ran).
    public var columns: Columns?
    /// The TensorBoard run folder written to (`set tensorboard`), and what went wrong writing it (training goes on).
    public var tensorboard: String?, tensorboardProblem: String?

    /// For a rich display: the epoch table, then what the text says.
    public var blocks: [Block] {
        guard let columns, !epochs.isEmpty else { return [.text(text)] }
        var table = Self.table(columns)
        for e in epochs { table.add(e.cells(columns)) }
        return [.table(table), .text(text)]
    }

    public var text: String {
        var lines = [(diverged != nil ? "stopped after \(stepsDone) of \(stepsAsked) steps" : interrupted ? "interrupted after \(stepsDone) of \(stepsAsked) steps" : "trained \(stepsDone) steps")
                     + String(format: " in %@ (step %d, epoch %.2f); last loss %@, accuracy %.3f; %@ deterministic %@ (expected %@)",
                              Format.duration(seconds), step, epoch, Format.decimal(lastLoss ?? .nan), lastAccuracy ?? .nan, cost.name,
                              Format.quantity(cost.deterministic), Format.quantity(cost.expected))
                     + (budget.map { " vs budget \(Format.quantity($0))" } ?? "")]
        if let hint { lines.append(hint) }
        if let tensorboardProblem { lines.append("tensorboard: \(tensorboardProblem); training went on without its log") }
        if !removedFiles.isEmpty { lines.append(SessionStore.describeRemoved(removedFiles)) }
        if let savedAs { lines.append("saved session '\(savedAs)'") }
        return lines.joined(separator: "\n")
    }
}

/// The autosave after training failed: training's work is in memory (the report says what it did).
public struct AutosaveFailed: FailureWithOutput, CustomStringConvertible {
    public let report: TrainingReport, cause: any Error
    public var output: any Output { report }
    public var description: String {
        "training's results are in memory but the autosave failed: \(cause)" + ("\(cause)".contains("save <other-name>") ? "" : "; save <new-name> keeps them")
    }
}

/// Training stopped at a step whose values were not finite; the report says what was done before.
public struct TrainingStopped: FailureWithOutput, CustomStringConvertible {
    public let report: TrainingReport, cause: TrainingDiverged
    public var output: any Output { report }
    public var description: String { cause.description }
}

extension Session {
    /// The epoch table's columns for this session's model, data and cost.
    public var epochColumns: TrainingReport.Columns {
        TrainingReport.Columns(costName: optimisedCost?.name ?? "flops", searching: isSearching, segmentation: dataset?.isSegmentation == true)
    }

    /// The TensorBoard run of `settings.tensorboard` for this session's name (nil when off), made on first use.
    func tensorboardLog() throws -> TensorBoardRun? {
        guard let root = settings.tensorboard else { return nil }
        let folder = URL(fileURLWithPath: root).appendingPathComponent(name)
        if tensorboardRun?.folder != folder { tensorboardRun = try TensorBoardRun(root: root, run: name) }
        return tensorboardRun
    }

    /// Whether training learns an architecture: the model has gates, and they are not fixed (`build from`).
    public var isSearching: Bool { (network?.gateCount ?? 0) > 0 && modelSpec?.fixedGates == nil }
}

extension Session {
    /// Trains weights and architecture for `steps` steps: metrics of every step
    /// and epoch are recorded; after each epoch the deterministic architecture
    /// is validated (unless `validate` is false). Cancelling stops at the next
    /// batch. With `autosave`, the session is saved when training ends,
    /// whatever happened. Throws `TrainingStopped` when a step diverged (its
    /// weights are not kept), `AutosaveFailed` when the save failed.
    @discardableResult
    public func train(_ length: TrainingLength, validate: Bool = true, cancel: Cancellation = .never,
                      observer: TrainingObserver = TrainingObserver(), autosave store: SessionStore? = nil) throws -> TrainingReport {
        let (net, trainer) = try requireModel()
        let dataset = try requireDataset()
        guard let loader else { throw SessionError("no dataset loaded (e.g. load shapes)") }
        let steps = try stepCount(length)
        // Under mpirun the ranks split every batch (data-parallel); each needs at least one example.
        let ranks = context.communicator, parallel = ranks.distributed
        if parallel && settings.batch < ranks.count {
            throw SessionError("batch \(settings.batch) is smaller than the \(ranks.count) ranks that split it: set batch \(ranks.count) or more")
        }
        if parallel && settings.syncBatchNorm == true && modelSpec?.mode == .subBatch && net.gateCount > 0 && modelSpec?.fixedGates == nil {
            throw SessionError("sync-bn needs every batch norm to run on every rank: sub-batch execution skips a module on a rank that has no example for it; build with mode=mask, or a model without gates")
        }
        let source: any BatchSource = parallel ? ShardedBatches(loader, ranks: ranks) : loader
        // Under mpirun rank 0 alone writes the log.
        let board = ranks.isLeader ? try tensorboardLog() : nil
        var boardProblem: String?
        func write(_ board: TensorBoardRun?) {
            guard let board, boardProblem == nil else { return }
            do { try board.flush() } catch { boardProblem = "\(error)" }
        }
        applySettings()
        observer.begin(epochColumns)
        let perEpoch = max(loader.batchesPerEpoch, 1)
        let start = Date()
        var epochStart = Date(), done = 0, rows = [TrainingReport.Epoch]()
        // Where the loader was before the step in progress: a diverged step gives its batch back.
        var position = loader.state
        var diverged: TrainingDiverged?
        var ranksDisagree: String?
        do {
            _ = try trainer.train(steps: steps, from: source, onStep: { m in
                self.steps.append(m)
                position = loader.state
                done += 1
                board?.add(m)
                if board?.due == true { write(board) }
                observer.step(m, done, steps, Date().timeIntervalSince(start))
                return !cancel.isCancelled && ranksDisagree == nil
            }, onEpoch: { e in
                if parallel { ranksDisagree = self.compareRanks(epoch: e.epoch) }
                var e = e
                if validate && dataset.validation.count > 0 {
                    let batches = CancellableBatches(EvaluationBatches(dataset.validation, augmentation: dataset.augmentation,
                                                                       batchSize: max(settings.batch, 32)), cancel: cancel, progress: observer.validation)
                    let result = try? trainer.evaluateInDetail(batches, classes: dataset.classNames.count)
                    if batches.stoppedAfter == nil, let result {
                        e.validationAccuracy = result.accuracy
                        if dataset.isSegmentation { e.validationMeanIoU = result.meanIoU }
                    }
                }
                e.expectedCost = net.report(reportedCost!).expected
                epochs.append(e)
                if let board, boardProblem == nil {
                    board.add(e, step: trainer.step, segmentation: dataset.isSegmentation, graph: try? pictureSized(.graph(), width: 800))
                    write(board)
                }
                let row = TrainingReport.Epoch(epoch: e.epoch, step: trainer.step, learningRate: Double(trainer.weights.learningRate),
                                               loss: e.loss, accuracy: e.accuracy, validationAccuracy: e.validationAccuracy,
                                               sampledCost: e.sampledCost, deterministicCost: e.deterministicCost, gateEntropy: e.gateEntropy,
                                               validationMeanIoU: e.validationMeanIoU, seconds: Date().timeIntervalSince(epochStart))
                rows.append(row)
                observer.epoch(row)
                epochStart = Date()
            })
        } catch let error as TrainingDiverged {
            loader.restore(position)
            diverged = error
        }
        write(board)
        let last = self.steps.last
        var report = TrainingReport(stepsAsked: steps, stepsDone: done, seconds: Date().timeIntervalSince(start), step: trainer.step,
                                    epoch: Double(trainer.step) / Double(perEpoch), lastLoss: last?.loss, lastAccuracy: last?.accuracy,
                                    cost: net.report(reportedCost!), budget: budgetSpec?.budget.limit, epochs: rows,
                                    interrupted: cancel.isCancelled, diverged: diverged?.description)
        report.hint = searchHint
        report.columns = epochColumns
        (report.tensorboard, report.tensorboardProblem) = (board?.folder.path, boardProblem)
        // Training's work is kept whatever happened; a save that fails makes the verb fail.
        if let store {
            do {
                report.removedFiles = try store.save(self)
                report.savedAs = name
            } catch {
                throw AutosaveFailed(report: report, cause: error)
            }
        }
        if let diverged { throw TrainingStopped(report: report, cause: diverged) }
        if let ranksDisagree { throw SessionError(ranksDisagree) }
        return report
    }

    /// Under mpirun, after each epoch: every rank's checksum of its weights
    /// and gate logits, compared; nil when they agree, else what differs.
    func compareRanks(epoch: Int) -> String? {
        guard let network else { return nil }
        if let perturbed = ProcessInfo.processInfo.environment["BSN_TEST_PERTURB_RANK"], Int(perturbed) == ranks.rank, epoch == 1 {
            network.weights[0].value.data[0] += 1e-3             // a test hook: this rank drifts
        }
        var checksum = 0.0
        for tensor in network.weights.map(\.value) + [network.gateLogits.value] {
            for (k, v) in tensor.values.enumerated() { checksum += Double(v) * Double(1 + k % 7) }
        }
        let all = ranks.gather([checksum], at: ranks.rank, total: ranks.count)
        guard Set(all).count > 1 else { return nil }
        return "the ranks' weights differ after epoch \(epoch) (checksums " + all.enumerated().map { "rank \($0.offset): \($0.element)" }.joined(separator: ", ")
            + "): training stopped; the session holds rank 0's state"
    }
}

/// This rank's rows of each batch of a source (under mpirun), rank r of R
/// taking rows [N·r/R, N·(r+1)/R) of the global batch of N.
final class ShardedBatches: BatchSource {
    let source: any BatchSource, ranks: any Communicator
    private let images = Tensor(shape: [0])
    init(_ source: any BatchSource, ranks: any Communicator) { (self.source, self.ranks) = (source, ranks) }
    var batchesPerEpoch: Int { source.batchesPerEpoch }

    func nextBatch() throws -> (images: Tensor, labels: [Int32]) {
        let (all, labels) = try source.nextBatch()
        let n = all.shape[0], rows = ranks.shard(of: n)
        let perImage = all.count / max(n, 1), perLabel = labels.count / max(n, 1)
        images.reshape([rows.count] + Array(all.shape.dropFirst()))
        withExtendedLifetime(all) { images.data.update(from: all.data + rows.lowerBound * perImage, count: rows.count * perImage) }
        return (images, Array(labels[rows.lowerBound * perLabel..<rows.upperBound * perLabel]))
    }
}

/// Evaluation batches that end early when cancelled (`stoppedAfter` then
/// says after how many), with a progress callback (done, total).
final class CancellableBatches: Sequence {
    let batches: EvaluationBatches
    let cancel: Cancellation
    let progress: (Int, Int) -> Void
    private(set) var stoppedAfter: Int?

    init(_ batches: EvaluationBatches, cancel: Cancellation, progress: @escaping (Int, Int) -> Void) {
        self.batches = batches
        self.cancel = cancel
        self.progress = progress
    }

    func makeIterator() -> AnyIterator<(images: Tensor, labels: [Int32])> {
        let it = batches.makeIterator()
        var done = 0
        return AnyIterator { [self] in
            if cancel.isCancelled { stoppedAfter = done; return nil }
            progress(done, batches.count)
            done += 1
            return it.next()
        }
    }
}
