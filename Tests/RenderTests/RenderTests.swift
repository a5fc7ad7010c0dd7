import Foundation
import Render
import SuperNet
import Tensor
import TestSupport
import XCTest

func near(_ c: Colour, _ hex: UInt32, tolerance: Float = 0.03) -> Bool {
    let e = Colour(hex: hex)
    return abs(c.r - e.r) <= tolerance && abs(c.g - e.g) <= tolerance && abs(c.b - e.b) <= tolerance
}

final class CanvasTests: XCTestCase {
    func testPNGRoundTripIsExactForOddSizes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bsn-png-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (w, h) in [(1, 1), (7, 3), (33, 17)] {
            let image = RGBAImage(width: w, height: h, pixels: (0..<(w * h * 4)).map { UInt8(($0 * 37 + w) % 256) })
            let path = folder.appendingPathComponent("\(w)x\(h).png").path
            try PNG.write(image, to: path)
            XCTAssertEqual(try PNG.read(path), image)
        }
        XCTAssertThrowsError(try PNG.write(RGBAImage(width: 1, height: 1, pixels: [0, 0, 0, 255]), to: "/nonexistent/x.png")) {
            XCTAssertTrue("\($0)".contains("does not exist"), "\($0)")
        }
    }

    func testLineCircleRectangleAndTextDrawWhereTheyShould() {
        let c = Canvas(width: 100, height: 60)
        c.line(Point(10.5, 10.5), Point(90.5, 10.5), width: 3, .black)
        XCTAssertTrue(near(c.pixel(10, 10), 0x000000))          // endpoints
        XCTAssertTrue(near(c.pixel(90, 10), 0x000000))
        XCTAssertTrue(near(c.pixel(50, 10), 0x000000))          // midpoint
        XCTAssertTrue(near(c.pixel(50, 14), 0xFFFFFF))          // off the line
        XCTAssertTrue(near(c.pixel(95, 10), 0xFFFFFF))          // past the round cap

        c.circle(Point(30, 40), radius: 8, fill: Colour(hex: 0xFF0000))
        XCTAssertTrue(near(c.pixel(29, 39), 0xFF0000))          // centre
        XCTAssertTrue(near(c.pixel(29, 50), 0xFFFFFF))          // outside
        c.fill(x: 60, y: 30, width: 10, height: 10, Colour(hex: 0x0000FF, alpha: 0.5))
        XCTAssertTrue(near(c.pixel(65, 35), 0x8080FF, tolerance: 0.01))   // half-transparent blue over white
        XCTAssertTrue(near(c.pixel(70, 35), 0xFFFFFF))

        let t = Canvas(width: 60, height: 20)
        t.text("Hi", x: 5, y: 5, size: .small)
        var inside = 0, outside = 0
        for y in 0..<20 { for x in 0..<60 where t.pixel(x, y).r < 0.5 {
            if x >= 5 && x < 5 + Canvas.textWidth("Hi") && y >= 5 && y < 12 { inside += 1 } else { outside += 1 }
        } }
        XCTAssertGreaterThan(inside, 10)
        XCTAssertEqual(outside, 0)
        XCTAssertEqual(Canvas.textWidth("Hi", size: .large), 2 * Canvas.textWidth("Hi"))
    }
}

final class GraphViewTests: XCTestCase {
    /// x → m1 → s1 → out and x → m2 → s2 → out; m1 kept (p = 1), m2 dropped (p = 0).
    func network() throws -> SuperNetwork {
        var rng = RNG(seed: 1)
        var b = GraphBuilder(inputShape: FeatureShape(height: 4, width: 4, channels: 3))
        b.add("x", .input)
        b.add("m1", .module, module: ConvBN(3, 3, rng: &rng, context: makeContext()), gated: true, inputs: ["x"])
        b.add("m2", .module, module: ConvBN(3, 3, rng: &rng, context: makeContext()), gated: true, inputs: ["x"])
        b.add("s1", .aggregation, inputs: ["m1"])
        b.add("s2", .aggregation, inputs: ["m2"])
        b.add("out", .output, inputs: ["s1", "s2"])
        let net = try b.build()
        net.gateLogits.value[0] = 1e30
        net.gateLogits.value[1] = -1e30
        return net
    }

    func testLayoutColoursAndSize() throws {
        let net = try network()
        let view = GraphView(net, title: "test", width: 800)
        let canvas = view.render()
        XCTAssertEqual(canvas.width, 800)
        XCTAssertEqual(canvas.height, view.height)
        // Layered layout: the input in column 0, the sums in column 1 (rows 0 and 1), the output in column 2.
        let index = { (name: String) in net.nodes.firstIndex { $0.name == name }! }
        XCTAssertEqual(view.layout.grid[index("x")]!.column, 0)
        XCTAssertEqual(view.layout.grid[index("s1")]!.column, 1)
        XCTAssertEqual(view.layout.grid[index("s2")]!.column, 1)
        XCTAssertEqual(view.layout.grid[index("out")]!.column, 2)
        XCTAssertNotEqual(view.layout.grid[index("s1")]!.row, view.layout.grid[index("s2")]!.row)
        XCTAssertLessThan(view.position(index("x")).x, view.position(index("s1")).x)
        XCTAssertEqual(view.layout.edges.filter { if case .module = $0 { return true } else { return false } }.count, 2)

        // A point of a module's edge curve, at t along it (the gate's name sits half-way).
        func point(_ module: String, at t: Double) -> Point {
            let i = index(module), n = net.nodes[i]
            let a = view.position(n.inputs[0]), b = view.position(n.outputs[0])
            let (c1, c2) = view.controlPoints(a, b, index: 0, count: 1, span: 1)
            let u = 1 - t, w = (u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t)
            return Point(w.0 * a.x + w.1 * c1.x + w.2 * c2.x + w.3 * b.x, w.0 * a.y + w.1 * c1.y + w.2 * c2.y + w.3 * b.y)
        }
        let kept = point("m1", at: 0.8), dropped = point("m2", at: 0.8)
        // Half-way: the gate's name on a light box over the edge.
        let label = canvas.pixel(Int(point("m1", at: 0.5).x), Int(point("m1", at: 0.5).y))
        XCTAssertTrue(label.b > 0.5, "the gate's name is written half-way along its edge, got \(label)")
        XCTAssertTrue(near(canvas.pixel(Int(kept.x), Int(kept.y)), 0xFDE725, tolerance: 0.05), "p = 1: viridis(1) \(canvas.pixel(Int(kept.x), Int(kept.y)))")
        let faint = canvas.pixel(Int(dropped.x), Int(dropped.y))
        XCTAssertTrue(faint.r > 0.6 && faint.g < faint.r && faint.g < faint.b, "p = 0: faint viridis(0) purple, got \(faint)")
    }

    func testCNFLayoutFollowsColumnsAndScales() throws {
        var rng = RNG(seed: 2)
        let net = try Fabric.cnf(columns: 3, scales: 3, channels: 8, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 8, width: 8, channels: 3), classes: 4, rng: &rng, context: makeContext())
        let view = GraphView(net, title: "cnf", width: 600)
        for (i, n) in net.nodes.enumerated() where n.name.hasPrefix("A-") {
            let parts = n.name.dropFirst(2).split(separator: "_").map { Int($0)! }
            XCTAssertEqual(view.layout.grid[i]!.column, parts[0] + 1, n.name)
            XCTAssertEqual(view.layout.grid[i]!.row, parts[1], n.name)
        }
        XCTAssertEqual(view.layout.columns, 5)            // data, 3 columns, head
        XCTAssertEqual(view.layout.rows, 3)
    }

    func testRendersAreDeterministic() throws {
        let net = try network()
        for colouring in [GraphColouring.probabilities, .architecture, .schedule(machines: 2)] {
            XCTAssertEqual(GraphView(net, colouring: colouring, title: "t").render().image, GraphView(net, colouring: colouring, title: "t").render().image)
        }
        var h = TrainingHistory()
        h.steps = (1...50).map { (step: $0, loss: 2 / Double($0), accuracy: Double($0) / 60, sampledCost: 100 - Double($0), deterministicCost: 90, entropy: 0.5) }
        h.epochs = [(step: 25, accuracy: 0.3, validation: 0.28, validationIoU: nil), (step: 50, accuracy: 0.6, validation: 0.55, validationIoU: nil)]
        h.budget = 70
        XCTAssertEqual(HistoryView.render(h, title: "h").image, HistoryView.render(h, title: "h").image)
        // Segmentation: the validation's mean IoU is drawn beside the pixel accuracy.
        var segmentation = h
        segmentation.epochs = h.epochs.map { (step: $0.step, accuracy: $0.accuracy, validation: $0.validation, validationIoU: $0.validation.map { $0 / 2 }) }
        XCTAssertNotEqual(HistoryView.render(segmentation, title: "h").image, HistoryView.render(h, title: "h").image)
        let models = [ParetoView.Model(cost: 1e6, validation: 0.8, test: 0.79, label: "a", onFront: true),
                      ParetoView.Model(cost: 3e6, validation: 0.9, test: 0.88, label: "b", onFront: true),
                      ParetoView.Model(cost: 4e6, validation: 0.85, label: "c", baseline: true, onFront: false)]
        XCTAssertEqual(ParetoView.render(models, costName: "flops", title: "p").image, ParetoView.render(models, costName: "flops", title: "p").image)
        // A dead network is named below the plot (it has no place on a log axis); chance is a line of its own.
        let dead = models + [ParetoView.Model(cost: 0, validation: 0.1, label: "d", onFront: false, dead: true)]
        XCTAssertNotEqual(ParetoView.render(dead, costName: "flops", title: "p").image, ParetoView.render(models, costName: "flops", title: "p").image)
        XCTAssertNotEqual(ParetoView.render(models, costName: "flops", chance: 0.1, title: "p").image, ParetoView.render(models, costName: "flops", title: "p").image)
    }
}

final class ParetoFrontTests: XCTestCase {
    func testTheFrontIsExactlyTheUnbeatenPointsTiesIncluded() {
        let points: [(cost: Double, accuracy: Double)] = [
            (1, 0.5), (2, 0.6), (1, 0.5),     // 0 and 2 tie: both on the front
            (2, 0.7), (3, 0.7),               // 4 costs more for the same accuracy as 3
            (4, 0.9), (0.5, 0.4), (5, 0.9),   // 7 costs more than 5 for the same
            (0.5, 0.3),                       // beaten by 6 at equal cost
        ]
        XCTAssertEqual(paretoFront(points), [6, 0, 2, 3, 5])
        XCTAssertEqual(paretoFront([]), [])
        XCTAssertEqual(paretoFront([(3, 0.1)]), [0])
    }
}

final class MaskViewTests: XCTestCase {
    func testMaskColoursLandOnTheKnownPixels() {
        // 4x4: truth all hair (1); prediction: left half skin (2), right half hair.
        let truth = [Int32](repeating: 1, count: 16)
        let prediction = (0..<16).map { Int32($0 % 4 < 2 ? 2 : 1) }
        let e = MaskExample(width: 4, height: 4, image: [UInt8](repeating: 0, count: 48), truth: truth, prediction: prediction)
        XCTAssertEqual(e.accuracy, 0.5)
        let canvas = MaskView.render([e], classNames: ["background", "hair", "skin"], title: "m")
        let scale = MaskView.cell(for: e), w = 4 * scale, gap = 12, left = 20, top = 60
        func at(_ panel: Int, _ px: Int, _ py: Int) -> Colour { canvas.pixel(left + panel * (w + gap) + px * scale + scale / 2, top + py * scale + scale / 2) }
        XCTAssertTrue(near(at(1, 0, 0), 0xE15759))           // truth: hair colour
        XCTAssertTrue(near(at(2, 0, 0), 0x59A14F))           // prediction left: skin colour
        XCTAssertTrue(near(at(2, 3, 3), 0xE15759))           // prediction right: hair colour
        XCTAssertTrue(near(at(0, 1, 1), 0x000000))           // the (black) input
        XCTAssertEqual(MaskView.render([e], classNames: ["a", "b", "c"], title: "m").image, MaskView.render([e], classNames: ["a", "b", "c"], title: "m").image)
    }

    func testSixelEncodesBandsOfSixRowsInTheColourCube() {
        // 3x7: red, then a last row of 2 white and 1 transparent (white on the page) pixels.
        var pixels = [UInt8]()
        for _ in 0..<18 { pixels += [255, 0, 0, 255] }
        pixels += [255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0]
        let sixel = TerminalImage.sixel(RGBAImage(width: 3, height: 7, pixels: pixels), maxWidth: 100)
        XCTAssertTrue(sixel.hasPrefix("\u{1B}Pq\"1;1;3;7#0;2;0;0;0#1;2;0;0;20"), sixel.prefix(40).debugDescription)
        XCTAssertTrue(sixel.contains("#180;2;100;0;0"))
        // Band 1: all six rows red (~ = 63 + 0b111111). Band 2: row one white (@ = 63 + 1).
        XCTAssertTrue(sixel.hasSuffix("#180~~~-#215@@@-\u{1B}\\\n"), sixel.suffix(40).debugDescription)
        // Wider than the limit: scaled to it.
        XCTAssertTrue(TerminalImage.sixel(RGBAImage(width: 400, height: 10, pixels: [UInt8](repeating: 255, count: 16000)), maxWidth: 100)
            .hasPrefix("\u{1B}Pq\"1;1;100;2"))
    }
}
