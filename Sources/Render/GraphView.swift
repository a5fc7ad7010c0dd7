import Foundation
import SuperNet

/// How a super network is drawn.
///
/// Junctions (the input, sums, identities, the output, and any module that
/// does not have exactly one input and one output, like a stem) are dots;
/// every other module is drawn as a curve from its input junction to its
/// output junction. A CNF sits on its natural grid: junction "A-l_k" at column
/// l (left → right) and scale k (top → bottom), the data on the left, the
/// head on the right. Other graphs are layered: a junction's column is its
/// longest distance from the input, its row its order within the column;
/// modules skipping columns arc above, parallel modules fan out.
public struct GraphLayout {
    public enum Edge: Equatable {
        /// A module drawn as a curve (node index), between two junctions.
        case module(Int, from: Int, to: Int)
        /// A direct connection between junctions (an identity skip).
        case plain(from: Int, to: Int)
        public var ends: (Int, Int) {
            switch self { case let .module(_, f, t), let .plain(f, t): return (f, t) }
        }
    }
    public let junctions: [Int]
    public let edges: [Edge]
    /// Grid position (column, row) of every junction.
    public let grid: [Int: (column: Int, row: Int)]
    public let columns: Int, rows: Int

    public init(_ net: SuperNetwork) {
        let nodes = net.nodes
        func drawnAsEdge(_ i: Int) -> Bool { nodes[i].role == .module && nodes[i].inputs.count == 1 && nodes[i].outputs.count == 1 }
        junctions = nodes.indices.filter { !drawnAsEdge($0) }
        var edges = [Edge]()
        for i in nodes.indices {
            if drawnAsEdge(i) {
                edges.append(.module(i, from: nodes[i].inputs[0], to: nodes[i].outputs[0]))
            } else {
                for source in nodes[i].inputs where !drawnAsEdge(source) { edges.append(.plain(from: source, to: i)) }
            }
        }
        self.edges = edges

        var grid = [Int: (column: Int, row: Int)]()
        let placed = junctions.compactMap { i in nodes[i].grid.map { (i, $0.column, $0.scale) } }
        if !placed.isEmpty && placed.count + 2 == junctions.count {
            // A fabric's grid (the CNF's): the data left of its first column, the head right of its input.
            for (i, l, k) in placed { grid[i] = (l + 1, k) }
            for i in junctions where grid[i] == nil {
                if nodes[i].role == .input { grid[i] = (0, 0) } else {
                    let from = grid[nodes[i].inputs[0]] ?? (0, 0)
                    grid[i] = (from.column + 1, from.row)
                }
            }
        } else {
            // Layered: longest path from the input over the drawn edges (nodes are in topological order).
            var depth = [Int: Int]()
            for i in junctions { depth[i] = 0 }
            for i in nodes.indices where !drawnAsEdge(i) {
                for e in edges where e.ends.1 == i { depth[i] = max(depth[i]!, (depth[e.ends.0] ?? 0) + 1) }
            }
            var used = [Int: Int]()
            for i in junctions {
                let d = depth[i]!
                grid[i] = (d, used[d, default: 0])
                used[d, default: 0] += 1
            }
        }
        self.grid = grid
        columns = (grid.values.map(\.column).max() ?? 0) + 1
        rows = (grid.values.map(\.row).max() ?? 0) + 1
    }
}

/// What the colours of a graph show.
public enum GraphColouring: Sendable {
    /// Each module's keep probability (colour and width).
    case probabilities
    /// The deterministic architecture: kept modules strong, dropped ones faded.
    case architecture
    /// The step at which the list schedule on n machines runs each node (parallel cost, under its allocation).
    case schedule(machines: Int, allocation: ParallelCost.Allocation = .reference)
}

/// Draws a super network (see GraphLayout) with a title, a subtitle (costs,
/// budget) and a legend.
public struct GraphView {
    public let network: SuperNetwork
    public let layout: GraphLayout
    public var colouring: GraphColouring
    public var title: String, subtitle: String
    public let width: Int
    public let margin = 60.0, top = 80.0, rowGap = 64.0, legendHeight = 70.0

    public init(_ network: SuperNetwork, colouring: GraphColouring = .probabilities, title: String, subtitle: String = "", width: Int = 1200) {
        self.network = network
        let layout = GraphLayout(network)
        self.layout = layout
        let longest = layout.edges.map { e in abs((layout.grid[e.ends.1]?.column ?? 0) - (layout.grid[e.ends.0]?.column ?? 0)) }.max() ?? 0
        arcSpace = longest > 1 ? Self.arcHeight(span: longest) * 0.75 : 0
        self.colouring = colouring
        self.title = title
        self.subtitle = subtitle
        // Room for the gate names: a layered graph with many columns grows wider (up to 4000 pixels).
        let labelled = network.gateCount <= Self.maxGateLabels
        fan = labelled ? 26 : 16
        self.width = max(width, 320, labelled ? min(Int(Double(layout.columns - 1) * 96 + 2 * margin), 4000) : 0)
    }

    /// Distance between the middles of parallel curves (between the same two junctions).
    let fan: Double

    public var height: Int { pixelIndex(top + arcSpace + Double(max(layout.rows, 1)) * rowGap + legendHeight + 20) }

    /// Room above the first row for modules that skip columns (arcs).
    let arcSpace: Double

    static func arcHeight(span: Int) -> Double { min(18 * Double(span), 110) }

    /// Pixel position of a junction.
    public func position(_ node: Int) -> Point {
        let g = layout.grid[node] ?? (0, 0)
        let step = layout.columns > 1 ? (Double(width) - 2 * margin) / Double(layout.columns - 1) : 0
        return Point(margin + Double(g.column) * step, top + arcSpace + rowGap / 2 + Double(g.row) * rowGap)
    }

    /// The curve of an edge: k-th of `count` edges between the same junctions.
    public func controlPoints(_ a: Point, _ b: Point, index k: Int, count: Int, span: Int) -> (Point, Point) {
        let dx = b.x - a.x, dy = b.y - a.y, length = max(hypot(dx, dy), 1)
        let nx = -dy / length, ny = dx / length                         // unit normal
        var bend = (Double(k) - Double(count - 1) / 2) * fan
        if span > 1 && abs(dy) < 1 { bend -= Self.arcHeight(span: span) }   // long skips arc above the row
        return (Point(a.x + dx / 3 + nx * bend, a.y + dy / 3 + ny * bend), Point(a.x + 2 * dx / 3 + nx * bend, a.y + 2 * dy / 3 + ny * bend))
    }

    /// The style of a module edge: colour (with alpha) and width.
    public func style(module i: Int, probabilities p: [Float], kept: Architecture, steps: [Int: Int], lastStep: Int) -> (Colour, Double) {
        let keep = network.nodes[i].gate.map { Double(p[$0]) } ?? 1
        switch colouring {
        case .probabilities:
            return (ColourMap.viridis(keep).with(alpha: Float(0.35 + 0.65 * keep)), 0.75 + 3.25 * keep)
        case .architecture:
            return kept.active.contains(i) ? (ColourMap.viridis(keep), 2.75) : (Colour.lightGrey.with(alpha: 0.8), 1)
        case .schedule:
            guard let s = steps[i] else { return (Colour.lightGrey.with(alpha: 0.8), 1) }
            return (ColourMap.viridis(Double(s - 1) / Double(max(lastStep - 1, 1))), 2.75)
        }
    }

    /// The point at `t` (0…1) of the cubic Bézier curve a, c1, c2, b.
    static func bezier(_ a: Point, _ c1: Point, _ c2: Point, _ b: Point, at t: Double) -> Point {
        let u = 1 - t
        let w0 = u * u * u, w1 = 3 * u * u * t, w2 = 3 * u * t * t, w3 = t * t * t
        let x: Double = w0 * a.x + w1 * c1.x + w2 * c2.x + w3 * b.x
        let y: Double = w0 * a.y + w1 * c1.y + w2 * c2.y + w3 * b.y
        return Point(x, y)
    }

    /// Gate names are written on the edges of fabrics with at most this many gates.
    public static let maxGateLabels = 80

    public func render() -> Canvas {
        let canvas = Canvas(width: width, height: height)
        let p = network.keepProbabilities
        let kept = network.deterministicArchitecture
        var steps = [Int: Int](), lastStep = 1
        if case .schedule(let machines, let allocation) = colouring {
            let s = ParallelCost(network, machines: machines, allocation: allocation).schedule(kept)
            (steps, lastStep) = (s.stepOf, max(s.steps, 1))
        }
        canvas.title(title, x: margin - 30, y: 18, maxWidth: Double(width) - margin)
        canvas.text(subtitle, x: margin - 30, y: 50, size: .small, .grey)

        // Edges, weakest first so strong ones lie on top.
        var pairCount = [String: Int](), pairIndex = [String: Int]()
        for e in layout.edges { pairCount["\(e.ends.0)-\(e.ends.1)", default: 0] += 1 }
        func order(_ e: GraphLayout.Edge) -> Double {
            if case let .module(i, _, _) = e { return network.nodes[i].gate.map { Double(p[$0]) } ?? 1 }
            return 2
        }
        let ordered = layout.edges.enumerated().sorted { (order($0.element), $0.offset) < (order($1.element), $1.offset) }.map(\.element)
        // Each gated module's name on its own curve (up to 80 gates; more would cover the picture), drawn over every edge.
        let labelled = network.gateCount <= Self.maxGateLabels
        var labels = [(name: String, at: Point)]()
        for e in ordered {
            let (f, t) = e.ends, key = "\(f)-\(t)"
            let k = pairIndex[key, default: 0]
            pairIndex[key] = k + 1
            let a = position(f), b = position(t)
            let span = abs((layout.grid[t]?.column ?? 0) - (layout.grid[f]?.column ?? 0))
            let (c1, c2) = controlPoints(a, b, index: k, count: pairCount[key]!, span: span)
            switch e {
            case let .module(i, _, _):
                let (colour, lineWidth) = style(module: i, probabilities: p, kept: kept, steps: steps, lastStep: lastStep)
                canvas.curve(a, c1, c2, b, width: lineWidth, colour)
                if labelled && network.nodes[i].gate != nil {
                    // Half-way, or nearer the start on a diagonal: two diagonals of a fabric cross at their middles.
                    let along: Double = abs(a.x - b.x) > 1 && abs(a.y - b.y) > 1 ? 0.3 : 0.5
                    labels.append((network.nodes[i].name, Self.bezier(a, c1, c2, b, at: along)))
                }
            case .plain:
                canvas.curve(a, c1, c2, b, width: 1.5, Colour.grey)
            }
        }
        for (name, mid) in labels {
            let w = Double(Canvas.textWidth(name))
            canvas.fill(x: mid.x - w / 2 - 1, y: mid.y - 5, width: w + 2, height: 9, Colour.white.with(alpha: 0.7))
            canvas.text(name, x: mid.x, y: mid.y - 4, size: .small, .grey, anchor: .centre)
        }
        // Labels: on a CNF grid each scale's resolution at the left; elsewhere each junction's name.
        let onGrid = layout.junctions.contains { network.nodes[$0].name.hasPrefix("A-") }
        var labelledRows = Set<Int>()
        for i in layout.junctions {
            let node = network.nodes[i], c = position(i)
            guard node.role != .input && node.role != .output else { continue }
            if onGrid {
                if let row = layout.grid[i]?.row, !labelledRows.contains(row), node.name.hasPrefix("A-") {
                    labelledRows.insert(row)
                    // Left of the first fabric column, above its line.
                    let firstColumn = layout.junctions.filter { layout.grid[$0]?.row == row && network.nodes[$0].name.hasPrefix("A-") }
                        .map { position($0).x }.min() ?? c.x
                    canvas.text("\(node.shape.height)x\(node.shape.width)", x: firstColumn - 8, y: c.y - 13, size: .small, .grey, anchor: .right)
                }
            } else {
                canvas.text(node.name, x: c.x, y: c.y + 10, size: .small, .grey, anchor: .centre)
            }
        }
        // Junctions.
        for i in layout.junctions {
            let c = position(i), node = network.nodes[i]
            var fill = Colour.ink
            if case .architecture = colouring, !kept.active.contains(i) { fill = Colour.lightGrey }
            if case .schedule = colouring {
                fill = steps[i].map { ColourMap.viridis(Double($0 - 1) / Double(max(lastStep - 1, 1))) } ?? Colour.lightGrey
            }
            if node.role == .input || node.role == .output {
                canvas.fill(x: c.x - 7, y: c.y - 7, width: 14, height: 14, fill)
                canvas.text(node.role == .input ? "input" : "output", x: c.x, y: c.y + 12, size: .small, .ink, anchor: .centre)
            } else {
                canvas.circle(c, radius: 4.5, fill: fill, stroke: .white, lineWidth: 1)
            }
        }
        drawLegend(canvas, lastStep: lastStep)
        return canvas
    }

    private func drawLegend(_ canvas: Canvas, lastStep: Int) {
        let y = Double(height) - legendHeight + 10, x = margin - 30
        switch colouring {
        case .probabilities, .schedule:
            let isSchedule: Bool = { if case .schedule = colouring { return true } else { return false } }()
            let label = isSchedule ? "step of the list schedule" : "keep probability p (colour; line width grows with p)"
            canvas.text(label, x: x, y: y, size: .small)
            let barWidth = 300.0
            for i in 0..<max(0, pixelIndex(barWidth)) { canvas.fill(x: x + Double(i), y: y + 14, width: 1, height: 12, ColourMap.viridis(Double(i) / (barWidth - 1))) }
            let ends = isSchedule ? ("1", "\(lastStep)") : ("0", "1")
            canvas.text(ends.0, x: x, y: y + 32, size: .small)
            if !isSchedule { canvas.text("0.5", x: x + barWidth / 2, y: y + 32, size: .small, anchor: .centre) }
            canvas.text(ends.1, x: x + barWidth, y: y + 32, size: .small, anchor: .right)
        case .architecture:
            canvas.line(Point(x, y + 20), Point(x + 40, y + 20), width: 2.75, ColourMap.viridis(0.9))
            canvas.text("kept (p > 0.5, on an input-output path)", x: x + 50, y: y + 16, size: .small)
            canvas.line(Point(x + 330, y + 20), Point(x + 370, y + 20), width: 1, Colour.lightGrey)
            canvas.text("dropped", x: x + 380, y: y + 16, size: .small)
        }
    }
}
