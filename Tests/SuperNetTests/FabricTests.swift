import SuperNet
import TestSupport
import Tensor
import XCTest

final class FabricTests: XCTestCase {
    private func count(_ net: SuperNetwork, _ role: NodeRole) -> Int { net.nodes.filter { $0.role == role }.count }
    private func edges(_ net: SuperNetwork) -> Int { net.nodes.reduce(0) { $0 + $1.inputs.count } }

    func testCNFClassificationCountsMatchTheHandDerivation() throws {
        var rng = RNG(seed: 1)
        let net = try Fabric.cnf(columns: 8, scales: 6, channels: 8, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 32, width: 32, channels: 3), classes: 10, rng: &rng, context: makeContext())
        // Column 0: 5 downward links. Columns 1…7: per column 2 (top and bottom scale) + 3·4
        // (middle scales) = 16 links, 112 in all. Last column: 5 downward links. 5 + 112 + 5 = 122.
        XCTAssertEqual(net.gateCount, 122)
        // Aggregations: 5 in column 0 (scales 1…5; scale 0 is the stem), 6 in each of columns 1…7.
        XCTAssertEqual(count(net, .aggregation), 5 + 7 * 6)
        // Computing nodes: 122 links + 47 sums + stem + output = 171.
        XCTAssertEqual(net.nodes.filter(\.computes).count, 171)
        // Edges: 2 per link, data → stem, last sum → output.
        XCTAssertEqual(edges(net), 2 * 122 + 2)
        XCTAssertEqual(net.nodes.last!.shape, FeatureShape(height: 1, width: 1, channels: 10))
    }

    func testCNFWithFewerScalesPoolsItsCoarsestMap() throws {
        var rng = RNG(seed: 1)
        let net = try Fabric.cnf(columns: 3, scales: 3, channels: 8, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 32, width: 32, channels: 3), classes: 10, rng: &rng, context: makeContext())
        XCTAssertEqual(net.nodes.last!.shape, FeatureShape(height: 1, width: 1, channels: 10))
        XCTAssertEqual(net.nodes.last!.parameterCount, 8 * 10 + 10)
        let logits = try Executor(net, context: makeContext()).forward(Tensor(shape: [2, 32, 32, 3]), architectures: [net.fullArchitecture], training: false)
        XCTAssertEqual(logits.shape, [2, 10])
    }

    func testCNFSegmentationHas191Gates() throws {
        var rng = RNG(seed: 1)
        let net = try Fabric.cnf(columns: 8, scales: 9, channels: 8, segmentation: true, gated: true)
            .build(input: FeatureShape(height: 256, width: 256, channels: 3), classes: 3, rng: &rng, context: makeContext())
        // 8 + 7·(2 + 3·7) + 8 = 191; the head sits at scale 0 and gives per-pixel scores.
        XCTAssertEqual(net.gateCount, 191)
        XCTAssertEqual(net.nodes.last!.shape, FeatureShape(height: 256, width: 256, channels: 3))
    }

    func testResNetFabricCountsMatchTheHandDerivation() throws {
        var rng = RNG(seed: 2)
        let net = try Fabric.resnet(groups: 3, blocks: 3, shortcuts: true, gated: true)
            .build(input: FeatureShape(height: 32, width: 32, channels: 3), classes: 10, rng: &rng, context: makeContext())
        // Group 0: 3 blocks. Groups 1 and 2: block 0 = block + projection + 2 shortcuts (sources
        // 1 and 0), block 1 = block + 3 shortcuts (0, 1, input), block 2 = block + 2 shortcuts
        // (input, 0); each shortcut is a block and a projection: 6 + 7 + 5 = 18 modules per group.
        XCTAssertEqual(net.gateCount, 3 + 18 + 18)
        XCTAssertEqual(count(net, .module), 1 + 39)                 // plus the ungated stem
        XCTAssertEqual(count(net, .aggregation), 9)
        XCTAssertEqual(count(net, .identity), 2)
        // Edges: data → stem; group 0: 3 per block (in → block, block → sum, skip); groups 1, 2:
        // 1 into the identity + block 0 (4 + 2·4) + block 1 (3 + 3·4) + block 2 (3 + 2·4) = 39; → output.
        XCTAssertEqual(edges(net), 1 + 9 + 39 + 39 + 1)
    }

    func testResNetFabricShortcutSourcesFollowTheSpecExample() throws {
        var rng = RNG(seed: 3)
        let net = try Fabric.resnet(groups: 2, blocks: 5, shortcuts: true, gated: true)
            .build(input: FeatureShape(height: 8, width: 8, channels: 3), classes: 2, rng: &rng, context: makeContext())
        func sources(_ d: Int) -> Set<String> {
            Set(net.nodes.filter { $0.name.hasPrefix("g1b\(d)<-") && $0.name.hasSuffix("-block") }
                .map { String($0.name.dropFirst("g1b\(d)<-".count).dropLast("-block".count)) })
        }
        // n = 5, group 1: d=0 ← 3, 2; d=1 ← 2, 3, 1; d=2 ← 1, 2, 0; d=3 ← 0, 1, input; d=4 ← input, 0.
        XCTAssertEqual(sources(0), ["g0b3", "g0b2"])
        XCTAssertEqual(sources(1), ["g0b2", "g0b3", "g0b1"])
        XCTAssertEqual(sources(2), ["g0b1", "g0b2", "g0b0"])
        XCTAssertEqual(sources(3), ["g0b0", "g0b1", "g0in"])
        XCTAssertEqual(sources(4), ["g0in", "g0b0"])
    }

    func testResNetBaselinesHaveTheStandardParameterCountsPlusBiasesAndProjections() throws {
        // Standard CIFAR ResNet-(6n+2) (He et al., identity shortcuts, no conv bias):
        // 3x3 convs 3→16, 2n of 16→16, 16→32 + (2n−1) of 32→32, 32→64 + (2n−1) of 64→64,
        // batch norm γ, β on 1 + 6n layers, linear 64→10.
        func standard(_ n: Int) -> Int {
            let convs = 432 + 2 * n * 2304 + 4608 + (2 * n - 1) * 9216 + 18432 + (2 * n - 1) * 36864
            return convs + 2 * (16 + 2 * n * (16 + 32 + 64)) + 650
        }
        // Ours adds conv biases (16 + 2n·(16+32+64)) and two 1x1 projections with batch norm on the
        // shape-changing blocks: 16→32 (512 + 32 + 64) and 32→64 (2048 + 64 + 128).
        func ours(_ n: Int) -> Int { standard(n) + 16 + 2 * n * 112 + 608 + 2240 }
        let expected = [20: 273_258, 32: 468_138, 44: 663_018, 56: 857_898, 110: 1_734_858]
        XCTAssertEqual(standard(3), 269_722, "the well-known 0.27M of ResNet-20")
        XCTAssertEqual(standard(18), 1_727_962, "the well-known 1.7M of ResNet-110")
        for (depth, count) in expected {
            var rng = RNG(seed: 4)
            let net = try Fabric.resnet(depth: depth)!.build(input: FeatureShape(height: 32, width: 32, channels: 3), classes: 10, rng: &rng, context: makeContext())
            XCTAssertEqual(net.gateCount, 0, "a baseline has no gates")
            let params = net.nodes.reduce(0) { $0 + $1.parameterCount }
            XCTAssertEqual(params, ours((depth - 2) / 6), "ResNet-\(depth)")
            XCTAssertEqual(params, count, "ResNet-\(depth)")
        }
        XCTAssertNil(Fabric.resnet(depth: 21))
    }
}

/// The size a fabric is checked against memory with, before it is built.
final class FabricSizeTests: XCTestCase {
    func testEstimatedSizeMatchesTheBuiltNetwork() throws {
        let cases: [(Fabric, FeatureShape, Int)] = [
            (.cnf(columns: 8, scales: 6, channels: 16, segmentation: false, gated: true), FeatureShape(height: 32, width: 32, channels: 3), 10),
            (.cnf(columns: 3, scales: 3, channels: 8, segmentation: false, gated: true), FeatureShape(height: 32, width: 32, channels: 3), 10),
            (.cnf(columns: 4, scales: 5, channels: 8, segmentation: true, gated: true), FeatureShape(height: 64, width: 64, channels: 3), 3),
            (.resnet(groups: 3, blocks: 3, shortcuts: true, gated: true), FeatureShape(height: 32, width: 32, channels: 3), 10),
            (Fabric.resnet(depth: 20)!, FeatureShape(height: 32, width: 32, channels: 3), 100),
        ]
        for (fabric, input, classes) in cases {
            var rng = RNG(seed: 1)
            let net = try fabric.build(input: input, classes: classes, rng: &rng, context: makeContext())
            let size = try fabric.size(input: input, classes: classes)
            let parameters = Double(net.weights.reduce(0) { $0 + $1.count })
            let activations = Double(net.nodes.reduce(0) { $0 + $1.shape.elements })
            XCTAssertEqual(size.parameters / parameters, 1, accuracy: 0.02, "\(fabric.summary): \(size.parameters) vs \(parameters) weights")
            // A CNF's nodes are its tensors; a residual block also keeps the tensors inside it, so the estimate is larger.
            if case .cnf = fabric {
                XCTAssertEqual(size.activationsPerExample / activations, 1, accuracy: 0.35, "\(fabric.summary): \(size.activationsPerExample) vs \(activations)")
            } else {
                XCTAssertGreaterThan(size.activationsPerExample, activations, fabric.summary)
                XCTAssertLessThan(size.activationsPerExample, 3 * activations, fabric.summary)
            }
        }
    }

    func testBoundsAreCheckedBeforeAnyShiftOrAllocation() {
        let input = FeatureShape(height: 32, width: 32, channels: 3)
        var rng = RNG(seed: 1)
        assertThrows(try Fabric.resnet(groups: 65, blocks: 1, shortcuts: true, gated: true).build(input: input, classes: 10, rng: &rng, context: makeContext()),
                     mentions: ["k=65", "1…10"])
        assertThrows(try Fabric.cnf(columns: 2, scales: 63, channels: 4, segmentation: false, gated: true).size(input: input, classes: 10),
                     mentions: ["S=63", "1…30"])
        // Within bounds, an absurd size is a number, not an overflow.
        let huge = try? Fabric.cnf(columns: 1000, scales: 30, channels: 65536, segmentation: false, gated: true).size(input: input, classes: 10)
        XCTAssertGreaterThan(huge?.weightBytes ?? 0, 1e15)
    }
}
