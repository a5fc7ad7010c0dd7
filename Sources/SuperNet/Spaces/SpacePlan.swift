import Foundation
import Interface
import Layers
import Tensor

/// A search space unrolled and checked for one input and number of classes,
/// before any tensor exists: every node with its role, operation, shape and
/// input channels, and every link, in the order `build` adds them. Each
/// problem (an unknown name, a cycle, a node off the input → output paths,
/// shapes or channels that do not meet, a stride that does not divide a
/// size) is one `SpaceFileError` with the line of the node or edge.
///
/// A file's elements become graph nodes as follows:
/// - a node without `op` sums its inputs, then ReLU (an aggregation);
/// - a node with `op: skip` passes its (summed) inputs on (an identity);
/// - a node with another op is that module, fixed unless `gated: true`;
/// - an edge is a module between two nodes, gated unless `fixed: true`; a
///   fixed `skip` edge is a direct link, a gated one a `Skip` module;
/// - the output is the head `out`: classify (a 1x1 convolution on a 1x1 map,
///   else global pooling and a linear layer) or segment (per pixel, 1x1).
public struct SpacePlan: Sendable {
    public struct Node: Sendable {
        public let name: String
        public let role: NodeRole
        public let operation: SpaceExpansion.Operation?
        public let gated: Bool
        /// The shape of the module's input (modules and the head), and of the node's output.
        public fileprivate(set) var input: FeatureShape?
        public fileprivate(set) var shape = FeatureShape(height: 0, width: 0, channels: 0)
        /// Output channels asked for (`out:`), if any.
        let channels: Int?
        let declaredScale: Int?
        public let line: Int
    }

    public let file: String
    public let inputShape: FeatureShape
    public let classes: Int
    public let head: SpaceFile.Head
    public private(set) var nodes: [Node] = []
    /// (source, target) indices into `nodes`, in the order they are connected.
    public private(set) var links: [(Int, Int)] = []

    public init(_ space: SpaceExpansion, input: FeatureShape, classes: Int, gated: Bool = true) throws(SpaceFileError) {
        file = space.file
        inputShape = input
        self.classes = classes
        head = space.output.head
        var index = [String: Int]()
        var pendingLinks = [(from: String, to: String, line: Int)]()
        func add(_ node: Node) throws(SpaceFileError) {
            if let other = index[node.name] {
                let what = nodes[other].role == .input ? "the input" : nodes[other].role == .output ? "the head" : "line \(nodes[other].line)"
                throw SpaceFileError(space.file, node.line, "'\(node.name)' is already the name of \(what); names are unique")
            }
            index[node.name] = nodes.count
            nodes.append(node)
        }
        try add(Node(name: space.input, role: .input, operation: nil, gated: false, channels: nil, declaredScale: 0, line: 1))
        for e in space.elements {
            let gatedHere = gated && e.gated
            switch e.role {
            case .node:
                let role: NodeRole
                switch e.operation?.kind {
                case nil: role = .aggregation
                case .skip?: role = gatedHere ? .module : .identity
                default: role = .module
                }
                try add(Node(name: e.name, role: role, operation: e.operation, gated: gatedHere, channels: e.channels,
                             declaredScale: e.scale, line: e.line))
                for source in e.from { pendingLinks.append((source, e.name, e.line)) }
            case .edge:
                guard e.from.count == 1, let to = e.to, let op = e.operation else {
                    throw SpaceFileError(space.file, e.line, "edge '\(e.name)' needs one from:, a to: and an op:")
                }
                if op.kind == .skip && !gatedHere {
                    pendingLinks.append((e.from[0], to, e.line))
                    continue
                }
                try add(Node(name: e.name, role: .module, operation: op, gated: gatedHere, channels: e.channels, declaredScale: nil, line: e.line))
                pendingLinks.append((e.from[0], e.name, e.line))
                pendingLinks.append((e.name, to, e.line))
            }
        }
        try add(Node(name: "out", role: .output, operation: nil, gated: false, channels: nil, declaredScale: nil, line: space.output.line))
        pendingLinks.append((space.output.from, "out", space.output.line))
        for link in pendingLinks {
            guard let s = index[link.from] else { throw SpaceFileError(space.file, link.line, "no node named '\(link.from)'" + Self.nearest(link.from, index.keys)) }
            guard let t = index[link.to] else { throw SpaceFileError(space.file, link.line, "no node named '\(link.to)'" + Self.nearest(link.to, index.keys)) }
            if nodes[t].role == .input { throw SpaceFileError(space.file, link.line, "'\(link.to)' is the input: nothing feeds it") }
            if nodes[s].role == .output { throw SpaceFileError(space.file, link.line, "'out' is the head: it feeds nothing") }
            links.append((s, t))
        }
        try checkGraph()
        try inferShapes()
    }

    /// " (did you mean 'A-0_1'?)" for a name one or two edits from a known one.
    static func nearest(_ name: String, _ known: Dictionary<String, Int>.Keys) -> String {
        guard name.utf8.count <= longestSuggestedWord,
              let best = known.sorted().map({ ($0, editDistance(name, $0)) }).min(by: { $0.1 < $1.1 }), best.1 <= 2 else { return "" }
        return " (did you mean '\(best.0)'?)"
    }

    private var predecessors: [[Int]] {
        var p = [[Int]](repeating: [], count: nodes.count)
        for (s, t) in links { p[t].append(s) }
        return p
    }

    /// Inputs per role, a cycle, nodes off the input → output paths.
    private func checkGraph() throws(SpaceFileError) {
        let inputs = predecessors
        var successors = [[Int]](repeating: [], count: nodes.count)
        for (s, t) in links { successors[s].append(t) }
        for (i, node) in nodes.enumerated() {
            switch node.role {
            case .module where inputs[i].count != 1:
                throw SpaceFileError(file, node.line, "'\(node.name)' is an operation and takes one input, not \(inputs[i].count); sum several in a node without op first")
            case .aggregation where inputs[i].isEmpty, .identity where inputs[i].isEmpty:
                throw SpaceFileError(file, node.line, "node '\(node.name)' has no inputs: no edge has to: \(node.name)")
            default: break
            }
        }
        do {
            _ = try GraphBuilder.reverseDFSPostOrder(count: nodes.count, successors: successors, names: nodes.map(\.name))
        } catch {
            let name = "\(error)".components(separatedBy: "'").dropFirst().first ?? ""
            let line = nodes.first { $0.name == name }?.line ?? 1
            throw SpaceFileError(file, line, "the graph has a cycle through '\(name)': an edge leads back to a node before it")
        }
        let reachable = GraphBuilder.reach(from: 0, successors), coreachable = GraphBuilder.reach(from: nodes.count - 1, inputs)
        if let stray = nodes.indices.first(where: { !reachable.contains($0) }) {
            throw SpaceFileError(file, nodes[stray].line, "'\(nodes[stray].name)' cannot be reached from the input '\(nodes[0].name)'")
        }
        if let stray = nodes.indices.first(where: { !coreachable.contains($0) }) {
            throw SpaceFileError(file, nodes[stray].line, "the output cannot be reached from '\(nodes[stray].name)': nothing it feeds leads to the head")
        }
    }

    /// Shapes in topological order: each operation's output from its input, sums checked equal.
    private mutating func inferShapes() throws(SpaceFileError) {
        let inputs = predecessors
        var successors = [[Int]](repeating: [], count: nodes.count)
        for (s, t) in links { successors[s].append(t) }
        let order: [Int]
        do { order = try GraphBuilder.reverseDFSPostOrder(count: nodes.count, successors: successors, names: nodes.map(\.name)) } catch {
            throw SpaceFileError(file, 1, "\(error)")     // checkGraph found no cycle
        }
        for i in order {
            let node = nodes[i]
            func fail(_ message: String) -> SpaceFileError { SpaceFileError(file, node.line, "'\(node.name)': \(message)") }
            if node.role == .input {
                nodes[i].shape = inputShape
                continue
            }
            let first = nodes[inputs[i][0]].shape
            if let other = inputs[i].first(where: { nodes[$0].shape != first }) {
                throw fail("sums \(first) from '\(nodes[inputs[i][0]].name)' and \(nodes[other].shape) from '\(nodes[other].name)'; the shapes of a sum's inputs (height x width x channels) must match")
            }
            var shape = first
            switch node.role {
            case .module:
                nodes[i].input = first
                let op = node.operation!
                switch op.kind {
                case .conv, .block:
                    if op.upsample { (shape.height, shape.width) = (2 * shape.height, 2 * shape.width) }
                    guard shape.height % op.stride == 0, shape.width % op.stride == 0 else {
                        throw fail("stride \(op.stride) does not divide its input's \(shape.height)x\(shape.width) size")
                    }
                    (shape.height, shape.width) = (shape.height / op.stride, shape.width / op.stride)
                    shape.channels = node.channels ?? first.channels
                case .pool:
                    guard shape.height % 2 == 0, shape.width % 2 == 0 else {
                        throw fail("a 2x2 pool does not divide its input's \(shape.height)x\(shape.width) size")
                    }
                    (shape.height, shape.width) = (shape.height / 2, shape.width / 2)
                case .skip: break
                }
                if node.channels != nil && (op.kind == .skip || op.kind == .pool) && node.channels != first.channels {
                    throw fail("\(op.kind.rawValue) keeps its input's \(first.channels) channels; out: \(node.channels!) needs a conv")
                }
            case .output:
                nodes[i].input = first
                if head == .segment && (first.height, first.width) != (inputShape.height, inputShape.width) {
                    throw fail("segment labels every pixel: the head reads a \(first.height)x\(first.width) map, the input is \(inputShape.height)x\(inputShape.width)")
                }
                shape = head == .segment ? FeatureShape(height: first.height, width: first.width, channels: classes)
                                         : FeatureShape(height: 1, width: 1, channels: classes)
            default: break
            }
            if let k = node.declaredScale, node.role != .input {
                let side = k >= 0 && k < 31 ? inputShape.height >> k : -1
                guard side >= 1, side << k == inputShape.height, shape.height == side else {
                    throw fail("declared at scale \(k) (\(side >= 1 ? "\(side)x\(side)" : "no such size") for a \(inputShape.height)x\(inputShape.width) input), its inputs make it \(shape.height)x\(shape.width)")
                }
            }
            nodes[i].shape = shape
        }
    }

    /// What the network will take in memory (FabricSize), counted from the plan.
    public var size: FabricSize {
        var size = FabricSize(parameters: 0, activationsPerExample: 0)
        func convolution(_ a: Int, _ b: Int, kernel: Int, outputPixels: Int) {
            let (a, b, k) = (Double(a), Double(b), Double(kernel))
            size.parameters += k * k * a * b + 3 * b                      // weights, bias, batch-norm scale and shift
            size.activationsPerExample += Double(outputPixels) * b          // the convolution's output
            size.largestLayerWeights = max(size.largestLayerWeights, k * k * a * b + b)
            size.largestColumnsPerExample = max(size.largestColumnsPerExample, Double(outputPixels) * k * k * a)
            size.largestColumnsPerChunk = max(size.largestColumnsPerChunk, max(Double(outputPixels), Double(Conv2d.rowsPerChunk)) * k * k * a)
        }
        for node in nodes {
            size.activationsPerExample += Double(node.shape.elements)
            guard let x = node.input else { continue }
            let pixels = node.shape.height * node.shape.width
            if node.role == .output {
                size.parameters += Double(x.channels * classes + classes)
                continue
            }
            guard let op = node.operation else { continue }
            if node.gated { size.gatheredFloatsPerExample += Double(x.elements) }
            switch op.kind {
            case .conv:
                if op.upsample { size.activationsPerExample += Double(4 * x.elements) }
                convolution(x.channels, node.shape.channels, kernel: op.kernel, outputPixels: pixels)
            case .block:
                if op.upsample { size.activationsPerExample += Double(4 * x.elements) }
                convolution(x.channels, node.shape.channels, kernel: 3, outputPixels: pixels)
                convolution(node.shape.channels, node.shape.channels, kernel: 3, outputPixels: pixels)
            case .pool, .skip: break
            }
        }
        return size
    }

    /// Makes the modules in the file's order (drawing their initial weights
    /// from `rng` in that order, as the built-in fabrics do) and the network.
    public func build(rng: inout RNG, context: ExecutionContext) throws -> SuperNetwork {
        var b = GraphBuilder(inputShape: inputShape)
        for node in nodes {
            var module: (any Module)?
            if let x = node.input {
                if node.role == .output {
                    module = head == .segment || (x.height == 1 && x.width == 1)
                        ? PointwiseClassifier(x.channels, classes: classes, rng: &rng, context: context)
                        : PooledLinear(x.channels, classes: classes, rng: &rng)
                } else if let op = node.operation {
                    switch op.kind {
                    case .conv:
                        module = ConvBN(x.channels, node.shape.channels, kernel: op.kernel, stride: op.stride, relu: op.relu,
                                        upsample: op.upsample, rng: &rng, context: context)
                    case .block:
                        module = BasicBlock(x.channels, node.shape.channels, stride: op.stride, rng: &rng, context: context)
                    case .pool: module = Pool(op.pooling ?? .average, context: context)
                    case .skip: module = Skip()
                    }
                }
            }
            b.add(node.name, node.role, module: module, gated: node.gated)
        }
        for (s, t) in links { b.connect(nodes[s].name, nodes[t].name) }
        do { return try b.build() } catch let error as GraphError {
            throw SpaceFileError(file, 1, error.message)
        }
    }
}
