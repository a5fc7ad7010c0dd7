import Datasets
import Files
import Foundation
import Interface
import Render
import SuperNet
import Tensor

/// A picture of the session that `render` draws.
public enum Picture: Sendable {
    /// Every module coloured and sized by its keep probability, or (`schedule`) by the step
    /// at which the list schedule on that many machines runs it.
    case graph(schedule: Int? = nil, allocation: ParallelCost.Allocation = .reference)
    /// The deterministic architecture: kept modules strong, dropped ones faded.
    case architecture
    /// Segmentation: input, ground truth, prediction and overlay for `count` examples of a split.
    case masks(count: Int = 4, split: Split = .validation)
    /// Loss, accuracy, cost against the budget and gate entropy over the steps.
    case history
    /// Cost against accuracy. With sweep children in `store`: every child and
    /// baseline, the front picked on validation, its test accuracy (`pareto`).
    /// Otherwise this session's evaluations and the saved sessions on the same data and cost.
    case pareto(store: SessionStore? = nil)
}

/// What `render` reports: the file written and its size.
public struct RenderReport: Output, ShowsPicture, Sendable {
    public let path: String, width: Int, height: Int
    public var picture: String { path }
    /// The copy kept in the session's folder, when there is one.
    public let copy: String?
    /// Said when the write replaced a symbolic link.
    public var note: String? = nil
    public var text: String { "wrote \(path) (\(width)x\(height))" + (note.map { "\n" + $0 } ?? "") }
}

extension Session {
    /// Draws `picture` to the PNG file `path`, `width` pixels wide. With a
    /// store, a copy is kept in the session's folder (and listed in `renders`).
    @discardableResult
    public func render(_ picture: Picture, to path: String, width: Int = 1200, store: SessionStore? = nil) throws -> RenderReport {
        guard path.lowercased().hasSuffix(".png") else { throw SessionError("the file name must end in .png, got '\(path)'") }
        guard (320...8000).contains(width) else { throw SessionError("the width must be 320…8000 pixels, got \(width)") }
        let canvas = try draw(picture, width: width)
        let bytes = try PNG.encode(canvas.image, path)
        let written: AtomicFile.Written
        do { written = try AtomicFile.write(bytes, to: path) } catch { throw SessionError("\(error)") }
        var copy: URL?
        // The copy in the session's folder, when this process may write there (not while another holds it).
        if let store, store.writes, store.hold(self) {
            let target = store.folder(name).appendingPathComponent((path as NSString).lastPathComponent)
            if target.standardizedFileURL.path != URL(fileURLWithPath: path).standardizedFileURL.path {
                _ = try? AtomicFile.write(bytes, to: target.path)
            }
            if !renders.contains(target.lastPathComponent) { renders.append(target.lastPathComponent) }
            copy = target
        }
        return RenderReport(path: path, width: canvas.width, height: canvas.height, copy: copy?.path, note: written.note)
    }

    /// `picture` as PNG bytes, `width` pixels wide, written nowhere (a live display, a TensorBoard image).
    public func pictureData(_ picture: Picture, width: Int) throws -> Data {
        try pictureSized(picture, width: width).png
    }

    /// `picture` as PNG bytes with its size in pixels.
    func pictureSized(_ picture: Picture, width: Int) throws -> (png: Data, width: Int, height: Int) {
        let canvas = try draw(picture, width: width)
        return (try PNG.encode(canvas.image), canvas.width, canvas.height)
    }

    private func draw(_ picture: Picture, width: Int) throws -> Canvas {
        switch picture {
        case .graph(let machines, let allocation):
            let (net, _) = try requireModel()
            return GraphView(net, colouring: machines.map { .schedule(machines: $0, allocation: allocation) } ?? .probabilities,
                             title: title(nil), subtitle: costLine(net), width: width).render()
        case .architecture:
            let (net, _) = try requireModel()
            return GraphView(net, colouring: .architecture, title: title("deterministic architecture"), subtitle: costLine(net), width: width).render()
        case .masks(let count, let split):
            return try masks(count: count, split: split)
        case .history:
            var h = TrainingHistory()
            h.steps = steps.map { (step: $0.step, loss: $0.loss, accuracy: $0.accuracy, sampledCost: $0.sampledCost,
                                   deterministicCost: $0.deterministicCost, entropy: $0.gateEntropy) }
            let perEpoch = max(loader?.batchesPerEpoch ?? 1, 1)
            h.epochs = epochs.map { e in
                let (step, overflow) = e.epoch.multipliedReportingOverflow(by: perEpoch)
                return (step: overflow ? Int.max : step, accuracy: e.accuracy, validation: e.validationAccuracy, validationIoU: e.validationMeanIoU)
            }
            h.budget = budgetSpec?.budget.limit
            h.costName = optimisedCost?.name ?? "flops"
            return HistoryView.render(h, title: title("training history"), width: width)
        case .pareto(let store):
            if let store, store.list().contains(where: { $0.origin?.parent == name }) {
                let report = try pareto(store: store)
                let models = report.rows.map { r in
                    ParetoView.Model(cost: r.cost, validation: r.validationAccuracy ?? 0, test: r.testAccuracy, label: r.model,
                                     baseline: r.kind == .baseline, onFront: r.onFront, dead: r.dead)
                }
                return ParetoView.render(models, costName: report.costName, split: report.split, chance: report.chance,
                                         title: title("\(models.count) \(report.seedRows.isEmpty ? "models" : "settings") of the sweep, Pareto front"),
                                         width: width)
            }
            // This session's evaluations (test split preferred), and the saved sessions on the same data and cost.
            let split: Split = evaluations.contains { $0.split == .test } ? .test : .validation
            var models = evaluations.filter { $0.split == split }.compactMap { e in
                e.cost.map { (cost: $0, accuracy: e.accuracy, label: "\(name) @\(e.step)") }
            }
            for l in store?.list() ?? [] where l.name != name && l.dataset == dataset?.name && l.costName == optimisedCost?.name {
                if let c = l.cost, let acc = l.lastAccuracy { models.append((cost: c, accuracy: acc, label: l.name)) }
            }
            guard !models.isEmpty else { throw SessionError("no evaluated models yet (run eval, or save sessions that have one)") }
            let front = Set(paretoFront(models.map { ($0.cost, $0.accuracy) }))
            return ParetoView.render(models.indices.map { k in
                ParetoView.Model(cost: models[k].cost, validation: models[k].accuracy, label: models[k].label, onFront: front.contains(k))
            }, costName: optimisedCost?.name ?? "cost", split: split.rawValue, title: "cost against accuracy: \(models.count) models", width: width)
        }
    }

    private func title(_ what: String?) -> String {
        var parts = [modelSpec?.fabric.summary ?? "no model"]
        if let dataset { parts.append(dataset.name) }
        if let what { parts.append(what) }
        return parts.joined(separator: " - ")
    }

    private func costLine(_ net: SuperNetwork) -> String {
        let r = net.report(reportedCost!)
        var text = "\(r.name): full \(Format.quantity(r.full)), expected \(Format.quantity(r.expected)), deterministic \(Format.quantity(r.deterministic)) \(r.unit)"
        if let b = budgetSpec { text += String(format: "; budget %@ (lambda %g, %@)", Format.quantity(b.budget.limit), b.budget.lambda, b.budget.mode.rawValue) }
        if let t = trainer { text += "; step \(t.step)" }
        return text
    }

    /// The deterministic architecture's per-pixel classes for the first `count`
    /// images of a split (cropped back to the stored image size).
    public func predictMasks(count: Int, split: Split) throws -> [MaskExample] {
        let (net, trainer) = try requireModel()
        let d = try requireDataset()
        guard d.isSegmentation else { throw SessionError("\(d.name) is not a segmentation dataset") }
        var set = d.images(split)
        if set.count == 0 { set = d.test }
        guard set.count > 0 else { throw SessionError("the \(split.rawValue) split is empty") }
        let n = min(count, set.count)
        let subset = set.subset(0..<n)
        let batch = EvaluationBatches(subset, augmentation: d.augmentation, batchSize: n).makeIterator().next()!
        let logits = try trainer.executor.forward(batch.images, architectures: [net.deterministicArchitecture], training: false, inferenceOnly: true)
        let a = d.augmentation, k = logits.dim(-1)
        let offY = (a.height - set.height) / 2, offX = (a.width - set.width) / 2
        return (0..<n).map { e in
            var prediction = [Int32]()
            prediction.reserveCapacity(set.height * set.width)
            for y in 0..<set.height {
                for x in 0..<set.width {
                    let row = (e * a.height + y + offY) * a.width + x + offX
                    prediction.append(Int32(argmax(logits.data + row * k, count: k)))
                }
            }
            return MaskExample(width: set.width, height: set.height, image: Array(subset.image(e)),
                               truth: subset.mask(e).map(Int32.init), prediction: prediction)
        }
    }

    private func masks(count: Int, split: Split) throws -> Canvas {
        let examples = try predictMasks(count: count, split: split)
        let d = try requireDataset()
        return MaskView.render(examples, classNames: d.classNames, title: "\(d.name): \(split.rawValue), deterministic architecture, step \(trainer!.step)")
    }
}
