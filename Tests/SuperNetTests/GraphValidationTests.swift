import SuperNet
import Tensor
import TestSupport
import XCTest

final class GraphValidationTests: XCTestCase {
    private let shape = FeatureShape(height: 4, width: 4, channels: 2)
    private var rng = RNG(seed: 1)

    private func conv(_ cin: Int = 2, _ cout: Int = 2, stride: Int = 1) -> ConvBN {
        ConvBN(cin, cout, stride: stride, rng: &rng, context: makeContext())
    }

    private func expectError(_ contains: String, _ build: (inout GraphBuilder) -> Void, line: UInt = #line) {
        var b = GraphBuilder(inputShape: shape)
        build(&b)
        XCTAssertThrowsError(try b.build(), line: line) { error in
            XCTAssertTrue("\(error)".contains(contains), "\(error)", line: line)
        }
    }

    func testInvalidGraphsAreRefusedWithTheNodeNamed() {
        expectError("cycle through") { b in
            b.add("x", .input)
            b.add("a", .aggregation, inputs: ["x", "m"])
            b.add("m", .module, module: conv(), inputs: ["a"])
            b.add("out", .output, module: PooledLinear(2, classes: 2, rng: &rng), inputs: ["m"])
        }
        expectError("exactly one input") { b in
            b.add("x", .input)
            b.add("y", .input)
            b.add("out", .output, module: PooledLinear(2, classes: 2, rng: &rng), inputs: ["x"])
        }
        expectError("exactly one output") { b in b.add("x", .input) }
        expectError("'m' has 2 inputs") { b in
            b.add("x", .input)
            b.add("a", .aggregation, inputs: ["x"])
            b.add("m", .module, module: conv(), inputs: ["x", "a"])
            b.add("out", .output, module: PooledLinear(2, classes: 2, rng: &rng), inputs: ["m"])
        }
        expectError("no node named 'nowhere'") { b in
            b.add("x", .input)
            b.add("out", .output, module: PooledLinear(2, classes: 2, rng: &rng), inputs: ["nowhere"])
        }
        expectError("'dangling' is not on a path") { b in
            b.add("x", .input)
            b.add("dangling", .module, module: conv(), inputs: ["x"])
            b.add("out", .output, module: PooledLinear(2, classes: 2, rng: &rng), inputs: ["x"])
        }
        expectError("sums 4x4x2 from 'x' and 2x2x2 from 'down'") { b in
            b.add("x", .input)
            b.add("down", .module, module: conv(stride: 2), inputs: ["x"])
            b.add("a", .aggregation, inputs: ["x", "down"])
            b.add("out", .output, module: PooledLinear(2, classes: 2, rng: &rng), inputs: ["a"])
        }
        expectError("cannot take input 4x4x2") { b in
            b.add("x", .input)
            b.add("m", .module, module: conv(3, 2), inputs: ["x"])
            b.add("out", .output, module: PooledLinear(2, classes: 2, rng: &rng), inputs: ["m"])
        }
        expectError("two nodes are named 'x'") { b in
            b.add("x", .input)
            b.add("x", .aggregation)
        }
    }

    func testNodesComeInTopologicalOrder() throws {
        var rng = RNG(seed: 2)
        let net = try Fabric.cnf(columns: 3, scales: 3, channels: 8, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 4, width: 4, channels: 3), classes: 2, rng: &rng, context: makeContext())
        for (i, node) in net.nodes.enumerated() { XCTAssertTrue(node.inputs.allSatisfy { $0 < i }, node.name) }
        XCTAssertEqual(net.nodes.first?.role, .input)
        XCTAssertEqual(net.nodes.last?.role, .output)
    }
}
