import Datasets
import Foundation
import Render
import Session
import SuperNet
import Tensor

struct RenderCommand: Command {
    let name = "render"
    let usage = "render graph|arch|masks|history|pareto <file.png> [options]"
    let summary = "draws the super network, the found architecture, segmentation masks or training plots to a PNG"
    let example = "render graph fabric.png"
    let details = """
    graph     every module coloured and sized by its keep probability (--schedule=n: by the step at
              which the list schedule on n machines runs it, as the parallel cost sees it)
    arch      the deterministic architecture: kept modules strong, dropped ones faded
    masks     segmentation: input | ground truth | prediction | overlay for n= examples (4) of split= (val)
    history   loss, accuracy, cost against the budget, gate entropy over the steps
    pareto    cost against accuracy of this session's evaluations and the saved sessions, Pareto front
    --width=  image width in pixels (1200)
    A copy of each picture is kept in the session's folder.
    """
    let words = ["graph", "arch", "masks", "history", "pareto", "--width=", "--schedule=", "n=", "split="]

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let kind = try a.required("what to draw: graph, arch, masks, history or pareto")
        let path = try a.required("a file name ending in .png")
        guard path.lowercased().hasSuffix(".png") else { throw UsageError("render: the file name must end in .png, got '\(path)'") }
        let width = try a.int("--width", "width", default: 1200, range: 320...8000)!
        let s = nb.session
        let canvas: Canvas
        switch kind {
        case "graph", "arch":
            let machines = try a.int("--schedule", "schedule", range: 1...1024)
            try a.finish()
            let (net, _) = try nb.requireModel("render \(kind)")
            let colouring: GraphColouring = kind == "arch" ? .architecture : machines.map { .schedule(machines: $0) } ?? .probabilities
            canvas = GraphView(net, colouring: colouring, title: title(s, kind == "arch" ? "deterministic architecture" : nil),
                               subtitle: costLine(s, net), width: width).render()
        case "masks":
            let n = try a.int("n", default: 4, range: 1...32)!
            let split = a.option("split") ?? "val"
            try a.finish()
            canvas = try masks(nb, count: n, split: split)
        case "history":
            try a.finish()
            var h = TrainingHistory()
            h.steps = s.steps.map { (step: $0.step, loss: $0.loss, accuracy: $0.accuracy, sampledCost: $0.sampledCost,
                                     deterministicCost: $0.deterministicCost, entropy: $0.gateEntropy) }
            let perEpoch = max(s.loader?.batchesPerEpoch ?? 1, 1)
            h.epochs = s.epochs.map { e in
                let (step, overflow) = e.epoch.multipliedReportingOverflow(by: perEpoch)
                return (step: overflow ? Int.max : step, accuracy: e.accuracy, validation: e.validationAccuracy)
            }
            h.budget = s.budgetSpec?.budget.limit
            h.costName = s.optimisedCost?.name ?? "flops"
            canvas = HistoryView.render(h, title: title(s, "training history") , width: width)
        case "pareto":
            try a.finish()
            // This session's evaluations (test split preferred), and the saved sessions on the same data.
            let splits = Set(s.evaluations.map(\.split)), split = splits.contains("test") ? "test" : "val"
            var models = s.evaluations.filter { $0.split == split }.compactMap { e in
                e.cost.map { (cost: $0, accuracy: e.accuracy, label: "\(s.name) @\(e.step)") }
            }
            for l in nb.store.list() where l.name != s.name && l.dataset == s.dataset?.name && l.costName == s.optimisedCost?.name {
                if let c = l.cost, let acc = l.lastAccuracy { models.append((cost: c, accuracy: acc, label: l.name)) }
            }
            guard !models.isEmpty else { throw UsageError("render pareto: no evaluated models yet (run eval, or save sessions that have one)") }
            canvas = ParetoView.render(models, costName: s.optimisedCost?.name ?? "cost", title: "cost against accuracy: \(models.count) models", width: width)
        default:
            throw UsageError("render: unknown picture '\(kind)'" + didYouMean(kind, in: ["graph", "arch", "masks", "history", "pareto"]))
        }
        try PNG.write(canvas.image, to: path)
        // A copy in the session's folder.
        let folder = nb.store.folder(s.name)
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let copy = folder.appendingPathComponent((path as NSString).lastPathComponent)
        if copy.standardizedFileURL.path != URL(fileURLWithPath: path).standardizedFileURL.path {
            try? FileManager.default.removeItem(at: copy)
            try? FileManager.default.copyItem(atPath: path, toPath: copy.path)
        }
        if !s.renders.contains(copy.lastPathComponent) { s.renders.append(copy.lastPathComponent) }
        nb.console.print("wrote \(path) (\(canvas.width)x\(canvas.height))")
    }

    private func title(_ s: Session, _ what: String?) -> String {
        var parts = [s.modelSpec?.fabric.summary ?? "no model"]
        if let d = s.dataset { parts.append(d.name) }
        if let what { parts.append(what) }
        return parts.joined(separator: " - ")
    }

    private func costLine(_ s: Session, _ net: SuperNetwork) -> String {
        let r = net.report(s.optimisedCost ?? FlopsCost(net))
        var text = "\(r.name): full \(human(r.full)), expected \(human(r.expected)), deterministic \(human(r.deterministic)) \(r.unit)"
        if let b = s.budgetSpec { text += String(format: "; budget %@ (lambda %g, %@)", human(b.budget.limit), b.budget.lambda, b.budget.mode.rawValue) }
        if let t = s.trainer { text += "; step \(t.step)" }
        return text
    }

    /// Predictions of the deterministic architecture on the first n images of a split.
    private func masks(_ nb: Notebook, count: Int, split: String) throws -> Canvas {
        let (net, trainer) = try nb.requireModel("render masks")
        guard let d = nb.session.dataset else { throw UsageError("render masks: no dataset loaded") }
        guard d.isSegmentation else { throw UsageError("render masks: \(d.name) is not a segmentation dataset") }
        var set = try d.split(split)
        if set.count == 0 { set = d.test }
        guard set.count > 0 else { throw UsageError("render masks: the \(split) split is empty") }
        let n = min(count, set.count)
        let subset = set.subset(0..<n)
        let batch = EvaluationBatches(subset, augmentation: d.augmentation, batchSize: n).makeIterator().next()!
        let logits = try trainer.executor.forward(batch.images, architectures: [net.deterministicArchitecture], training: false, inferenceOnly: true)
        let a = d.augmentation, k = logits.dim(-1)
        let offY = (a.height - set.height) / 2, offX = (a.width - set.width) / 2
        var examples = [MaskExample]()
        for e in 0..<n {
            var prediction = [Int32]()
            for y in 0..<set.height {
                for x in 0..<set.width {
                    let row = (e * a.height + y + offY) * a.width + x + offX
                    prediction.append(Int32(argmax(logits.data + row * k, count: k)))
                }
            }
            examples.append(MaskExample(width: set.width, height: set.height, image: Array(subset.image(e)),
                                        truth: subset.mask(e).map(Int32.init), prediction: prediction))
        }
        return MaskView.render(examples, classNames: d.classNames, title: "\(d.name): \(split), deterministic architecture, step \(trainer.step)")
    }
}
