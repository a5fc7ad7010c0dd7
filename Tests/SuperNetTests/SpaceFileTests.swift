import Foundation
import Layers
import SuperNet
import Tensor
import TestSupport
import XCTest

/// Reading search-space files: the statements as written, and each problem with its file and line.
final class SpaceFileTests: XCTestCase {
    static let small = """
    space: tiny
    params: {C: 8, depth: null}
    input: x
    body:
      - node: stem
        from: x
        op: conv k=3 relu
        out: C
      - for: i in 1..depth
        do:
          - node: n{i}
          - edge: e{i}
            from: "{i == 1 ? 0 : i - 1}"
            to: n{i}
            op: "conv k=5 stride={i % 2 == 0 ? 2 : 1}"   # quoted: YAML reads ": " as a key
          - if: i > 1
            do:
              - edge: s{i}
                from: n{i - 1}
                to: n{i}
                op: skip
                fixed: true
            else:
              - edge: p{i}
                from: stem
                to: n{i}
                op: pool max
    output: {from: "n{depth}", head: classify}
    """

    func testAFileReadsIntoItsStatements() throws {
        let f = try SpaceFile(parsing: Self.small, file: "tiny.yaml")
        XCTAssertEqual(f.name, "tiny")
        XCTAssertEqual(f.parameters, [.init(name: "C", value: 8, line: 2), .init(name: "depth", value: nil, line: 2)])
        XCTAssertEqual(f.input, "x")
        XCTAssertEqual(f.body.count, 2)
        guard case .node(let stem) = f.body[0], case .loop(let v, let first, let last, let body, let line) = f.body[1] else { return XCTFail("\(f.body)") }
        XCTAssertEqual(stem.operation?.kind, .conv)
        XCTAssertEqual(try stem.operation?.relu?.evaluate([:]), 1)
        XCTAssertEqual(try stem.operation?.kernel?.evaluate([:]), 3)
        XCTAssertEqual(try stem.channels?.evaluate(["C": 8]), 8)
        XCTAssertEqual(stem.line, 5)
        XCTAssertFalse(stem.gated)
        XCTAssertEqual(v, "i")
        XCTAssertEqual([try first.evaluate([:]), try last.evaluate(["depth": 3])], [1, 3])
        XCTAssertEqual(line, 9)
        guard body.count == 3, case .edge(let e) = body[1], case .condition(_, let then, let otherwise, _) = body[2] else { return XCTFail("\(body)") }
        XCTAssertTrue(e.gated)
        XCTAssertEqual(try e.operation?.stride?.evaluate(["i": 2]), 2)
        XCTAssertEqual(try e.from[0].evaluate(["i": 3]), "2")
        guard case .edge(let skip) = then[0], case .edge(let pool) = otherwise[0] else { return XCTFail() }
        XCTAssertEqual(skip.operation?.kind, .skip)
        XCTAssertFalse(skip.gated)
        XCTAssertEqual(pool.operation?.pooling, .max)
        XCTAssertEqual(try f.output.from.evaluate(["depth": 4]), "n4")
        XCTAssertEqual(f.output.head, .classify)
    }

    /// Each problem names the file and its line.
    func testProblemsNameTheFileAndLine() {
        let cases: [(String, Int, String)] = [
            ("input: x\nbody: [\n", 3, "not valid YAML"),
            ("", 1, "the file is empty"),
            ("input: x\nbody: []\noutput: {from: x}\nextra: 1\n", 4, "unknown key 'extra'"),
            ("params: {C: eight}\ninput: x\nbody: []\noutput: {from: x}\n", 1, "'eight' is not a whole number"),
            ("params: {2C: 1}\ninput: x\nbody: []\noutput: {from: x}\n", 1, "a name is letters"),
            ("input: x\nbody: []\n", 1, "no output"),
            ("input: x\nbody:\n  - node: a\n    from: x\n    op: conv k=3 dilation=2\noutput: {from: a}\n", 5, "unknown option 'dilation=2'"),
            ("input: x\nbody:\n  - node: a\n    from: x\n    op: deconv\noutput: {from: a}\n", 5, "unknown operation 'deconv'"),
            ("input: x\nbody:\n  - node: a\n    from: x\n    op: pool\noutput: {from: a}\n", 5, "say avg or max"),
            ("input: x\nbody:\n  - node: a\n    from: x\n    op: conv k=(3\noutput: {from: a}\n", 5, "'(' without its ')'"),
            ("input: x\nbody:\n  - node: a\n  - for: k from 1 to 3\n    do: []\noutput: {from: a}\n", 4, "name in first..last"),
            ("input: x\nbody:\n  - node: a\n  - edge: e\n    from: x\n    to: a\noutput: {from: a}\n", 4, "edge: no op"),
            ("input: x\nbody:\n  - node: a\n  - layer: e\noutput: {from: a}\n", 4, "starts with node, edge, for, if or let"),
            ("input: x\nbody:\n  - node: A-{l\noutput: {from: a}\n", 3, "'{' without its '}'"),
            ("input: x\nbody:\n  - node: a\noutput: {from: a, head: regress}\n", 4, "unknown head 'regress'"),
            ("base: &b {node: a}\ninput: x\nbody: [*b]\noutput: {from: a}\n", 1, "unknown key 'base'"),
        ]
        for (text, line, fragment) in cases {
            XCTAssertThrowsError(try SpaceFile(parsing: text, file: "s.yaml"), fragment) { error in
                guard let e = error as? SpaceFileError else { return XCTFail("\(error)") }
                XCTAssertEqual(e.line, line, "\(fragment): \(e)")
                XCTAssertTrue(e.description.hasPrefix("s.yaml:\(e.line): ") && e.message.contains(fragment), "\(e)")
            }
        }
    }
}

/// A space with its parameters filled: loops unrolled in order, conditions decided, limits checked.
final class SpaceExpansionTests: XCTestCase {
    func expand(_ text: String, _ given: [String: Int] = [:]) throws -> SpaceExpansion {
        try SpaceExpansion(try SpaceFile(parsing: text, file: "s.yaml"), given: given)
    }

    func testLoopsUnrollInOrderAndConditionsChoose() throws {
        let e = try expand(SpaceFileTests.small, ["depth": 3])
        XCTAssertEqual(e.elements.map(\.name), ["stem", "n1", "e1", "p1", "n2", "e2", "s2", "n3", "e3", "s3"])
        XCTAssertEqual(e.elements[2].from, ["0"])
        XCTAssertEqual(e.elements[5].from, ["1"])
        XCTAssertEqual(e.elements.map { $0.operation?.stride }, [1, nil, 1, 1, nil, 2, 1, nil, 1, 1])
        XCTAssertEqual(e.elements[6].to, "n2")
        XCTAssertEqual(e.elements[0].channels, 8)
        XCTAssertEqual(try expand(SpaceFileTests.small, ["depth": 1, "C": 32]).elements[0].channels, 32)
        XCTAssertEqual(e.output.from, "n3")
        // An empty range runs nothing.
        XCTAssertEqual(try expand(SpaceFileTests.small, ["depth": 0]).elements.map(\.name), ["stem"])
    }

    func testParametersMustBeKnownAndSet() {
        XCTAssertThrowsError(try expand(SpaceFileTests.small)) { XCTAssertEqual("\($0)", "s.yaml:2: parameter 'depth' is not set: give it on the command line (depth=…)") }
        XCTAssertThrowsError(try expand(SpaceFileTests.small, ["depth": 2, "width": 3])) { XCTAssertTrue("\($0)".contains("no parameter 'width' in this space (its parameters: C, depth)"), "\($0)") }
    }

    func testValuesOutOfRangeAndHugeRepeatsAreRefusedWithTheirLine() {
        let conv = "params: {k: 3, s: 1, n: 1}\ninput: x\nbody:\n  - for: i in 1..n\n    do:\n      - node: a{i}\n        from: x\n        op: conv k={k} stride={s}\noutput: {from: a1}\n"
        XCTAssertThrowsError(try expand(conv, ["k": 4])) { XCTAssertEqual("\($0)", "s.yaml:6: a1: conv k=4; a kernel is 1, 3, 5 or 7") }
        XCTAssertThrowsError(try expand(conv, ["s": 3])) { XCTAssertEqual("\($0)", "s.yaml:6: a1: stride=3; a stride is 1, 2 or 4") }
        XCTAssertThrowsError(try expand(conv, ["n": 2_000_000_000])) { XCTAssertTrue("\($0)".hasPrefix("s.yaml:4: for: i in 1..2000000000 repeats"), "\($0)") }
        let nested = "params: {n: 1000}\ninput: x\nbody:\n  - for: i in 1..n\n    do:\n      - for: j in 1..n\n        do:\n          - node: a{i}_{j}\noutput: {from: x}\n"
        XCTAssertThrowsError(try expand(nested)) { XCTAssertEqual("\($0)", "s.yaml:8: the space expands to more than 100000 nodes and edges") }
        let shadow = "params: {i: 1}\ninput: x\nbody:\n  - for: i in 1..2\n    do: []\noutput: {from: x}\n"
        XCTAssertThrowsError(try expand(shadow)) { XCTAssertTrue("\($0)".contains("s.yaml:4: for: 'i' is already a parameter"), "\($0)") }
        let unset = "input: x\nbody:\n  - node: a{q}\noutput: {from: x}\n"
        XCTAssertThrowsError(try expand(unset)) { XCTAssertEqual("\($0)", "s.yaml:3: node: 'q': 'q' is not set (no parameter or loop variable of that name)") }
    }
}

/// samples/spaces/cnf.yaml unrolls to the nodes and edges `build cnf` makes (the network built from it is the next step).
final class SpaceSampleTests: XCTestCase {
    static func sample(_ name: String) throws -> SpaceFile {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../samples/spaces/\(name)").standardized
        return try SpaceFile(parsing: try String(contentsOf: url, encoding: .utf8), file: name)
    }

    func testCNFSampleUnrollsToBuildCNFsNodesAndEdges() throws {
        for (w, s) in [(4, 4), (3, 2), (1, 3), (8, 6)] {
            let e = try SpaceExpansion(try Self.sample("cnf.yaml"), given: ["W": w, "S": s, "C": 16])
            var rng = RNG(seed: 1)
            let net = try Fabric.cnf(columns: w, scales: s, channels: 16, segmentation: false, gated: true)
                .build(input: FeatureShape(height: 32, width: 32, channels: 3), classes: 10, rng: &rng, context: makeContext())
            let names = Set(net.nodes.map(\.name)).subtracting(["x", "out"])
            XCTAssertEqual(Set(e.elements.map(\.name)), names, "W=\(w) S=\(s)")
            XCTAssertEqual(e.elements.count, names.count, "each name once")
            for element in e.elements {
                let node = try XCTUnwrap(net.nodes.first { $0.name == element.name }, element.name)
                switch element.role {
                case .edge:
                    XCTAssertEqual(net.nodes[node.inputs[0]].name, element.from[0], element.name)
                    XCTAssertEqual(node.outputs.map { net.nodes[$0].name }, [element.to!], element.name)
                    let conv = try XCTUnwrap(node.module as? ConvBN, element.name)
                    XCTAssertEqual(conv.conv.stride, element.operation!.stride, element.name)
                    XCTAssertEqual(conv.upsample != nil, element.operation!.upsample, element.name)
                    XCTAssertNotNil(node.gate, element.name)
                case .node:
                    XCTAssertEqual(node.role, element.operation == nil ? .aggregation : .module, element.name)
                    if element.operation != nil { XCTAssertEqual(node.inputs.map { net.nodes[$0].name }, element.from, element.name) }
                }
            }
            XCTAssertEqual(net.nodes[net.nodes.last!.inputs[0]].name, e.output.from)
        }
    }

    /// A fixed skip edge is a direct link; a node with op skip is an identity node.
    func testResNetFabricSampleUnrollsToTheBuiltInsNodesAndEdges() throws {
        for (k, n, shortcuts) in [(3, 3, true), (3, 1, true), (2, 4, false), (4, 2, true)] {
            let e = try SpaceExpansion(try Self.sample("resnet-fabric.yaml"), given: ["k": k, "n": n, "shortcuts": shortcuts ? 1 : 0])
            var rng = RNG(seed: 1)
            let net = try Fabric.resnet(groups: k, blocks: n, shortcuts: shortcuts, gated: true)
                .build(input: FeatureShape(height: 32, width: 32, channels: 3), classes: 10, rng: &rng, context: makeContext())
            let what = "k=\(k) n=\(n) shortcuts=\(shortcuts)"
            let links = e.elements.filter { $0.role == .edge && $0.operation?.kind == .skip }
            let nodes = e.elements.filter { !links.contains($0) }
            XCTAssertEqual(nodes.map(\.name).sorted(), Set(net.nodes.map(\.name)).subtracting(["x", "out"]).sorted(), what)
            func named(_ name: String) throws -> SuperNetwork.Node { try XCTUnwrap(net.nodes.first { $0.name == name }, name) }
            for link in links {
                XCTAssertTrue(try named(link.to!).inputs.map { net.nodes[$0].name }.contains(link.from[0]), "\(what): \(link.name)")
            }
            for element in nodes {
                let node = try named(element.name)
                switch (element.role, element.operation?.kind) {
                case (.edge, .block?):
                    XCTAssertEqual(net.nodes[node.inputs[0]].name, element.from[0], element.name)
                    XCTAssertEqual(node.outputs.map { net.nodes[$0].name }, [element.to!], element.name)
                    XCTAssertEqual(try XCTUnwrap(node.module as? BasicBlock, element.name).parameters.count > 0, true)
                    XCTAssertEqual(node.shape.channels, element.channels, element.name)
                    XCTAssertNotNil(node.gate, element.name)
                case (.edge, .conv?):
                    let conv = try XCTUnwrap(node.module as? ConvBN, element.name)
                    XCTAssertEqual([conv.conv.kernel, conv.conv.stride], [element.operation!.kernel, element.operation!.stride], element.name)
                    XCTAssertEqual(node.outputs.map { net.nodes[$0].name }, [element.to!], element.name)
                    XCTAssertEqual(node.shape.channels, element.channels, element.name)
                    XCTAssertNotNil(node.gate, element.name)
                case (.node, .skip?): XCTAssertEqual(node.role, .identity, element.name)
                case (.node, nil): XCTAssertEqual(node.role, .aggregation, element.name)
                case (.node, .conv?): XCTAssertEqual(node.role, .module, element.name)
                default: XCTFail("\(what): unexpected \(element)")
                }
            }
            XCTAssertEqual(net.nodes[net.nodes.last!.inputs[0]].name, e.output.from)
        }
    }
}
