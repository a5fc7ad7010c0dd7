import Foundation

/// One segmentation example: the input image, the true and predicted class
/// of every pixel (-1: unlabelled, e.g. padding).
public struct MaskExample {
    public let width: Int, height: Int
    public let image: [UInt8]          // (H, W, 3)
    public let truth: [Int32], prediction: [Int32]
    public init(width: Int, height: Int, image: [UInt8], truth: [Int32], prediction: [Int32]) {
        (self.width, self.height, self.image, self.truth, self.prediction) = (width, height, image, truth, prediction)
    }
    /// Pixel accuracy over labelled pixels.
    public var accuracy: Double {
        var right = 0, total = 0
        for (t, p) in zip(truth, prediction) where t >= 0 { total += 1; if t == p { right += 1 } }
        return total == 0 ? 0 : Double(right) / Double(total)
    }
}

/// A grid of examples: input | ground truth | prediction | prediction over
/// the input, with each image's pixel accuracy and a class legend.
public enum MaskView {
    public static let columns = ["input", "ground truth", "prediction", "prediction over input"]

    public static func cell(for e: MaskExample) -> Int { max(1, 160 / max(e.width, e.height)) }

    public static func render(_ examples: [MaskExample], classNames: [String], title: String) -> Canvas {
        let first = examples.first ?? MaskExample(width: 64, height: 64, image: [], truth: [], prediction: [])
        let scale = cell(for: first), w = first.width * scale, h = first.height * scale
        let gap = 12, left = 20, top = 60, rowHeight = h + 28
        let width = left * 2 + 4 * w + 3 * gap, height = top + max(examples.count, 1) * rowHeight + 50
        let canvas = Canvas(width: max(width, 420), height: height)
        canvas.title(title, x: Double(left), y: 14, maxWidth: Double(canvas.width - 2 * left))
        for (c, name) in columns.enumerated() {
            canvas.text(name, x: Double(left + c * (w + gap) + w / 2), y: Double(top - 16), size: .small, .ink, anchor: .centre)
        }
        for (r, e) in examples.enumerated() {
            let y = top + r * rowHeight
            func classImage(_ labels: [Int32]) -> [UInt8] {
                labels.flatMap { $0 < 0 ? [235, 235, 235] : ColourMap.qualitative(Int($0)).bytes }
            }
            canvas.image(e.image, width: e.width, height: e.height, x: left, y: y, scale: scale)
            canvas.image(classImage(e.truth), width: e.width, height: e.height, x: left + (w + gap), y: y, scale: scale)
            canvas.image(classImage(e.prediction), width: e.width, height: e.height, x: left + 2 * (w + gap), y: y, scale: scale)
            canvas.image(e.image, width: e.width, height: e.height, x: left + 3 * (w + gap), y: y, scale: scale)
            canvas.image(classImage(e.prediction), width: e.width, height: e.height, x: left + 3 * (w + gap), y: y, scale: scale, alpha: 0.5)
            canvas.text(String(format: "pixel accuracy %.1f%%", 100 * e.accuracy), x: Double(left + 2 * (w + gap) + w / 2), y: Double(y + h + 6),
                        size: .small, .ink, anchor: .centre)
        }
        var x = Double(left)
        let ly = Double(height - 30)
        for (k, name) in classNames.enumerated() {
            canvas.fill(x: x, y: ly, width: 12, height: 12, ColourMap.qualitative(k))
            canvas.text("\(k) \(name)", x: x + 18, y: ly + 2, size: .small)
            x += Double(Canvas.textWidth("\(k) \(name)") + 40)
        }
        canvas.fill(x: x, y: ly, width: 12, height: 12, Colour(hex: 0xEBEBEB))
        canvas.text("unlabelled", x: x + 18, y: ly + 2, size: .small)
        return canvas
    }
}

/// What `render history` plots, per step and per epoch.
public struct TrainingHistory {
    public var steps: [(step: Int, loss: Double, accuracy: Double, sampledCost: Double, deterministicCost: Double, entropy: Double)] = []
    public var epochs: [(step: Int, accuracy: Double, validation: Double?)] = []
    public var budget: Double?
    public var costName = "flops"
    public init() {}
}

public enum HistoryView {
    /// Moving average over `window` points (noisy per-step curves).
    static func smooth(_ v: [(x: Double, y: Double)], window: Int) -> [(x: Double, y: Double)] {
        guard window > 1, v.count > window else { return v }
        var out = [(x: Double, y: Double)](), sum = 0.0
        for (i, p) in v.enumerated() {
            sum += p.y
            if i >= window { sum -= v[i - window].y }
            out.append((p.x, sum / Double(min(i + 1, window))))
        }
        return out
    }

    /// Four panels: loss, accuracy (train, validation), cost (sampled, deterministic, budget), gate entropy.
    public static func render(_ h: TrainingHistory, title: String, width: Int = 1200) -> Canvas {
        let panelW = Double(width - 40) / 2, panelH = 300.0
        let canvas = Canvas(width: width, height: pixelIndex(60 + 2 * panelH + 20))
        canvas.title(title, x: 20, y: 14, maxWidth: Double(width - 40))
        let window = max(1, h.steps.count / 50)
        func series(_ f: (Int) -> Double) -> [(x: Double, y: Double)] { h.steps.indices.map { (Double(h.steps[$0].step), f($0)) } }

        var loss = Plot(title: "training loss", xLabel: "step", yLabel: "loss")
        loss.series = [.init(label: "loss (moving average)", points: smooth(series { h.steps[$0].loss }, window: window), colour: ColourMap.qualitative(0))]
        var acc = Plot(title: "accuracy", xLabel: "step", yLabel: "accuracy")
        acc.series = [.init(label: "train (moving average)", points: smooth(series { h.steps[$0].accuracy }, window: window), colour: ColourMap.qualitative(0)),
                      .init(label: "validation (per epoch)", points: h.epochs.compactMap { e in e.validation.map { (Double(e.step), $0) } },
                            colour: ColourMap.qualitative(1), lines: true)]
        var cost = Plot(title: "\(h.costName) of the architectures", xLabel: "step", yLabel: h.costName)
        cost.series = [.init(label: "sampled (moving average)", points: smooth(series { h.steps[$0].sampledCost }, window: window), colour: ColourMap.qualitative(0)),
                       .init(label: "deterministic", points: series { h.steps[$0].deterministicCost }, colour: ColourMap.qualitative(2))]
        if let b = h.budget, let first = h.steps.first, let last = h.steps.last {
            cost.series.append(.init(label: "budget", points: [(Double(first.step), b), (Double(last.step), b)], colour: ColourMap.qualitative(1), dashed: true))
        }
        var entropy = Plot(title: "mean gate entropy", xLabel: "step", yLabel: "nats")
        entropy.series = [.init(label: "", points: series { h.steps[$0].entropy }, colour: ColourMap.qualitative(4))]

        loss.draw(on: canvas, x: 20, y: 50, width: panelW, height: panelH)
        acc.draw(on: canvas, x: 20 + panelW, y: 50, width: panelW, height: panelH)
        cost.draw(on: canvas, x: 20, y: 50 + panelH, width: panelW, height: panelH)
        entropy.draw(on: canvas, x: 20 + panelW, y: 50 + panelH, width: panelW, height: panelH)
        return canvas
    }
}

public enum ParetoView {
    /// Cost (log x) against accuracy for many models, the Pareto front drawn and labelled.
    public static func render(_ models: [(cost: Double, accuracy: Double, label: String)], costName: String, title: String, width: Int = 1000) -> Canvas {
        let canvas = Canvas(width: width, height: 640)
        canvas.title(title, x: 20, y: 14, maxWidth: Double(width - 40))
        var plot = Plot(title: "", xLabel: costName, yLabel: "accuracy")
        plot.logX = true
        let front = paretoFront(models.map { ($0.cost, $0.accuracy) })
        plot.series = [.init(label: "models", points: models.map { ($0.cost, $0.accuracy) }, colour: ColourMap.qualitative(0), lines: false),
                       .init(label: "Pareto front", points: front.map { (models[$0].cost, models[$0].accuracy) }, colour: ColourMap.qualitative(1))]
        plot.labels = models.indices.map { (models[$0].cost, models[$0].accuracy, models[$0].label, !front.contains($0)) }
        plot.draw(on: canvas, x: 20, y: 40, width: Double(width - 40), height: 580)
        return canvas
    }
}
