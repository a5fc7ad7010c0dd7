import Foundation
import Interface

/// A line / scatter plot with axes, ticks, labels and a legend.
public struct Plot {
    public struct Series {
        public var label: String
        public var points: [(x: Double, y: Double)]
        public var colour: Colour
        /// Lines join the points; otherwise each is a dot.
        public var lines = true
        public var dashed = false
        /// Dots drawn as rings (points that sit on others stay visible).
        public var hollow = false
        public init(label: String, points: [(x: Double, y: Double)], colour: Colour, lines: Bool = true, dashed: Bool = false, hollow: Bool = false) {
            self.label = label
            self.points = points
            self.colour = colour
            self.lines = lines
            self.dashed = dashed
            self.hollow = hollow
        }
    }
    public var title: String
    public var xLabel: String, yLabel: String
    public var series: [Series] = []
    public var logX = false
    /// Text next to points (Pareto labels): (x, y, text); `faint` ones in grey.
    public var labels: [(x: Double, y: Double, text: String, faint: Bool)] = []
    public init(title: String, xLabel: String, yLabel: String) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
    }

    /// "Nice" tick values covering lo…hi (1, 2, 5 × 10^k steps).
    public static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(count), magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var t = ceil(lo / step) * step, out = [Double]()
        while t <= hi + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    /// Draws the plot in the rectangle (x, y, w, h) of `canvas`.
    public func draw(on canvas: Canvas, x: Double, y: Double, width w: Double, height h: Double) {
        let left = x + 58, right = x + w - 12, topY = y + 26, bottom = y + h - 44
        canvas.text(title, x: x + w / 2, y: y + 4, size: .small, .ink, anchor: .centre)
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite && (!logX || $0.x > 0) }
        guard !all.isEmpty else {
            canvas.strokeRect(x: left, y: topY, width: right - left, height: bottom - topY, .lightGrey)
            canvas.text("no data yet", x: (left + right) / 2, y: (topY + bottom) / 2, size: .small, .grey, anchor: .centre)
            return
        }
        func tx(_ v: Double) -> Double { logX ? log10(v) : v }
        var x0 = all.map { tx($0.x) }.min()!, x1 = all.map { tx($0.x) }.max()!
        var y0 = all.map(\.y).min()!, y1 = all.map(\.y).max()!
        if x1 - x0 < 1e-12 { x0 -= 0.5; x1 += 0.5 }
        if y1 - y0 < 1e-12 { y0 -= abs(y0) * 0.1 + 0.5; y1 += abs(y1) * 0.1 + 0.5 }
        let pad = (y1 - y0) * 0.06
        y0 -= pad; y1 += pad
        if logX || !labels.isEmpty {
            let padX = (x1 - x0) * 0.06
            x0 -= padX
            x1 += padX + (labels.isEmpty ? 0 : (x1 - x0) * 0.08)      // room for the labels on the right
        }
        func px(_ v: Double) -> Double { left + (tx(v) - x0) / (x1 - x0) * (right - left) }
        func py(_ v: Double) -> Double { bottom - (v - y0) / (y1 - y0) * (bottom - topY) }

        // Grid, ticks and labels.
        for t in Plot.ticks(y0, y1) {
            let yy = py(t)
            canvas.line(Point(left, yy), Point(right, yy), width: 1, Colour.lightGrey.with(alpha: 0.7))
            canvas.text(Format.quantity(t, exact: true), x: left - 6, y: yy - 3, size: .small, .grey, anchor: .right)
        }
        // Log axes: powers of ten over three decades or more, 1-2-5 steps over one to three,
        // and round values in between below one decade.
        let xTicks: [Double]
        if !logX {
            xTicks = Plot.ticks(x0, x1)
        } else if x1 - x0 < 1 {
            xTicks = Plot.ticks(pow(10, x0), pow(10, x1)).filter { $0 > 0 }
        } else {
            xTicks = (Int(floor(x0))...Int(ceil(x1))).flatMap { k in (x1 - x0 < 3 ? [1.0, 2, 5] : [1.0]).map { $0 * pow(10, Double(k)) } }
                .filter { tx($0) >= x0 && tx($0) <= x1 }
        }
        for t in xTicks {
            let xx = px(t)
            canvas.line(Point(xx, bottom), Point(xx, bottom + 4), width: 1, .grey)
            canvas.text(Format.quantity(t, exact: true), x: xx, y: bottom + 8, size: .small, .grey, anchor: .centre)
        }
        canvas.line(Point(left, topY), Point(left, bottom), width: 1, .ink)
        canvas.line(Point(left, bottom), Point(right, bottom), width: 1, .ink)
        canvas.text(xLabel + (logX ? " (log scale)" : ""), x: (left + right) / 2, y: bottom + 22, size: .small, .ink, anchor: .centre)
        canvas.verticalText(yLabel, x: x + 10, y: (topY + bottom) / 2, size: .small)

        // Series.
        for s in series {
            let pts = s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logX || $0.x > 0) }.map { Point(px($0.x), py($0.y)) }
            if s.lines {
                if s.dashed {
                    for k in stride(from: 0, to: pts.count - 1, by: 1) {
                        let a = pts[k], b = pts[k + 1], length = hypot(b.x - a.x, b.y - a.y)
                        var d = 0.0
                        while d < length {
                            let e = min(d + 6, length)
                            canvas.line(Point(a.x + (b.x - a.x) * d / length, a.y + (b.y - a.y) * d / length),
                                        Point(a.x + (b.x - a.x) * e / length, a.y + (b.y - a.y) * e / length), width: 1.5, s.colour)
                            d += 10
                        }
                    }
                } else {
                    canvas.stroke(pts, width: 1.75, s.colour)
                }
                if pts.count == 1 { canvas.circle(pts[0], radius: 2.5, fill: s.colour) }
            } else {
                for p in pts {
                    if s.hollow { canvas.circle(p, radius: 5, stroke: s.colour, lineWidth: 1.5) } else { canvas.circle(p, radius: 3.5, fill: s.colour, stroke: .white, lineWidth: 1) }
                }
            }
        }
        // Labels above-right of their point, moved up or down a line at a time past the ones already placed
        // (strong ones first); one that finds no free place within four lines is left out.
        var placed = [(x: Double, y: Double, w: Double)]()
        let order = labels.indices.sorted { (labels[$0].faint ? 1 : 0, $0) < (labels[$1].faint ? 1 : 0, $1) }
        for k in order {
            let l = labels[k]
            guard l.x.isFinite && l.y.isFinite && (!logX || l.x > 0) else { continue }
            let x0 = px(l.x) + 6, w = Double(Canvas.textWidth(l.text))
            let free = { (y: Double) in !placed.contains { abs($0.y - y) < 10 && x0 < $0.x + $0.w + 4 && $0.x < x0 + w + 4 } }
            guard let y = [-12.0, 4, -24, 16, -36, 28, -48].map({ py(l.y) + $0 }).first(where: free) else { continue }
            placed.append((x0, y, w))
            canvas.text(l.text, x: x0, y: y, size: .small, l.faint ? .grey : .ink)
        }
        // Legend on a white box, top right or bottom right, whichever holds fewer points.
        let labelled = series.filter { !$0.label.isEmpty }
        let drawn = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite && (!logX || $0.x > 0) }.map { Point(px($0.x), py($0.y)) }
        let boxHeight = Double(14 * labelled.count + 6), boxLeft = (left + right) / 2
        let inTop = drawn.filter { $0.x >= boxLeft && $0.y <= topY + boxHeight + 6 }.count
        let inBottom = drawn.filter { $0.x >= boxLeft && $0.y >= bottom - boxHeight - 6 }.count
        var ly = inBottom < inTop ? bottom - boxHeight : topY + 6
        if !labelled.isEmpty {
            let boxWidth = Double(labelled.map { Canvas.textWidth($0.label) }.max()! + 36)
            canvas.fill(x: right - 10 - boxWidth, y: ly - 4, width: boxWidth + 6, height: Double(14 * labelled.count + 6), Colour.white.with(alpha: 0.85))
        }
        for s in labelled {
            let lx = right - 10 - Double(Canvas.textWidth(s.label)) - 22
            if s.lines {
                canvas.line(Point(lx, ly + 3), Point(lx + 16, ly + 3), width: 2, s.colour)
            } else if s.hollow {
                canvas.circle(Point(lx + 8, ly + 3), radius: 4, stroke: s.colour, lineWidth: 1.5)
            } else {
                canvas.circle(Point(lx + 8, ly + 3), radius: 3.5, fill: s.colour)
            }
            canvas.text(s.label, x: lx + 22, y: ly, size: .small)
            ly += 14
        }
    }
}

/// The Pareto front of (cost, accuracy) points: the points no other point
/// beats on both (lower or equal cost and higher or equal accuracy, one
/// strictly); equal points are all on it. Sorted by cost, then accuracy down.
public func paretoFront(_ points: [(cost: Double, accuracy: Double)]) -> [Int] {
    points.indices.filter { i in
        !points.indices.contains { j in
            j != i && points[j].cost <= points[i].cost && points[j].accuracy >= points[i].accuracy
                && (points[j].cost < points[i].cost || points[j].accuracy > points[i].accuracy)
        }
    }.sorted { (points[$0].cost, -points[$0].accuracy) < (points[$1].cost, -points[$1].accuracy) }
}
