import Layers
import Tensor

/// How the executor runs the sampled architectures of a batch.
public enum ExecutionMode: String, Codable, Sendable, CaseIterable {
    /// Each node runs only on the examples whose pruned architecture uses it
    /// (gather the rows, run, scatter-add): cost follows the sampled architectures.
    case subBatch = "sub-batch"
    /// Reference semantics: every node runs on every example and each module's
    /// output is multiplied by its 0/1 (pruned) gate. Costs the full network.
    case mask
}

/// Runs a super network forward and backward on a batch in which example e
/// uses architecture `architectures[e]` (or all examples share one).
///
/// Node i's tensors hold one row per example in its row set S_i, in example
/// order; `position[i][e]` is e's row in node i, or −1. Weight gradients
/// accumulate into the modules' parameters; the caller zeroes them.
public final class Executor {
    public let network: SuperNetwork
    public var mode: ExecutionMode

    private var rows: [[Int32]]            // S_i
    private var position: [[Int32]]        // example → row of node i, or −1
    private var outputs: [Tensor?]
    private let nodeOutputs: [Tensor]      // aggregation / identity outputs; masked module outputs
    private let gathered: [Tensor]         // module inputs gathered from a larger row set
    private let gradients: [Tensor]        // gradient w.r.t. each node's output
    private var mask: [[Float]]            // mask mode: 1 where node i is active for example e
    private var batch = 0

    public init(_ network: SuperNetwork, mode: ExecutionMode = .subBatch) {
        self.network = network
        self.mode = mode
        let n = network.nodes.count
        rows = Array(repeating: [], count: n)
        position = Array(repeating: [], count: n)
        outputs = Array(repeating: nil, count: n)
        nodeOutputs = (0..<n).map { _ in Tensor(shape: [0]) }
        gathered = (0..<n).map { _ in Tensor(shape: [0]) }
        gradients = (0..<n).map { _ in Tensor(shape: [0]) }
        mask = Array(repeating: [], count: n)
        for i in 0..<n where network.nodes[i].inputs == [network.inputNode] {
            network.nodes[i].module?.computesInputGradient = false
        }
    }

    /// The logits of every example: (N, classes), or (N, H, W, classes) for a
    /// segmentation head. `x` is (N, H, W, C) NHWC.
    public func forward(_ x: Tensor, architectures: [Architecture], training: Bool) throws -> Tensor {
        try ShapeError.check(x, rank: 4, "SuperNetwork", layout: "(N, H, W, C)")
        let s = network.inputShape
        guard x.shape[1] == s.height, x.shape[2] == s.width, x.shape[3] == s.channels else {
            throw ShapeError("SuperNetwork: expected \(s) images, got shape \(x.shape)")
        }
        let n = x.shape[0]
        guard architectures.count == n || architectures.count == 1 else {
            throw ShapeError("SuperNetwork: \(architectures.count) architectures for \(n) examples")
        }
        batch = n
        assignRows(architectures)
        let nodes = network.nodes
        for i in nodes.indices {
            let node = nodes[i]
            if node.role == .input {
                outputs[i] = x
                continue
            }
            guard !rows[i].isEmpty else { outputs[i] = nil; continue }
            if let module = node.module {
                let input = try sum(into: gathered[i], rowsOf: i, from: node.inputs)
                var y = try module.forward(input, training: training)
                if mode == .mask && node.role == .module && !isAllOnes(mask[i]) {
                    y = scaleRows(y, by: mask[i], into: nodeOutputs[i])
                }
                outputs[i] = y
            } else {
                // Aggregation (then ReLU), identity, or a pass-through output: a sum.
                let y = try sum(into: nodeOutputs[i], rowsOf: i, from: node.inputs, alwaysCopy: true)
                if node.role == .aggregation { reluInPlace(y) }
                outputs[i] = y
            }
        }
        return outputs[network.outputNode]!
    }

    /// Back-propagates the gradient of the loss with respect to the logits.
    public func backward(_ logitGradient: Tensor) throws {
        let nodes = network.nodes
        for i in nodes.indices where !rows[i].isEmpty && i != network.outputNode {
            gradients[i].reshape(nodes[i].shape.batch(rows[i].count))
            Elementwise.fill(gradients[i].data, 0, count: gradients[i].count)
        }
        for i in stride(from: nodes.count - 1, through: 1, by: -1) where !rows[i].isEmpty {
            let node = nodes[i]
            var g = i == network.outputNode ? logitGradient : gradients[i]
            if let module = node.module {
                if mode == .mask && node.role == .module && !isAllOnes(mask[i]) { g = scaleRows(g, by: mask[i], into: g) }
                let dx = try module.backward(g)
                if node.inputs[0] != network.inputNode { scatterAdd(dx, rowsOf: i, into: node.inputs) }
            } else {
                if node.role == .aggregation { reluBackwardInPlace(g, output: outputs[i]!) }
                scatterAdd(g, rowsOf: i, into: node.inputs)
            }
        }
    }

    /// Rows used by node i in the last forward pass (for reports and tests).
    public func examples(of node: Int) -> [Int32] { rows[node] }

    // MARK: Row bookkeeping

    private func assignRows(_ architectures: [Architecture]) {
        let nodes = network.nodes, n = batch
        for i in nodes.indices {
            rows[i].removeAll(keepingCapacity: true)
            if position[i].count != n { position[i] = [Int32](repeating: -1, count: n) }
            if mode == .mask && mask[i].count != n { mask[i] = [Float](repeating: 0, count: n) }
            let always = i == network.inputNode || i == network.outputNode || mode == .mask
            for e in 0..<n {
                let active = architectures[architectures.count == 1 ? 0 : e].active.contains(i)
                if mode == .mask { mask[i][e] = active ? 1 : 0 }
                if always || active {
                    position[i][e] = Int32(rows[i].count)
                    rows[i].append(Int32(e))
                } else {
                    position[i][e] = -1
                }
            }
        }
    }

    /// The input of node i: the sum over `sources` of their rows for S_i (zero
    /// where a source is not active). Returns a source's tensor itself when it
    /// is the only one and has exactly S_i's rows, unless `alwaysCopy`.
    private func sum(into target: Tensor, rowsOf i: Int, from sources: [Int], alwaysCopy: Bool = false) throws -> Tensor {
        let mine = rows[i]
        if sources.count == 1, !alwaysCopy, let only = outputs[sources[0]], rows[sources[0]] == mine { return only }
        let shape = network.nodes[sources[0]].shape
        let width = shape.elements
        target.reshape(shape.batch(mine.count))
        // The first source whose rows match is copied, the others added; otherwise start from zero.
        var copied = false
        for j in sources {
            guard let source = outputs[j] else { continue }
            if rows[j] == mine {
                if copied { Elementwise.add(target.data, source.data, count: target.count) }
                else { Elementwise.copy(target.data, source.data, count: target.count) }
                copied = true
            }
        }
        if !copied { Elementwise.fill(target.data, 0, count: target.count) }
        for j in sources {
            guard let source = outputs[j], rows[j] != mine else { continue }
            let from = position[j], data = source.data, out = target.data
            Parallel.forEach(min(Parallel.threads, mine.count)) { part, _ in
                for r in stride(from: part, to: mine.count, by: Parallel.threads) where from[Int(mine[r])] >= 0 {
                    addVectors(out + r * width, data + Int(from[Int(mine[r])]) * width, count: width)
                }
            }
        }
        return target
    }

    /// Adds node i's input gradient `dx` (rows S_i) into each source's gradient.
    private func scatterAdd(_ dx: Tensor, rowsOf i: Int, into sources: [Int]) {
        let mine = rows[i]
        for j in sources where j != network.inputNode && !rows[j].isEmpty {
            let target = gradients[j], width = network.nodes[j].shape.elements
            if rows[j] == mine {
                Elementwise.add(target.data, dx.data, count: dx.count)
                continue
            }
            // Rows of one example go to one target row: split the rows over the workers.
            let to = position[j], out = target.data, data = dx.data
            Parallel.forEach(min(Parallel.threads, mine.count)) { part, _ in
                for r in stride(from: part, to: mine.count, by: Parallel.threads) where to[Int(mine[r])] >= 0 {
                    addVectors(out + Int(to[Int(mine[r])]) * width, data + r * width, count: width)
                }
            }
        }
    }

    // MARK: Elementwise helpers

    private func isAllOnes(_ m: [Float]) -> Bool { !m.contains(0) }

    /// target = x with row e multiplied by m[e] (target may be x itself).
    private func scaleRows(_ x: Tensor, by m: [Float], into target: Tensor) -> Tensor {
        if target !== x { target.reshape(x.shape) }
        let width = x.count / max(x.shape[0], 1)
        for e in 0..<x.shape[0] {
            let s = x.data + e * width, t = target.data + e * width, f = m[e]
            for k in 0..<width { t[k] = s[k] * f }
        }
        return target
    }

    private func reluInPlace(_ y: Tensor) { Elementwise.reluInPlace(y.data, count: y.count) }

    private func reluBackwardInPlace(_ g: Tensor, output y: Tensor) {
        Elementwise.reluBackwardInPlace(g.data, output: y.data, count: g.count)
    }
}
