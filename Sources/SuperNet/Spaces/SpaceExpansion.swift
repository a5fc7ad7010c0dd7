import Foundation
import Layers

/// A search-space file with its parameters filled: loops unrolled and
/// conditions decided, every name and number computed. The elements come in
/// the file's order, which is the order the super network's nodes are added
/// in (and with it the parallel cost's schedule, as for the built-in fabrics).
public struct SpaceExpansion: Sendable, Equatable {
    public struct Operation: Sendable, Equatable {
        public let kind: SpaceFile.Operation.Kind
        public let kernel: Int, stride: Int, pooling: Pool2x2.Kind?, upsample: Bool, relu: Bool
    }

    public struct Element: Sendable, Equatable {
        public enum Role: Sendable, Equatable { case node, edge }
        public let role: Role
        public let name: String
        public let from: [String]
        /// An edge's target node.
        public let to: String?
        public let operation: Operation?
        public let channels: Int?, scale: Int?
        public let gated: Bool
        public let line: Int
    }

    /// More elements than this is a mistake (a repeat count typed wrong), refused before anything is built.
    public static let maxElements = 100_000
    /// More loop iterations than this, nested loops' counts multiplied, is
    /// refused too (by the line of the loop that passes it), even when the
    /// loops hold nothing: expanding a space takes well under a second.
    public static let maxIterations = 1_000_000

    public let file: String
    public let parameters: [String: Int]
    public let input: String
    public let elements: [Element]
    public let output: (from: String, head: SpaceFile.Head, line: Int)

    public static func == (a: Self, b: Self) -> Bool {
        a.file == b.file && a.parameters == b.parameters && a.input == b.input && a.elements == b.elements
            && a.output.from == b.output.from && a.output.head == b.output.head && a.output.line == b.output.line
    }

    /// `given`: the command line's `key=value` pairs, which set the file's parameters.
    public init(_ space: SpaceFile, given: [String: Int]) throws(SpaceFileError) {
        file = space.file
        var values = [String: Int]()
        for p in space.parameters { values[p.name] = p.value }
        for (key, value) in given.sorted(by: { $0.key < $1.key }) {
            guard space.parameters.contains(where: { $0.name == key }) else {
                let known = space.parameters.map(\.name)
                throw SpaceFileError(space.file, space.parameters.first?.line ?? 1, "no parameter '\(key)' in this space" + (known.isEmpty ? " (it has none)" : " (its parameters: \(known.joined(separator: ", ")))"))
            }
            values[key] = value
        }
        if let unset = space.parameters.first(where: { values[$0.name] == nil }) {
            throw SpaceFileError(space.file, unset.line, "parameter '\(unset.name)' is not set: give it on the command line (\(unset.name)=…)")
        }
        parameters = values
        input = space.input
        var elements = [Element]()
        var work = 0
        try Self.expand(space.body, values, repeats: 1, file: space.file, into: &elements, work: &work)
        self.elements = elements
        do { output = (try space.output.from.evaluate(values), space.output.head, space.output.line) } catch {
            throw SpaceFileError(space.file, space.output.line, "output: \(error)")
        }
    }

    /// `repeats`: how many times the enclosing loops run this list, their
    /// counts multiplied; `work` counts every statement run and every
    /// iteration (a loop whose bounds change with the outer variable is bounded too).
    private static func expand(_ statements: [SpaceFile.Statement], _ outer: [String: Int], repeats: Int, file: String,
                               into elements: inout [Element], work: inout Int) throws(SpaceFileError) {
        var values = outer
        for statement in statements {
            work += 1
            switch statement {
            case let .binding(name, value, line):
                guard outer[name] == nil else { throw SpaceFileError(file, line, "let: '\(name)' is already a parameter or an outer loop's variable") }
                do { values[name] = try value.evaluate(values) } catch { throw SpaceFileError(file, line, "let \(name): \(error)") }
            case let .loop(variable, first, last, body, line):
                guard values[variable] == nil else {
                    throw SpaceFileError(file, line, "for: '\(variable)' is already a parameter or an outer loop's variable")
                }
                let a: Int, b: Int
                do { (a, b) = (try first.evaluate(values), try last.evaluate(values)) } catch { throw SpaceFileError(file, line, "for: \(error)") }
                guard a <= b else { continue }
                // A repeat count typed wrong is refused from its size, before anything is unrolled.
                guard b - a < maxElements else {
                    throw SpaceFileError(file, line, "for: \(variable) in \(a)..\(b) repeats \(b - a + 1) times; a space has at most \(maxElements) nodes and edges")
                }
                // Nested loops multiply: refused by the product, before the first iteration.
                let (total, overflow) = repeats.multipliedReportingOverflow(by: b - a + 1)
                guard !overflow, total <= maxIterations, work + (b - a + 1) <= maxIterations else {
                    let times = overflow || total > maxIterations ? "\(overflow ? "more than \(Int.max)" : "\(total)") times with the loops around it"
                        : "past \(maxIterations) iterations with what came before"
                    throw SpaceFileError(file, line, "for: \(variable) in \(a)..\(b) repeats \(times); a space expands in at most \(maxIterations) loop iterations "
                                         + "(and \(maxElements) nodes and edges)")
                }
                var inner = values
                for i in a...b {
                    inner[variable] = i
                    work += 1
                    try expand(body, inner, repeats: total, file: file, into: &elements, work: &work)
                }
            case let .condition(test, then, otherwise, line):
                let holds: Bool
                do { holds = try test.evaluate(values) != 0 } catch { throw SpaceFileError(file, line, "if: \(error)") }
                try expand(holds ? then : otherwise, values, repeats: repeats, file: file, into: &elements, work: &work)
            case .node(let e), .edge(let e):
                guard elements.count < maxElements else {
                    throw SpaceFileError(file, e.line, "the space expands to more than \(maxElements) nodes and edges")
                }
                let isEdge = if case .edge = statement { true } else { false }
                elements.append(try element(e, edge: isEdge, values, file: file))
            }
        }
    }

    private static func element(_ e: SpaceFile.Element, edge: Bool, _ values: [String: Int], file: String) throws(SpaceFileError) -> Element {
        func fail(_ error: SpaceExpressionError) -> SpaceFileError { SpaceFileError(file, e.line, "\(edge ? "edge" : "node"): \(error)") }
        do {
            let name = try e.name.evaluate(values)
            var from = [String]()
            for f in e.from { from.append(try f.evaluate(values)) }
            let operation = try e.operation.map { (op: SpaceFile.Operation) throws(SpaceExpressionError) in
                Operation(kind: op.kind, kernel: try op.kernel?.evaluate(values) ?? (op.kind == .conv ? 3 : 0),
                          stride: try op.stride?.evaluate(values) ?? 1, pooling: op.pooling,
                          upsample: try op.upsample.map { (e: SpaceExpression) throws(SpaceExpressionError) in try e.evaluate(values) != 0 } ?? false,
                          relu: try op.relu.map { (e: SpaceExpression) throws(SpaceExpressionError) in try e.evaluate(values) != 0 } ?? false)
            }
            if let op = operation {
                if op.kind == .conv && ![1, 3, 5, 7].contains(op.kernel) {
                    throw SpaceFileError(file, e.line, "\(name): conv k=\(op.kernel); a kernel is 1, 3, 5 or 7")
                }
                if ![1, 2, 4].contains(op.stride) { throw SpaceFileError(file, e.line, "\(name): stride=\(op.stride); a stride is 1, 2 or 4") }
            }
            let channels = try e.channels?.evaluate(values)
            if let channels, channels < 1 || channels > 65536 {
                throw SpaceFileError(file, e.line, "\(name): out=\(channels); channels are 1…65536")
            }
            return Element(role: edge ? .edge : .node, name: name, from: from, to: try e.to?.evaluate(values), operation: operation,
                           channels: channels, scale: try e.scale?.evaluate(values), gated: e.gated, line: e.line)
        } catch let error as SpaceFileError {
            throw error
        } catch let error as SpaceExpressionError {
            throw fail(error)
        } catch {
            throw SpaceFileError(file, e.line, "\(error)")
        }
    }
}
