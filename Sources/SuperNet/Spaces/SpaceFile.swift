import Foundation
import Layers
import Yams

/// A search-space file as written (YAML), read into statements that keep
/// their line: parameters with defaults, the input's name, and a body of
/// nodes, edges, loops and conditions ending in the output. Nothing is
/// expanded or built here (see docs/user-guide.md, "Your own search space"):
///
///     space: cnf
///     params: {W: 4, S: 4, C: 16}      # a parameter set to null must be given: build space f.yaml C=32
///     input: x
///     body:
///       - node: A-0_0                  # a node fed by one operation is that operation
///         from: x
///         op: conv k=3 relu
///         out: C
///       - for: k in 1..S-1             # inclusive bounds; an empty range runs nothing
///         do:
///           - node: A-0_{k}            # a node with no op sums its inputs, then ReLU
///       - edge: C-0_0-0_1              # an edge is a (gated) operation from node to node
///         from: A-0_0
///         to: A-0_1
///         op: conv k=3 stride=2
///       - if: W > 1
///         do: [...]
///         else: [...]
///     output: {from: "A-{W-1}_{S-1}", head: classify}
public struct SpaceFile: Sendable {
    public struct Parameter: Sendable, Equatable {
        public let name: String, value: Int?, line: Int
        public init(name: String, value: Int?, line: Int) { (self.name, self.value, self.line) = (name, value, line) }
    }

    /// An operation: `conv k=3 stride=2 up relu`, `skip`, `pool avg` / `pool max`, `block stride=2` (a residual basic block).
    public struct Operation: Sendable, Equatable {
        public enum Kind: String, Sendable, CaseIterable { case conv, skip, pool, block }
        public let kind: Kind
        /// conv: kernel (1, 3, 5, 7); conv and block: stride (1 or 2); pool: average or max.
        public var kernel: SpaceExpression?, stride: SpaceExpression?, pooling: Pool2x2.Kind?
        /// `up` / `relu` alone, or `up={expression}` (on where it is not 0).
        public var upsample: SpaceExpression?, relu: SpaceExpression?
    }

    /// A node (an aggregation, or an operation's output) or an edge (an operation between two nodes).
    public struct Element: Sendable, Equatable {
        public let name: SpaceTemplate
        public let from: [SpaceTemplate]
        public let to: SpaceTemplate?
        public let operation: Operation?
        /// Output channels of a conv or block (default: its input's).
        public let channels: SpaceExpression?
        /// The scale the node is declared at (checked against the one computed), if given.
        public let scale: SpaceExpression?
        /// Edges are gated (searchable) unless `fixed: true`; nodes fed by one operation are fixed unless `gated: true`.
        public let gated: Bool
        public let line: Int
    }

    public indirect enum Statement: Sendable, Equatable {
        case node(Element)
        case edge(Element)
        case loop(variable: String, first: SpaceExpression, last: SpaceExpression, body: [Statement], line: Int)
        case condition(SpaceExpression, then: [Statement], otherwise: [Statement], line: Int)
        /// `let: {i: expression}`: names a value for the statements after it in the same list.
        case binding(name: String, value: SpaceExpression, line: Int)
    }

    public enum Head: String, Sendable, CaseIterable { case classify, segment }

    public let file: String
    public let name: String?
    public let parameters: [Parameter]
    public let input: String
    public let body: [Statement]
    public let output: (from: SpaceTemplate, head: Head, line: Int)

    public init(parsing text: String, file: String) throws(SpaceFileError) {
        self.file = file
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw SpaceFileError(file, 1, "the file is empty; a search space needs input, body and output") }
            root = node
        } catch let e as SpaceFileError { throw e } catch let e as YamlError {
            throw SpaceFileError(file, Self.line(of: e), "not valid YAML (\(Self.summary(of: e)))")
        } catch { throw SpaceFileError(file, 1, "not valid YAML (\(error))") }
        let reader = Reader(file: file)
        let top = try reader.mapping(root, allowed: ["space", "params", "input", "body", "output"], what: "the file")
        name = try top["space"].map { (n: Node) throws(SpaceFileError) in try reader.string(n, "space") }
        var parameters = [Parameter]()
        if let params = top["params"] {
            for (key, value) in try reader.pairs(params, "params") {
                let name = try reader.string(key, "a parameter's name")
                guard SpaceFile.isName(name) else {
                    throw SpaceFileError(file, reader.line(key), "parameter '\(name)': a name is letters, digits and _, starting with a letter")
                }
                guard !parameters.contains(where: { $0.name == name }) else { throw SpaceFileError(file, reader.line(key), "parameter '\(name)' is given twice") }
                parameters.append(Parameter(name: name, value: try reader.optionalInt(value, "parameter '\(name)'"), line: reader.line(key)))
            }
        }
        self.parameters = parameters
        guard let input = top["input"] else { throw SpaceFileError(file, reader.line(root), "no input: name the input node (input: x)") }
        self.input = try reader.string(input, "input")
        guard let body = top["body"] else { throw SpaceFileError(file, reader.line(root), "no body: list the nodes and edges (body: [...])") }
        self.body = try reader.statements(body)
        guard let output = top["output"] else { throw SpaceFileError(file, reader.line(root), "no output: say where the head reads (output: {from: <node>, head: classify})") }
        let o = try reader.mapping(output, allowed: ["from", "head"], what: "output")
        guard let from = o["from"] else { throw SpaceFileError(file, reader.line(output), "output: no from (the node the head reads)") }
        let headWord = try o["head"].map { (n: Node) throws(SpaceFileError) in try reader.string(n, "head") } ?? "classify"
        guard let head = Head(rawValue: headWord) else {
            throw SpaceFileError(file, reader.line(o["head"]!), "unknown head '\(headWord)': classify (pool and linear) or segment (per-pixel 1x1)")
        }
        self.output = (try reader.template(from, "output's from"), head, reader.line(output))
    }

    public static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return 1
        }
    }

    static func summary(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem.hasPrefix("Maximum nesting level") ? "lists and maps nested too deep" : problem
        default: return "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
        }
    }

    /// Letters, digits and _, starting with a letter or _: a parameter's, a loop variable's or a let's name.
    static func isName(_ s: String) -> Bool {
        s.first.map { $0.isLetter || $0 == "_" } == true && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }

    /// Reads YAML nodes into the file's pieces, naming the line of each problem.
    private struct Reader {
        let file: String

        func line(_ node: Node) -> Int { node.mark?.line ?? 1 }

        func fail(_ node: Node, _ message: String) -> SpaceFileError { SpaceFileError(file, line(node), message) }

        func pairs(_ node: Node, _ what: String) throws(SpaceFileError) -> [(Node, Node)] {
            guard case .mapping(let m) = node else { throw fail(node, "\(what): expected keys and values (key: value)") }
            return m.map { ($0.key, $0.value) }
        }

        func mapping(_ node: Node, allowed: [String], what: String) throws(SpaceFileError) -> [String: Node] {
            var out = [String: Node]()
            for (key, value) in try pairs(node, what) {
                let k = try string(key, "a key")
                guard allowed.contains(k) else {
                    throw fail(key, "\(what): unknown key '\(k)' (known: \(allowed.joined(separator: ", ")))")
                }
                guard out[k] == nil else { throw fail(key, "\(what): '\(k)' is given twice") }
                out[k] = value
            }
            return out
        }

        func string(_ node: Node, _ what: String) throws(SpaceFileError) -> String {
            if case .alias = node { throw fail(node, "\(what): YAML aliases (*name) are not read in search-space files") }
            guard case .scalar(let s) = node else { throw fail(node, "\(what): expected a single value, found a list or keys") }
            return s.string
        }

        func optionalInt(_ node: Node, _ what: String) throws(SpaceFileError) -> Int? {
            let text = try string(node, what)
            if ["", "~", "null"].contains(text) { return nil }
            guard let v = Int(text) else { throw fail(node, "\(what): '\(text)' is not a whole number") }
            return v
        }

        func expression(_ node: Node, _ what: String) throws(SpaceFileError) -> SpaceExpression {
            let text = try string(node, what)
            do { return try SpaceExpression(parsing: text) } catch { throw fail(node, "\(what): \(error)") }
        }

        func template(_ node: Node, _ what: String) throws(SpaceFileError) -> SpaceTemplate {
            let text = try string(node, what)
            guard !text.isEmpty else { throw fail(node, "\(what): empty") }
            do { return try SpaceTemplate(parsing: text) } catch { throw fail(node, "\(what): \(error)") }
        }

        func flag(_ node: Node, _ what: String) throws(SpaceFileError) -> Bool {
            switch try string(node, what).lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            case let other: throw fail(node, "\(what): '\(other)' is not true or false")
            }
        }

        func statements(_ node: Node) throws(SpaceFileError) -> [Statement] {
            guard case .sequence(let items) = node else { throw fail(node, "body: expected a list of nodes, edges, for and if (- node: …)") }
            var out = [Statement]()
            for item in items { out.append(try statement(item)) }
            return out
        }

        func statement(_ node: Node) throws(SpaceFileError) -> Statement {
            let keys = try pairs(node, "a body item").map { (pair: (Node, Node)) throws(SpaceFileError) in try string(pair.0, "a key") }
            if keys.contains("for") {
                let m = try mapping(node, allowed: ["for", "do"], what: "for")
                let spec = try string(m["for"]!, "for")
                // "k in 0..S-1": a variable, then two expressions around "..".
                let parts = spec.components(separatedBy: " in ")
                guard parts.count == 2, let range = parts[1].range(of: "..") else {
                    throw fail(m["for"]!, "for: write 'name in first..last' (inclusive), got '\(spec)'")
                }
                let variable = parts[0].trimmingCharacters(in: .whitespaces)
                guard SpaceFile.isName(variable) else {
                    throw fail(m["for"]!, "for: '\(variable)' is not a name")
                }
                func bound(_ text: String) throws(SpaceFileError) -> SpaceExpression {
                    do { return try SpaceExpression(parsing: text) } catch { throw fail(m["for"]!, "for: \(error)") }
                }
                let first = try bound(String(parts[1][..<range.lowerBound])), last = try bound(String(parts[1][range.upperBound...]))
                guard let body = m["do"] else { throw fail(node, "for: no do (the list it repeats)") }
                return .loop(variable: variable, first: first, last: last, body: try statements(body), line: line(node))
            }
            if keys.contains("let") {
                let m = try mapping(node, allowed: ["let"], what: "let")
                let pairs = try self.pairs(m["let"]!, "let")
                guard pairs.count == 1 else { throw fail(node, "let: one name and its value (let: {i: n - 1})") }
                let name = try string(pairs[0].0, "let")
                guard SpaceFile.isName(name) else {
                    throw fail(node, "let: '\(name)' is not a name")
                }
                return .binding(name: name, value: try expression(pairs[0].1, "let \(name)"), line: line(node))
            }
            if keys.contains("if") {
                let m = try mapping(node, allowed: ["if", "do", "else"], what: "if")
                guard let body = m["do"] else { throw fail(node, "if: no do (the list it runs when true)") }
                return .condition(try expression(m["if"]!, "if"), then: try statements(body),
                                  otherwise: try m["else"].map { (n: Node) throws(SpaceFileError) in try statements(n) } ?? [], line: line(node))
            }
            let isEdge = keys.contains("edge")
            guard isEdge || keys.contains("node") else {
                throw fail(node, "a body item starts with node, edge, for, if or let (found: \(keys.joined(separator: ", ")))")
            }
            let m = try mapping(node, allowed: isEdge ? ["edge", "from", "to", "op", "out", "fixed"] : ["node", "from", "op", "out", "scale", "gated"],
                                what: isEdge ? "edge" : "node")
            let name = try template(m[isEdge ? "edge" : "node"]!, isEdge ? "edge" : "node")
            var from = [SpaceTemplate]()
            if let f = m["from"] {
                if case .sequence(let items) = f {
                    for item in items { from.append(try template(item, "from")) }
                } else {
                    from = [try template(f, "from")]
                }
            }
            let operation = try m["op"].map { (n: Node) throws(SpaceFileError) in try self.operation(n) }
            if isEdge {
                guard from.count == 1, let to = m["to"] else { throw fail(node, "edge: give one from node and one to node") }
                guard operation != nil else { throw fail(node, "edge: no op (conv …, skip, pool avg|max, block …)") }
                return .edge(Element(name: name, from: from, to: try template(to, "to"), operation: operation,
                                     channels: try m["out"].map { (n: Node) throws(SpaceFileError) in try expression(n, "out") }, scale: nil,
                                     gated: !(try m["fixed"].map { (n: Node) throws(SpaceFileError) in try flag(n, "fixed") } ?? false), line: line(node)))
            }
            if operation != nil && from.count != 1 { throw fail(node, "node with an op: give exactly one from node (sum several in a node without an op first)") }
            return .node(Element(name: name, from: from, to: nil, operation: operation,
                                 channels: try m["out"].map { (n: Node) throws(SpaceFileError) in try expression(n, "out") },
                                 scale: try m["scale"].map { (n: Node) throws(SpaceFileError) in try expression(n, "scale") },
                                 gated: try m["gated"].map { (n: Node) throws(SpaceFileError) in try flag(n, "gated") } ?? false, line: line(node)))
        }

        /// "conv k=3 stride=2 up relu", "skip", "pool max", "block stride=2".
        func operation(_ node: Node) throws(SpaceFileError) -> Operation {
            // Words split at spaces outside braces: stride={k < 2 ? 2 : 1} is one word.
            var words = [String](), word = "", depth = 0
            for c in try string(node, "op") {
                if c == "{" { depth += 1 } else if c == "}" { depth -= 1 }
                if c == " " && depth == 0 {
                    if !word.isEmpty { words.append(word); word = "" }
                } else { word.append(c) }
            }
            if !word.isEmpty { words.append(word) }
            guard let first = words.first, let kind = Operation.Kind(rawValue: first) else {
                throw fail(node, "unknown operation '\(words.first ?? "")' (known: \(Operation.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            var op = Operation(kind: kind)
            for word in words.dropFirst() {
                let pair = word.split(separator: "=", maxSplits: 1).map(String.init)
                func value() throws(SpaceFileError) -> SpaceExpression {
                    guard pair.count == 2 else { throw fail(node, "op: '\(word)' needs a value (\(word)=…)") }
                    var text = pair[1]
                    if text.hasPrefix("{") && text.hasSuffix("}") { text = String(text.dropFirst().dropLast()) }
                    do { return try SpaceExpression(parsing: text) } catch { throw fail(node, "op: \(error)") }
                }
                switch (kind, pair[0]) {
                case (.conv, "k"): op.kernel = try value()
                case (.conv, "stride"), (.block, "stride"): op.stride = try value()
                case (.conv, "up"): op.upsample = pair.count == 1 ? Self.on : try value()
                case (.conv, "relu"): op.relu = pair.count == 1 ? Self.on : try value()
                case (.pool, let word) where pair.count == 1 && Pool2x2.Kind(rawValue: word) != nil: op.pooling = Pool2x2.Kind(rawValue: word)
                default: throw fail(node, "op \(kind.rawValue): unknown option '\(word)'" + Self.options(kind))
                }
            }
            if kind == .pool && op.pooling == nil { throw fail(node, "op pool: say avg or max (pool avg)") }
            return op
        }

        // "up" written alone.
        static let on = try! SpaceExpression(parsing: "1")

        static func options(_ kind: Operation.Kind) -> String {
            switch kind {
            case .conv: return " (k=1|3|5|7, stride=1|2|4, up, relu; up={…} and relu={…} take a condition)"
            case .block: return " (stride=1|2|4)"
            case .pool: return " (avg or max)"
            case .skip: return " (skip takes none)"
            }
        }
    }
}

/// A problem in a search-space file: the file, the line and what is wrong.
public struct SpaceFileError: Error, Equatable, CustomStringConvertible {
    public let file: String, line: Int, message: String
    public init(_ file: String, _ line: Int, _ message: String) { (self.file, self.line, self.message) = (file, line, message) }
    public var description: String { "\(file):\(line): \(message)" }
}
