import SuperNet
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
        XCTAssertEqual(stem.operation?.relu, true)
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
        XCTAssertEqual(pool.operation?.pooling, "max")
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
            ("input: x\nbody:\n  - node: a\n  - layer: e\noutput: {from: a}\n", 4, "starts with node, edge, for or if"),
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
