import Foundation
import Layers
import SuperNet
import Tensor
import TestSupport
import XCTest

/// Building super networks from search-space files: the samples against the
/// built-in fabrics, and each kind of problem with its line.
final class SpacePlanTests: XCTestCase {
    static let cifar = FeatureShape(height: 32, width: 32, channels: 3)

    static func source(_ sample: String, _ given: [String: Int]) throws -> SpaceSource {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../samples/spaces/\(sample)").standardized.path
        return try SpaceSource.read(path, given: given)
    }

    /// The same nodes in the same order, the same modules, gates and initial weights, the same costs.
    func assertSame(_ a: SuperNetwork, _ b: SuperNetwork, _ what: String) {
        XCTAssertEqual(a.nodes.map(\.name), b.nodes.map(\.name), what)
        for (m, n) in zip(a.nodes, b.nodes) {
            XCTAssertEqual(m.role, n.role, "\(what) \(m.name)")
            XCTAssertEqual(m.inputs, n.inputs, "\(what) \(m.name)")
            XCTAssertEqual(m.outputs, n.outputs, "\(what) \(m.name)")
            XCTAssertEqual(m.gate, n.gate, "\(what) \(m.name)")
            XCTAssertEqual(m.shape, n.shape, "\(what) \(m.name)")
            XCTAssertEqual(m.multiplyAccumulates, n.multiplyAccumulates, "\(what) \(m.name)")
            XCTAssertEqual(m.module?.kind, n.module?.kind, "\(what) \(m.name)")
        }
        let (s, t) = (a.stateTensors, b.stateTensors)
        XCTAssertEqual(s.map(\.name), t.map(\.name), what)
        for (x, y) in zip(s, t) { XCTAssertEqual(x.tensor.values, y.tensor.values, "\(what) \(x.name): bit-identical initial values") }
        for cost in [FlopsCost(a) as any Cost, ParameterCost(a)] {
            let other: any Cost = cost is FlopsCost ? FlopsCost(b) : ParameterCost(b)
            XCTAssertEqual(cost.cost(of: a.fullArchitecture), other.cost(of: b.fullArchitecture), what)
        }
        var rng = RNG(seed: 9)
        let sampled = (0..<5).map { _ in a.sampleArchitecture([Float](repeating: 0.6, count: a.gateCount), rng: &rng) }
        for machines in [1, 2, 4] {
            for allocation in ParallelCost.Allocation.allCases {
                let (p, q) = (ParallelCost(a, machines: machines, allocation: allocation), ParallelCost(b, machines: machines, allocation: allocation))
                XCTAssertEqual(p.cost(of: a.fullArchitecture), q.cost(of: b.fullArchitecture), "\(what) n=\(machines) \(allocation)")
                for arch in sampled {
                    XCTAssertEqual(p.cost(of: arch), q.cost(of: b.architecture(gates: arch.gates)), "\(what) n=\(machines) \(allocation)")
                }
            }
        }
    }

    func build(_ fabric: Fabric, input: FeatureShape = cifar, classes: Int = 10, seed: UInt64 = 5) throws -> SuperNetwork {
        var rng = RNG(seed: seed)
        return try fabric.build(input: input, classes: classes, rng: &rng, context: makeContext())
    }

    func testCNFFileIsBuildCNF() throws {
        for (w, s, c) in [(4, 4, 16), (8, 6, 8), (1, 3, 4), (3, 2, 4)] {
            let file = try build(.space(Self.source("cnf.yaml", ["W": w, "S": s, "C": c])))
            let builtIn = try build(.cnf(columns: w, scales: s, channels: c, segmentation: false, gated: true))
            assertSame(file, builtIn, "W=\(w) S=\(s) C=\(c)")
            let size = try Fabric.space(Self.source("cnf.yaml", ["W": w, "S": s, "C": c])).size(input: Self.cifar, classes: 10)
            XCTAssertEqual(size.parameters, Double(builtIn.weights.reduce(0) { $0 + $1.count }), "the plan counts the parameters")
        }
        // The supplement's table: the CNF W=8 baseline takes 171 / 90 / 53 steps on 1 / 2 / 4 machines.
        let w8 = try build(.space(Self.source("cnf.yaml", ["W": 8, "S": 6, "C": 8])))
        XCTAssertEqual([1, 2, 4].map { ParallelCost(w8, machines: $0).cost(of: w8.fullArchitecture) }, [171, 90, 53])
    }

    func testResNetFabricFileIsBuildResNetFabric() throws {
        for (k, n, shortcuts) in [(3, 3, true), (2, 4, false), (4, 2, true)] {
            let file = try build(.space(Self.source("resnet-fabric.yaml", ["k": k, "n": n, "shortcuts": shortcuts ? 1 : 0])))
            let builtIn = try build(.resnet(groups: k, blocks: n, shortcuts: shortcuts, gated: true))
            assertSame(file, builtIn, "k=\(k) n=\(n) shortcuts=\(shortcuts)")
        }
        let n18 = try build(.space(Self.source("resnet-fabric.yaml", ["n": 18])), input: FeatureShape(height: 8, width: 8, channels: 3))
        XCTAssertEqual([1, 2, 4].map { ParallelCost(n18, machines: $0).cost(of: n18.fullArchitecture) }, [320, 179, 110])
    }

    /// Weights, gates, losses and costs after warm-up and sampling steps: bit for bit.
    func testTrainingIsBitIdenticalToTheBuiltIn() throws {
        func train(_ fabric: Fabric) throws -> (losses: [Double], costs: [Double], state: [[Float]]) {
            let net = try build(fabric, input: FeatureShape(height: 8, width: 8, channels: 3), classes: 3)
            let trainer = Trainer(network: net, task: .classification, optimisedCost: FlopsCost(net), seed: 11, learningRate: 0.05, context: makeContext())
            trainer.warmupSteps = 2
            trainer.budget = Budget(limit: 0.5 * FlopsCost(net).cost(of: net.fullArchitecture), lambda: 1e-6)
            var rng = RNG(seed: 3), losses = [Double](), costs = [Double]()
            for _ in 0..<6 {
                let x = Tensor(shape: [8, 8, 8, 3])
                rng.fillUniform(x, -1, 1)
                let labels = (0..<8).map { _ in Int32(rng.integer(below: 3)) }
                let step = try trainer.trainStep(images: x, labels: labels)
                losses.append(step.loss)
                costs.append(step.sampledCost)
            }
            return (losses, costs, net.stateTensors.map(\.tensor.values))
        }
        let a = try train(.space(Self.source("cnf.yaml", ["W": 3, "S": 4, "C": 8])))
        let b = try train(.cnf(columns: 3, scales: 4, channels: 8, segmentation: false, gated: true))
        XCTAssertEqual(a.losses, b.losses)
        XCTAssertEqual(a.costs, b.costs)
        XCTAssertEqual(a.state, b.state)
    }

    // MARK: - Problems, each with its line

    /// The line of the error planning `body` (YAML body lines, the file starting at line 1 with `space:`).
    func problem(_ body: String, params: String = "{C: 8}", head: String = "classify", input: FeatureShape = FeatureShape(height: 8, width: 8, channels: 3),
                 file: StaticString = #filePath, line: UInt = #line) -> SpaceFileError? {
        let text = "space: test\nparams: \(params)\ninput: x\nbody:\n" + body + "output: {from: end, head: \(head)}\n"
        do {
            let source = SpaceSource(path: "t.yaml", text: text)
            _ = try source.plan(input: input, classes: 2)
            XCTFail("no error", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    static let stem = """
      - node: stem
        from: x
        op: conv k=3 relu
        out: C

    """

    func testEachProblemNamesItsLine() {
        // A cycle: a → ab → end → back → a.
        var e = problem(Self.stem + """
          - node: a
          - node: end
          - edge: up
            from: stem
            to: a
            op: conv
          - edge: ab
            from: a
            to: end
            op: conv
          - edge: back
            from: end
            to: a
            op: conv

        """)
        XCTAssertTrue(e?.message.contains("cycle") == true, "\(String(describing: e))")
        XCTAssertTrue([9, 10, 14, 18].contains(e?.line ?? 0), "\(String(describing: e))")

        // A node the input cannot reach: `lost` (line 12) has no input at all.
        e = problem(Self.stem + """
          - node: end
          - edge: s
            from: stem
            to: end
            op: conv
          - node: lost
          - edge: l
            from: lost
            to: end
            op: conv

        """)
        XCTAssertEqual(e?.line, 14, "\(String(describing: e))")
        XCTAssertTrue(e?.message.contains("no inputs") == true, "\(String(describing: e))")

        // A node that leads nowhere (line 12).
        e = problem(Self.stem + """
          - node: end
            from: stem
            op: conv
          - node: dead
            from: stem
            op: conv

        """)
        XCTAssertEqual(e?.line, 12, "\(String(describing: e))")
        XCTAssertTrue(e?.message.contains("output cannot be reached from 'dead'") == true, "\(String(describing: e))")

        // A sum of 8x8x8 and 4x4x8 (line 9).
        e = problem(Self.stem + """
          - node: end
            from: [stem, half]
          - node: half
            from: stem
            op: pool max

        """)
        XCTAssertEqual(e?.line, 9, "\(String(describing: e))")
        XCTAssertTrue(e?.message.contains("8x8x8") == true && e?.message.contains("4x4x8") == true, "\(String(describing: e))")

        // An identity skip from 8 to 16 channels into a sum (line 9: the sum).
        e = problem(Self.stem + """
          - node: end
          - edge: wide
            from: stem
            to: end
            op: conv
            out: 16
          - edge: id
            from: stem
            to: end
            op: skip
            fixed: true

        """)
        XCTAssertEqual(e?.line, 9, "\(String(describing: e))")
        XCTAssertTrue(e?.message.contains("8x8x16") == true, "\(String(describing: e))")

        // A stride that does not divide the size: 6x6 by 4 (line 9).
        e = problem(Self.stem + """
          - node: end
            from: stem
            op: conv stride=4

        """, input: FeatureShape(height: 6, width: 6, channels: 3))
        XCTAssertEqual(e?.line, 9, "\(String(describing: e))")
        XCTAssertTrue(e?.message.contains("stride 4 does not divide") == true, "\(String(describing: e))")

        // A name nobody defines (line 10), with the nearest one.
        e = problem(Self.stem + """
          - node: end
          - edge: e
            from: sterm
            to: end
            op: conv

        """)
        XCTAssertEqual(e?.line, 10, "\(String(describing: e))")
        XCTAssertTrue(e?.message.contains("did you mean 'stem'") == true, "\(String(describing: e))")

        // Segmentation reading a coarser map (the output line, 12).
        e = problem(Self.stem + """
          - node: end
            from: stem
            op: pool avg

        """, head: "segment")
        XCTAssertEqual(e?.line, 12, "\(String(describing: e))")
        XCTAssertTrue(e?.message.contains("segment labels every pixel") == true, "\(String(describing: e))")
    }

    func testUnknownOperationsKeysAndUnsetParametersNameTheirLine() throws {
        func error(_ text: String, _ given: [String: Int] = [:]) -> SpaceFileError? {
            do { _ = try SpaceSource(path: "t.yaml", text: text, given: given).expansion(); return nil } catch { return error }
        }
        let top = "space: t\nparams: {C: null}\ninput: x\nbody:\n"
        var e = error(top + "  - node: a\n    from: x\n    op: dilated k=3\noutput: {from: a}\n", ["C": 1])
        XCTAssertEqual(e?.line, 7, "\(String(describing: e))")
        XCTAssertTrue(e?.message.contains("dilated") == true, "\(String(describing: e))")
        e = error(top + "  - node: a\n    from: x\n    colour: red\noutput: {from: a}\n", ["C": 1])
        XCTAssertEqual(e?.line, 7, "\(String(describing: e))")
        XCTAssertTrue(e?.message.contains("colour") == true, "\(String(describing: e))")
        e = error(top + "  - node: a\n    from: x\n    op: conv\noutput: {from: a}\n")
        XCTAssertEqual(e?.line, 2, "\(String(describing: e))")
        XCTAssertTrue(e?.message.contains("'C' is not set") == true, "\(String(describing: e))")
    }

    /// The memory check sees a space's size before anything is allocated: 2^16 channels on 2^10 chained 3x3 convolutions.
    func testAHugeSpaceIsSizedWithoutBuildingIt() throws {
        let text = """
        space: huge
        params: {n: 1024}
        input: x
        body:
          - node: c0
            from: x
            op: conv
            out: 65536
          - for: i in 1..n
            do:
              - node: c{i}
                from: c{i-1}
                op: conv
        output: {from: "c{n}"}
        """
        let size = try Fabric.space(SpaceSource(path: "huge.yaml", text: text)).size(input: Self.cifar, classes: 10)
        let c: Double = 65536
        let chain: Double = 1024 * (9 * c * c + 3 * c), first: Double = 9 * 3 * c + 3 * c, head: Double = c * 10 + 10
        XCTAssertEqual(size.parameters, chain + first + head)
        XCTAssertThrowsError(try Memory.check(size.weightBytes, "huge", of: "weights"))
    }

    func testGatedSkipAndPoolModules() throws {
        let text = """
        space: choice
        input: x
        body:
          - node: stem
            from: x
            op: conv relu
            out: 4
          - node: end
          - edge: c3
            from: stem
            to: end
            op: conv k=3
          - edge: c5
            from: stem
            to: end
            op: conv k=5
          - edge: none
            from: stem
            to: end
            op: skip
          - node: small
            from: end
            op: pool avg
        output: {from: small}
        """
        let net = try build(.space(SpaceSource(path: "c.yaml", text: text)), input: FeatureShape(height: 8, width: 8, channels: 3), classes: 2)
        let kinds = net.nodes.map { $0.module?.kind.rawValue ?? $0.role.rawValue }
        XCTAssertEqual(kinds, ["input", "conv", "conv", "conv", "skip", "aggregation", "pool", "output"])
        XCTAssertEqual(net.gateCount, 3)
        let skip = try XCTUnwrap(net.index(of: "none"))
        XCTAssertFalse(net.nodes[skip].computes, "a skip takes no machine")
        XCTAssertEqual(net.nodes[skip].multiplyAccumulates, 0)
        XCTAssertEqual(net.nodes.last!.shape, FeatureShape(height: 1, width: 1, channels: 2))
        XCTAssertTrue(net.nodes.last!.module is PooledLinear, "a 4x4 map is pooled")
        // Only the skip kept: the two convolutions' operations fewer.
        let onlySkip = net.architecture(gates: [false, false, true])
        XCTAssertTrue(onlySkip.isConsistent)
        let flops = FlopsCost(net)
        let convolutions = Double(net.nodes[2].multiplyAccumulates + net.nodes[3].multiplyAccumulates)
        XCTAssertGreaterThan(convolutions, 0)
        XCTAssertLessThanOrEqual(flops.cost(of: onlySkip) + convolutions, flops.cost(of: net.fullArchitecture))
        // Forward and backward run through pool and skip.
        let trainer = Trainer(network: net, task: .classification, optimisedCost: FlopsCost(net), seed: 1, learningRate: 0.05, context: makeContext())
        let x = randomTensor([4, 8, 8, 3], seed: 1)
        let step = try trainer.trainStep(images: x, labels: [0, 1, 0, 1])
        XCTAssertTrue(step.loss.isFinite)
    }
}
