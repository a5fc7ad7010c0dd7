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
///
/// Memory: sums (aggregation, identity, a pass-through output) are filled
/// by their inputs as soon as those are computed ("pushed"), so a module
/// whose successors are all sums keeps no output of its own: it writes into
/// `TransientBuffers` shared by all modules. In backward such a module pulls
/// its output gradient from its successors' gradients.
public final class Executor {
    public let network: SuperNetwork
    public var mode: ExecutionMode

    private var rows: [[Int32]]            // S_i
    private var position: [[Int32]]        // example → row of node i, or −1
    private var outputs: [Tensor?]
    private let nodeOutputs: [Tensor]      // sums; masked outputs of kept modules
    private let gathered: [Tensor]         // module inputs gathered from a larger row set
    private let gradients: [Tensor]        // gradient w.r.t. the output of sums and kept modules
    private var mask: [[Float]]            // mask mode: 1 where node i is active for example e
    private let isSum: [Bool]
    /// Forward bookkeeping of each sum: nothing written into it yet; its ReLU already applied.
    private var empty: [Bool], rectified: [Bool]
    /// Modules whose successors are all sums: their outputs are pushed and not kept.
    private let isTransient: [Bool]
    private let transient = TransientBuffers()
    private let pulled = Tensor(shape: [0])
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
        empty = Array(repeating: false, count: n)
        rectified = Array(repeating: false, count: n)
        let sums = network.nodes.map { $0.module == nil && $0.role != .input }
        isSum = sums
        isTransient = network.nodes.map { $0.role == .module && !$0.outputs.isEmpty && $0.outputs.allSatisfy { sums[$0] } }
        for (i, node) in network.nodes.enumerated() {
            if node.inputs == [network.inputNode] { node.module?.computesInputGradient = false }
            if isTransient[i] { node.module?.shareTransientBuffers(transient) }
        }
    }

    /// The logits of every example: (N, classes), or (N, H, W, classes) for a
    /// segmentation head. `x` is (N, H, W, C) NHWC. `backward` may follow
    /// unless `inferenceOnly` (inference mode, modules may fold batch norm).
    public func forward(_ x: Tensor, architectures: [Architecture], training: Bool, inferenceOnly: Bool = false) throws -> Tensor {
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
        // Sums start empty: their first contribution is copied (or written in
        // place) rather than added to zeros.
        for i in nodes.indices where isSum[i] && !rows[i].isEmpty {
            nodeOutputs[i].reshape(nodes[i].shape.batch(rows[i].count))
            empty[i] = true
            rectified[i] = false
        }
        for i in nodes.indices {
            let node = nodes[i]
            outputs[i] = nil
            if node.role == .input {
                outputs[i] = x
                push(x, rowsOf: i, scaledBy: nil)
                continue
            }
            guard !rows[i].isEmpty else { continue }
            if let module = node.module {
                let input = gather(into: gathered[i], rowsOf: i, from: node.inputs[0])
                let scale = mode == .mask && node.role == .module && !isAllOnes(mask[i]) ? mask[i] : nil
                if inferenceOnly && !training && isTransient[i] && scale == nil,
                   let j = node.outputs.first, node.outputs.count == 1, isSum[j], rows[j] == rows[i] {
                    // The sum's last contribution also applies the aggregation's ReLU.
                    let last = nodes[j].role == .aggregation && nodes[j].inputs.max() == i
                    if try module.infer(input, into: nodeOutputs[j], accumulate: !empty[j], relu: last) {
                        empty[j] = false
                        rectified[j] = last
                        continue                              // summed in place
                    }
                }
                var y = inferenceOnly && !training ? try module.infer(input) : try module.forward(input, training: training)
                if isTransient[i] {
                    push(y, rowsOf: i, scaledBy: scale)
                    continue
                }
                if let scale { y = scaleRows(y, by: scale, into: nodeOutputs[i]) }
                outputs[i] = y
                push(y, rowsOf: i, scaledBy: nil)
            } else {
                // A sum: every input has been pushed into it. Aggregations end with a ReLU.
                let y = nodeOutputs[i]
                if empty[i] { Elementwise.fill(y.data, 0, count: y.count) }
                empty[i] = false
                if node.role == .aggregation && !rectified[i] { Elementwise.reluInPlace(y.data, count: y.count) }
                outputs[i] = y
                push(y, rowsOf: i, scaledBy: nil)
            }
        }
        return outputs[network.outputNode]!
    }

    /// Back-propagates the gradient of the loss with respect to the logits.
    public func backward(_ logitGradient: Tensor) throws {
        let nodes = network.nodes
        for i in nodes.indices where !rows[i].isEmpty && i != network.inputNode && !isTransient[i] {
            gradients[i].reshape(nodes[i].shape.batch(rows[i].count))
            Elementwise.fill(gradients[i].data, 0, count: gradients[i].count)
        }
        if isSum[network.outputNode] {
            Elementwise.copy(gradients[network.outputNode].data, logitGradient.data, count: logitGradient.count)
        }
        for i in stride(from: nodes.count - 1, through: 1, by: -1) where !rows[i].isEmpty {
            let node = nodes[i]
            if let module = node.module {
                var g = i == network.outputNode ? logitGradient : isTransient[i] ? pullGradient(of: i) : gradients[i]
                if mode == .mask && node.role == .module && !isAllOnes(mask[i]) {
                    g = scaleRows(g, by: mask[i], into: g === pulled || g === gradients[i] ? g : pulled)
                }
                let dx = try module.backward(g)
                if node.inputs[0] != network.inputNode { scatterAdd(dx, rowsOf: i, into: node.inputs[0]) }
            } else {
                let g = gradients[i]
                if node.role == .aggregation { Elementwise.reluBackwardInPlace(g.data, output: outputs[i]!.data, count: g.count) }
                // Transient modules among the inputs pull this gradient themselves.
                for j in node.inputs where !isTransient[j] { scatterAdd(g, rowsOf: i, into: j) }
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

    /// The input of module i: its source's rows for S_i (zero where the
    /// source is not active), or the source's tensor itself when the rows agree.
    private func gather(into target: Tensor, rowsOf i: Int, from j: Int) -> Tensor {
        let mine = rows[i]
        let width = network.nodes[j].shape.elements
        guard let source = outputs[j] else {
            // No example reaches the output through the source (every sample inconsistent): zeros in.
            target.reshape(network.nodes[j].shape.batch(mine.count))
            Elementwise.fill(target.data, 0, count: target.count)
            return target
        }
        if rows[j] == mine { return source }
        target.reshape(network.nodes[j].shape.batch(mine.count))
        let from = position[j], data = source.data, out = target.data
        Parallel.forEach(min(Parallel.threads, mine.count)) { part, _ in
            for r in stride(from: part, to: mine.count, by: Parallel.threads) {
                let p = Int(from[Int(mine[r])])
                if p >= 0 { (out + r * width).update(from: data + p * width, count: width) }
                else { (out + r * width).update(repeating: 0, count: width) }
            }
        }
        return target
    }

    /// Adds node i's output `y` (rows S_i, each row e times scale[e] if given)
    /// into every sum that follows node i.
    private func push(_ y: Tensor, rowsOf i: Int, scaledBy scale: [Float]?) {
        for j in network.nodes[i].outputs where isSum[j] && !rows[j].isEmpty {
            if empty[j] {
                empty[j] = false
                if rows[i] == rows[j] && scale == nil {
                    Elementwise.copy(nodeOutputs[j].data, y.data, count: y.count)
                    continue
                }
                Elementwise.fill(nodeOutputs[j].data, 0, count: nodeOutputs[j].count)
            }
            addRows(of: y, rowsOf: i, into: nodeOutputs[j], rowsOf: j, scaledBy: scale)
        }
    }

    /// target (rows S_j) += source (rows S_i) on the examples both hold.
    /// (A module's input gradient has its input's shape: the row width comes from the tensor.)
    private func addRows(of source: Tensor, rowsOf i: Int, into target: Tensor, rowsOf j: Int, scaledBy scale: [Float]? = nil) {
        let width = source.count / max(rows[i].count, 1)
        precondition(width * rows[j].count == target.count, "row widths of \(network.nodes[i].name) and \(network.nodes[j].name) differ")
        if rows[i] == rows[j] && scale == nil {
            Elementwise.add(target.data, source.data, count: source.count)
            return
        }
        let mine = rows[i], to = position[j], data = source.data, out = target.data
        Parallel.forEach(min(Parallel.threads, mine.count)) { part, _ in
            for r in stride(from: part, to: mine.count, by: Parallel.threads) {
                let e = Int(mine[r]), p = Int(to[e])
                guard p >= 0 else { continue }
                if let scale {
                    let f = scale[e], t = out + p * width, s = data + r * width
                    if f != 0 { for k in 0..<width { t[k] += f * s[k] } }
                } else {
                    addVectors(out + p * width, data + r * width, count: width)
                }
            }
        }
    }

    /// Adds node i's input gradient `dx` (rows S_i) into the gradient of node j.
    private func scatterAdd(_ dx: Tensor, rowsOf i: Int, into j: Int) {
        guard j != network.inputNode, !rows[j].isEmpty else { return }
        addRows(of: dx, rowsOf: i, into: gradients[j], rowsOf: j)
    }

    /// The gradient w.r.t. transient module i's output: the sum of its
    /// successors' gradients on its rows (the successor's tensor itself when
    /// there is one with the same rows).
    private func pullGradient(of i: Int) -> Tensor {
        let successors = network.nodes[i].outputs.filter { !rows[$0].isEmpty }
        if successors.count == 1, rows[successors[0]] == rows[i] { return gradients[successors[0]] }
        let width = network.nodes[i].shape.elements, mine = rows[i]
        pulled.reshape(network.nodes[i].shape.batch(mine.count))
        Elementwise.fill(pulled.data, 0, count: pulled.count)
        for j in successors {
            let from = position[j], data = gradients[j].data, out = pulled.data
            Parallel.forEach(min(Parallel.threads, mine.count)) { part, _ in
                for r in stride(from: part, to: mine.count, by: Parallel.threads) where from[Int(mine[r])] >= 0 {
                    addVectors(out + r * width, data + Int(from[Int(mine[r])]) * width, count: width)
                }
            }
        }
        return pulled
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


}
