/// A set of node indices as bits: the nodes one sampled architecture uses.
public struct NodeSet: Hashable, Sendable {
    public private(set) var words: [UInt64]

    public init(count: Int) { words = [UInt64](repeating: 0, count: (count + 63) / 64) }

    public func contains(_ i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
    public mutating func insert(_ i: Int) { words[i >> 6] |= 1 << UInt64(i & 63) }
    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// The members in increasing order.
    public var members: [Int] {
        var result = [Int]()
        for (w, word) in words.enumerated() {
            var bits = word
            while bits != 0 {
                result.append(w * 64 + bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return result
    }
}

/// One sampled architecture: which gates are on (H), and the pruned set of
/// nodes it actually uses.
public struct Architecture: Hashable, Sendable {
    /// h_k for every gate.
    public let gates: [Bool]
    /// Nodes that are on and lie on an input → output path of switched-on
    /// nodes. Empty when no such path exists (an inconsistent sample).
    public let active: NodeSet

    public var isConsistent: Bool { !active.isEmpty }
}

extension SuperNetwork {
    /// The pruned architecture of these gate values. A node is on when it is
    /// not gated or its gate is on; it is active when it is on, is reached
    /// from the input through on nodes, and reaches the output through on nodes.
    public func architecture(gates: [Bool]) -> Architecture {
        precondition(gates.count == gateCount, "\(gates.count) gate values for \(gateCount) gates")
        let n = nodes.count
        var reached = NodeSet(count: n)
        for i in 0..<n {
            let node = nodes[i]
            if let g = node.gate, !gates[g] { continue }
            if i == inputNode || node.inputs.contains(where: { reached.contains($0) }) { reached.insert(i) }
        }
        var active = NodeSet(count: n)
        guard reached.contains(outputNode) else { return Architecture(gates: gates, active: active) }
        for i in stride(from: n - 1, through: 0, by: -1) where reached.contains(i) {
            if i == outputNode || nodes[i].outputs.contains(where: { active.contains($0) }) { active.insert(i) }
        }
        return Architecture(gates: gates, active: active)
    }

    /// The sampled architecture without pruning: every node that is on, connected
    /// or not (the reference implementation's costed set; an option of `Trainer`).
    public func unprunedArchitecture(gates: [Bool]) -> Architecture {
        var on = NodeSet(count: nodes.count)
        for (i, node) in nodes.enumerated() where node.gate.map({ gates[$0] }) ?? true { on.insert(i) }
        return Architecture(gates: gates, active: on)
    }

    /// The architecture with every gate on: the whole super network.
    public var fullArchitecture: Architecture { architecture(gates: [Bool](repeating: true, count: gateCount)) }

    /// The module nodes (convolution blocks; not the input, aggregations,
    /// identities or the output head): what `arch`, `inspect`, `summary`,
    /// `sample` and `export model` count.
    public var moduleCount: Int { nodes.filter { $0.role == .module }.count }

    /// The module nodes an architecture uses (after pruning).
    public func moduleCount(of architecture: Architecture) -> Int {
        nodes.indices.filter { nodes[$0].role == .module && architecture.active.contains($0) }.count
    }

    /// The deterministic architecture: gate k on iff p_k > 0.5, then pruned.
    public var deterministicArchitecture: Architecture { architecture(gates: keepProbabilities.map { $0 > 0.5 }) }
}

extension SuperNetwork {
    /// The architecture of one input → output path, the one of least total
    /// `weight` over its nodes (a node's flops, say): its gates on, every other
    /// gate off, then pruned. Nil when the graph has no such path. For an
    /// additive cost weighted by its own per-node values this is the cheapest
    /// non-empty architecture.
    public func cheapestPath(weight: (Node) -> Double) -> Architecture? {
        let n = nodes.count
        var best = [Double](repeating: .infinity, count: n), previous = [Int](repeating: -1, count: n)
        for i in 0..<n {
            if i == inputNode {
                best[i] = weight(nodes[i])
                continue
            }
            for j in nodes[i].inputs where best[j] + weight(nodes[i]) < best[i] {
                (best[i], previous[i]) = (best[j] + weight(nodes[i]), j)
            }
        }
        guard best[outputNode].isFinite else { return nil }
        var gates = [Bool](repeating: false, count: gateCount)
        var i = outputNode
        while i >= 0 {
            if let g = nodes[i].gate { gates[g] = true }
            i = i == inputNode ? -1 : previous[i]
        }
        let path = architecture(gates: gates)
        return path.isConsistent ? path : nil
    }
}
