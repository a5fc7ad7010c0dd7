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
    public var epochs: [(step: Int, accuracy: Double, validation: Double?, validationIoU: Double?)] = []
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

    /// Four panels: loss, accuracy (train, validation; segmentation: and the validation's mean IoU), cost (sampled, deterministic, budget), gate entropy.
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
        let iou = h.epochs.compactMap { e in e.validationIoU.map { (x: Double(e.step), y: $0) } }
        if !iou.isEmpty {
            acc.title = "pixel accuracy and mean IoU"
            acc.series[1].label = "validation pixel accuracy (per epoch)"
            acc.series.append(.init(label: "validation mean IoU (per epoch)", points: iou, colour: ColourMap.qualitative(3)))
        }
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
    /// One model of the picture: its cost and accuracies, how it is marked.
    public struct Model {
        public var cost: Double, validation: Double
        /// Drawn for the front's models, in a colour of its own.
        public var test: Double?
        public var label: String
        /// A fixed baseline (drawn apart from the searched models).
        public var baseline: Bool
        public var onFront: Bool
        /// No input → output path: listed apart, below the plot.
        public var dead: Bool
        public init(cost: Double, validation: Double, test: Double? = nil, label: String, baseline: Bool = false, onFront: Bool, dead: Bool = false) {
            (self.cost, self.validation, self.test, self.label, self.baseline, self.onFront, self.dead) = (cost, validation, test, label, baseline, onFront, dead)
        }
    }

    /// Cost (log x) against accuracy: every model (searched and baselines
    /// apart), the front as a staircase (accuracy reached at each cost), the
    /// front's test accuracy beside its validation accuracy, and what guessing
    /// scores (`chance`) as a dashed line. Dead networks, and other models of
    /// cost 0, cannot sit on a log axis: they are named in a line of their own.
    /// Models at the same point share one label.
    public static func render(_ all: [Model], costName: String, split: String = "val", chance: Double? = nil, title: String, width: Int = 1000) -> Canvas {
        let models = all.filter { !$0.dead && $0.cost > 0 && $0.cost.isFinite }
        let apart = all.filter { $0.dead || !($0.cost > 0 && $0.cost.isFinite) }
        let canvas = Canvas(width: width, height: 640)
        canvas.title(title, x: 20, y: 14, maxWidth: Double(width - 40))
        var plot = Plot(title: "", xLabel: costName, yLabel: "accuracy")
        plot.logX = true
        let front = models.filter(\.onFront).sorted { ($0.cost, $0.validation) < ($1.cost, $1.validation) }
        func staircase(_ points: [(x: Double, y: Double)]) -> [(x: Double, y: Double)] {
            var out = [(x: Double, y: Double)]()
            for (k, p) in points.enumerated() {
                if k > 0 { out.append((p.x, points[k - 1].y)) }
                out.append(p)
            }
            if let last = points.last, let right = models.map(\.cost).max(), right > last.x { out.append((right, last.y)) }
            return out
        }
        let searched = models.filter { !$0.baseline }, baselines = models.filter(\.baseline)
        plot.series = [.init(label: "searched (\(split))", points: searched.map { ($0.cost, $0.validation) }, colour: ColourMap.qualitative(0), lines: false)]
        if !baselines.isEmpty {
            plot.series.append(.init(label: "baselines (\(split))", points: baselines.map { ($0.cost, $0.validation) }, colour: ColourMap.qualitative(2), lines: false))
        }
        plot.series.append(.init(label: "Pareto front (\(split))", points: staircase(front.map { ($0.cost, $0.validation) }), colour: ColourMap.qualitative(1)))
        let tested = front.filter { $0.test != nil }
        if !tested.isEmpty {
            plot.series.append(.init(label: "front, test accuracy", points: staircase(tested.map { ($0.cost, $0.test!) }), colour: ColourMap.qualitative(3), dashed: true))
            plot.series.append(.init(label: "test", points: tested.map { ($0.cost, $0.test!) }, colour: ColourMap.qualitative(3), lines: false, hollow: true))
        }
        if let chance, let lo = models.map(\.cost).min(), let hi = models.map(\.cost).max() {
            plot.series.append(.init(label: String(format: "chance (%.3f)", chance), points: [(lo, chance), (hi, chance)], colour: .grey, dashed: true))
        }
        // One label per point: models of the same cost and accuracy are named together.
        var labels = [(x: Double, y: Double, text: String, faint: Bool)]()
        for m in models {
            if let k = labels.firstIndex(where: { $0.x == m.cost && abs($0.y - m.validation) < 1e-9 }) {
                labels[k].text += ", " + m.label
                labels[k].faint = labels[k].faint && !m.onFront
            } else {
                labels.append((m.cost, m.validation, m.label, !m.onFront))
            }
        }
        plot.labels = labels
        plot.draw(on: canvas, x: 20, y: 40, width: Double(width - 40), height: 560)
        if !apart.isEmpty {
            let names = apart.map { $0.label + ($0.dead ? "" : " (cost 0)") }.joined(separator: ", ")
            var line = "not drawn, dead (no input -> output path): " + names
            let fits = max(8, (width - 40) / TextSize.small.advance)
            if line.count > fits { line = String(line.prefix(fits - 3)) + "..." }
            canvas.text(line, x: 20, y: 612, size: .small, .grey)
        }
        return canvas
    }
}
