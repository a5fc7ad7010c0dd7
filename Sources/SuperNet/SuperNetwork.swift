import Foundation
import Layers
import Tensor

/// What a node of a super network does.
public enum NodeRole: String, Codable, Sendable {
    /// The data: the network's single entry point.
    case input
    /// A module (ConvBN, block, projection): one input, trainable, maybe gated.
    case module
    /// Sum of the incoming tensors, then ReLU. Never gated.
    case aggregation
    /// Passes its (summed) input on unchanged; uses no machine in the parallel cost.
    case identity
    /// The output layer (class scores): one input, never gated. Without a
    /// module it is a pass-through sink that sums its inputs (hand-built
    /// graphs, e.g. the seed's Figure 8) and uses no machine.
    case output
}

/// A directed acyclic graph of modules and aggregations with one input and
/// one output; some modules carry a gate (the paper's super network E with
/// stochastic edges Γ). Nodes are stored in topological order.
public final class SuperNetwork {
    public struct Node {
        public let name: String
        public let role: NodeRole
        public let module: (any Module)?
        /// Predecessors and successors (indices into `nodes`), in edge order.
        public let inputs: [Int]
        public internal(set) var outputs: [Int]
        /// Index into `gateLogits`, for gated modules.
        public let gate: Int?
        /// Per-example output shape.
        public let shape: FeatureShape
        /// Multiply-accumulates of one example through this node with all its inputs.
        public let multiplyAccumulates: Int
        public let parameterCount: Int
        /// Where a fabric placed the node on its grid (the CNF's A-l_k at column l, scale k), if it did.
        public let grid: GridPosition?

        /// True for nodes that take a machine in the parallel cost (a gated skip does not).
        public var computes: Bool {
            (role == .module && module?.kind != .skip) || role == .aggregation || (role == .output && module != nil)
        }
    }

    public let nodes: [Node]
    public let inputShape: FeatureShape
    /// One real parameter a_k per gated module; p_k = sigmoid(a_k).
    public let gateLogits: Parameter
    /// The node of each gate.
    public let gatedNodes: [Int]
    public var inputNode: Int { 0 }
    public var outputNode: Int { nodes.count - 1 }

    init(nodes: [Node], inputShape: FeatureShape, gatedNodes: [Int]) {
        self.nodes = nodes
        self.inputShape = inputShape
        self.gatedNodes = gatedNodes
        gateLogits = Parameter(name: "gates", shape: [gatedNodes.count])
        gateLogits.value.fill(3)
    }

    public var gateCount: Int { gatedNodes.count }

    /// All trainable weights of the modules (not the gates), in node order.
    public var weights: [Parameter] { nodes.flatMap { $0.module?.parameters ?? [] } }

    /// Everything a saved network holds, named and in a fixed order: each
    /// module's parameters ("<node>.p<i>") and buffers ("<node>.b<i>", batch
    /// norm statistics), then the gate logits ("gates").
    public var stateTensors: [(name: String, tensor: Tensor)] {
        var all = [(name: String, tensor: Tensor)]()
        for node in nodes {
            guard let module = node.module else { continue }
            for (i, p) in module.parameters.enumerated() { all.append(("\(node.name).p\(i)", p.value)) }
            for (i, b) in module.buffers.enumerated() { all.append(("\(node.name).b\(i)", b)) }
        }
        all.append(("gates", gateLogits.value))
        return all
    }

    public func index(of name: String) -> Int? { nodes.firstIndex { $0.name == name } }

    /// p_k = sigmoid(a_k) for every gate.
    public var keepProbabilities: [Float] {
        (0..<gateCount).map { 1 / (1 + expf(-gateLogits.value[$0])) }
    }
}

/// A problem in a super network's description, naming the node concerned.
public struct GraphError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A node's place on a fabric's grid: its column (layer) and scale (0 = the input's resolution).
public struct GridPosition: Hashable, Sendable {
    public let column: Int, scale: Int
    public init(column: Int, scale: Int) { (self.column, self.scale) = (column, scale) }
}

/// Collects nodes and edges in any order, then checks them and builds the
/// `SuperNetwork` (`build`). Gates are numbered in node insertion order.
public struct GraphBuilder {
    private struct Pending {
        let name: String, role: NodeRole, module: (any Module)?, gated: Bool, grid: GridPosition?
    }
    private var pending: [Pending] = []
    private var edges: [(String, String)] = []
    public let inputShape: FeatureShape

    public init(inputShape: FeatureShape) { self.inputShape = inputShape }

    public mutating func add(_ name: String, _ role: NodeRole, module: (any Module)? = nil, gated: Bool = false, grid: GridPosition? = nil) {
        pending.append(Pending(name: name, role: role, module: module, gated: gated, grid: grid))
    }

    public mutating func connect(_ source: String, _ target: String) { edges.append((source, target)) }

    /// Adds a node fed by `inputs` (which may be added later).
    public mutating func add(_ name: String, _ role: NodeRole, module: (any Module)? = nil, gated: Bool = false, inputs: [String]) {
        add(name, role, module: module, gated: gated)
        for source in inputs { connect(source, name) }
    }

    public func build() throws -> SuperNetwork {
        var indexOf = [String: Int]()
        for (i, node) in pending.enumerated() {
            guard indexOf[node.name] == nil else { throw GraphError("two nodes are named '\(node.name)'") }
            indexOf[node.name] = i
            if node.role == .module && node.module == nil { throw GraphError("module node '\(node.name)' has no module") }
            if [.input, .aggregation, .identity].contains(node.role) && node.module != nil {
                throw GraphError("\(node.role.rawValue) node '\(node.name)' takes no module")
            }
            if node.gated && node.role != .module { throw GraphError("node '\(node.name)': only modules can be gated") }
        }
        var successors = [[Int]](repeating: [], count: pending.count)
        var predecessors = [[Int]](repeating: [], count: pending.count)
        for (source, target) in edges {
            guard let s = indexOf[source] else { throw GraphError("edge \(source) → \(target): no node named '\(source)'") }
            guard let t = indexOf[target] else { throw GraphError("edge \(source) → \(target): no node named '\(target)'") }
            successors[s].append(t)
            predecessors[t].append(s)
        }
        let inputs = pending.indices.filter { pending[$0].role == .input }
        let outputs = pending.indices.filter { pending[$0].role == .output }
        guard inputs.count == 1 else { throw GraphError("a super network needs exactly one input node, found \(inputs.count)") }
        guard outputs.count == 1 else { throw GraphError("a super network needs exactly one output node, found \(outputs.count)") }
        for (i, node) in pending.enumerated() {
            let n = predecessors[i].count
            switch node.role {
            case .input where n > 0: throw GraphError("input node '\(node.name)' has incoming edges")
            case .module where n != 1, .output where n != 1 && node.module != nil:
                throw GraphError("\(node.role.rawValue) '\(node.name)' has \(n) inputs; it takes exactly one (sum several in an aggregation node first)")
            case .aggregation where n == 0, .identity where n == 0, .output where n == 0:
                throw GraphError("\(node.role.rawValue) '\(node.name)' has no inputs")
            default: break
            }
            if node.role == .output && !successors[i].isEmpty { throw GraphError("output node '\(node.name)' has outgoing edges") }
        }

        let reachable = GraphBuilder.reach(from: inputs[0], successors)
        let coreachable = GraphBuilder.reach(from: outputs[0], predecessors)
        // A cycle is reported first: a node on one may also look unreachable.
        let order = try GraphBuilder.reverseDFSPostOrder(count: pending.count, successors: successors, names: pending.map(\.name))
        if let stray = pending.indices.first(where: { !reachable.contains($0) || !coreachable.contains($0) }) {
            throw GraphError("node '\(pending[stray].name)' is not on a path from the input to the output")
        }
        // With one root and one sink, the order starts at the input and ends at the output.
        assert(order.first == inputs[0] && order.last == outputs[0])
        var position = [Int](repeating: 0, count: pending.count)
        for (p, i) in order.enumerated() { position[i] = p }
        var nodes = [SuperNetwork.Node]()
        var gateOfOriginal = [Int: Int]()
        for i in pending.indices where pending[i].gated { gateOfOriginal[i] = gateOfOriginal.count }
        var gatedNodes = [Int](repeating: 0, count: gateOfOriginal.count)
        for i in order {
            let p = pending[i]
            let ins = predecessors[i].map { position[$0] }
            let shape: FeatureShape, macs: Int
            if p.role == .input {
                shape = inputShape
                macs = 0
            } else if let module = p.module {
                let x = nodes[ins[0]].shape
                do { shape = try module.outputShape(for: x) } catch {
                    throw GraphError("node '\(p.name)' cannot take input \(x) from '\(nodes[ins[0]].name)': \(error)")
                }
                macs = module.multiplyAccumulates(for: x)
            } else {
                shape = nodes[ins[0]].shape
                if let other = ins.first(where: { nodes[$0].shape != shape }) {
                    throw GraphError("\(p.role.rawValue) '\(p.name)' sums \(shape) from '\(nodes[ins[0]].name)' and \(nodes[other].shape) from '\(nodes[other].name)'")
                }
                macs = p.role == .aggregation ? shape.elements * (ins.count - 1) : 0
            }
            if let g = gateOfOriginal[i] { gatedNodes[g] = nodes.count }
            nodes.append(SuperNetwork.Node(name: p.name, role: p.role, module: p.module, inputs: ins, outputs: [],
                                           gate: gateOfOriginal[i], shape: shape, multiplyAccumulates: macs,
                                           parameterCount: p.module?.parameterCount ?? 0, grid: p.grid))
        }
        for i in nodes.indices { for j in nodes[i].inputs { nodes[j].outputs.append(i) } }
        return SuperNetwork(nodes: nodes, inputShape: inputShape, gatedNodes: gatedNodes)
    }

    /// Reverse DFS post-order, walked as the reference implementation's graph
    /// library did: roots in insertion order; at each node all unexplored
    /// successors are pushed at once in edge order, so the last one is
    /// explored first. It is a topological order, and the fixed order in which
    /// the reference list scheduling walks the nodes (spec §2): with it the
    /// CNF baseline takes 171 / 90 / 53 steps on 1 / 2 / 4 machines, as in the
    /// seed's tables. Throws on a cycle.
    static func reverseDFSPostOrder(count: Int, successors: [[Int]], names: [String]) throws -> [Int] {
        var explored = [Bool](repeating: false, count: count), seen = explored
        var post = [Int]()
        for root in 0..<count where !explored[root] {
            var fringe = [root]
            while let w = fringe.last {
                if explored[w] { fringe.removeLast(); continue }
                seen[w] = true
                var fresh = [Int]()
                for s in successors[w] where !explored[s] {
                    if seen[s] { throw GraphError("the graph has a cycle through '\(names[s])'") }
                    fresh.append(s)
                }
                if fresh.isEmpty {
                    explored[w] = true
                    post.append(w)
                    fringe.removeLast()
                } else {
                    fringe.append(contentsOf: fresh)
                }
            }
        }
        return post.reversed()
    }

    static func reach(from start: Int, _ next: [[Int]]) -> Set<Int> {
        var seen: Set<Int> = [start], stack = [start]
        while let n = stack.popLast() { for m in next[n] where seen.insert(m).inserted { stack.append(m) } }
        return seen
    }
}
