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
/// Every pass starts from a row plan: node i runs on the examples of its row
/// set S_i (in example order), and a module's output row of example e is
/// multiplied by `scale[e]` when the plan has a scale. The two execution modes
/// are two plans for the same forward and backward code:
/// - sub-batch: S_i = the examples whose architecture uses node i, no scale;
/// - mask: S_i = every example, scale = the 0/1 gate of node i per example.
/// Weight gradients accumulate into the modules' parameters; the caller zeroes them.
///
/// Memory: sums (aggregation, identity, a pass-through output) are filled
/// by their inputs as soon as those are computed ("pushed"), so a module
/// whose successors are all sums keeps no output of its own: it writes into
/// `TransientBuffers` shared by all modules. In backward such a module pulls
/// its output gradient from its successors' gradients.
public final class Executor {
    public let network: SuperNetwork
    public var mode: ExecutionMode
    /// Threads of the executor's own loops (the modules' layers have their context).
    public let context: ExecutionContext

    /// What the executor keeps for one node between forward and backward.
    private struct NodeState {
        /// S_i: the examples the node runs on, in example order.
        var rows: [Int32] = []
        /// Example → its row in this node, or −1.
        var position: [Int32] = []
        /// Mask mode: the module's 0/1 gate per example (kept between passes, so planning allocates nothing).
        var gate: [Float] = []
        /// Whether the module's output rows are scaled by `gate` (mask mode, some gate off).
        var scaled = false
        /// Per-example factor of a module's output, or nil.
        var scale: [Float]? { scaled ? gate : nil }
        /// This pass's output (nil: not computed, or pushed and not kept).
        var output: Tensor?
        /// A sum's value, or a scaled module's output.
        let value = Tensor(shape: [0])
        /// A module's input gathered from a larger row set.
        let gathered = Tensor(shape: [0])
        /// The gradient w.r.t. the output of a sum or a kept module.
        let gradient = Tensor(shape: [0])
        /// A sum's forward bookkeeping: nothing written into it yet; its ReLU already applied.
        var empty = false, rectified = false
        /// Nothing added into `gradient` yet in this backward pass: the first contribution is copied.
        var gradientEmpty = false
        /// Not a module and not the input: filled by pushes.
        let isSum: Bool
        /// A module whose successors are all sums: its output is pushed and not kept.
        let isTransient: Bool
    }

    private var nodes: [NodeState]
    private let transient = TransientBuffers()
    private let pulled = Tensor(shape: [0])
    private var batch = 0

    public init(_ network: SuperNetwork, mode: ExecutionMode = .subBatch, context: ExecutionContext) {
        self.network = network
        self.mode = mode
        self.context = context
        let sums = network.nodes.map { $0.module == nil && $0.role != .input }
        nodes = network.nodes.indices.map { i in
            let node = network.nodes[i]
            return NodeState(isSum: sums[i], isTransient: node.role == .module && !node.outputs.isEmpty && node.outputs.allSatisfy { sums[$0] })
        }
        for (i, node) in network.nodes.enumerated() {
            if node.inputs == [network.inputNode] { node.module?.computesInputGradient = false }
            if nodes[i].isTransient { node.module?.shareTransientBuffers(transient) }
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
        plan(architectures)
        let graph = network.nodes
        // Sums start empty: their first contribution is copied (or written in
        // place) rather than added to zeros.
        for i in graph.indices where nodes[i].isSum && !nodes[i].rows.isEmpty {
            nodes[i].value.reshape(graph[i].shape.batch(nodes[i].rows.count))
            nodes[i].empty = true
            nodes[i].rectified = false
        }
        let infer = inferenceOnly && !training
        for i in graph.indices {
            nodes[i].output = nil
            if graph[i].role == .input {
                nodes[i].output = x
                push(x, from: i)
            } else if !nodes[i].rows.isEmpty {
                if let module = graph[i].module { try forwardModule(i, module, training: training, infer: infer) } else { forwardSum(i) }
            }
        }
        return nodes[network.outputNode].output!
    }

    /// Runs module i on its rows and pushes (or keeps) the output.
    private func forwardModule(_ i: Int, _ module: any Module, training: Bool, infer: Bool) throws {
        let input = gather(into: nodes[i].gathered, rowsOf: i, from: network.nodes[i].inputs[0])
        let scale = nodes[i].scale
        if scale == nil, try sumInPlace(i, module, input, training: training, infer: infer) { return }
        var y = infer ? try module.infer(input) : try module.forward(input, training: training)
        if nodes[i].isTransient { return push(y, from: i, scaledBy: scale) }
        if let scale { y = scaleRows(y, by: scale, into: nodes[i].value) }
        nodes[i].output = y
        push(y, from: i)
    }

    /// A transient module whose one successor is a sum with the same rows
    /// writes (or adds) its output straight into the sum; the sum's last
    /// contribution also applies the aggregation's ReLU. False when the
    /// module cannot.
    private func sumInPlace(_ i: Int, _ module: any Module, _ input: Tensor, training: Bool, infer: Bool) throws -> Bool {
        let node = network.nodes[i]
        guard nodes[i].isTransient, node.outputs.count == 1, let j = node.outputs.first, nodes[j].isSum, nodes[j].rows == nodes[i].rows else { return false }
        let last = network.nodes[j].role == .aggregation && network.nodes[j].inputs.max() == i
        let (target, accumulate) = (nodes[j].value, !nodes[j].empty)
        let done = infer ? try module.infer(input, into: target, accumulate: accumulate, relu: last)
                         : try module.forward(input, training: training, into: target, accumulate: accumulate, relu: last)
        guard done else { return false }
        nodes[j].empty = false
        nodes[j].rectified = last
        return true
    }

    /// A sum: every input has been pushed into it. Aggregations end with a ReLU.
    private func forwardSum(_ i: Int) {
        let y = nodes[i].value
        if nodes[i].empty { Elementwise.fill(y.data, 0, count: y.count, threads: context.threads) }
        nodes[i].empty = false
        if network.nodes[i].role == .aggregation && !nodes[i].rectified { Elementwise.reluInPlace(y.data, count: y.count, threads: context.threads) }
        nodes[i].output = y
        push(y, from: i)
    }

    /// Back-propagates the gradient of the loss with respect to the logits.
    /// `passed(i)` is called once backward is done with node i, from the
    /// last node to the input (every node, run or not): from then on the
    /// weight gradients of nodes i… are final (`GradientBuckets` starts their all-reduce).
    public func backward(_ logitGradient: Tensor, passed: (Int) -> Void = { _ in }) throws {
        let graph = network.nodes
        for i in graph.indices where !nodes[i].rows.isEmpty && i != network.inputNode && !nodes[i].isTransient {
            nodes[i].gradient.reshape(graph[i].shape.batch(nodes[i].rows.count))
            nodes[i].gradientEmpty = true
        }
        if nodes[network.outputNode].isSum {
            Elementwise.copy(nodes[network.outputNode].gradient.data, logitGradient.data, count: logitGradient.count, threads: context.threads)
            nodes[network.outputNode].gradientEmpty = false
        }
        for i in stride(from: graph.count - 1, through: 1, by: -1) {
            defer { passed(i) }
            guard !nodes[i].rows.isEmpty else { continue }
            let node = graph[i]
            if nodes[i].gradientEmpty { zeroGradient(of: i) }     // nothing flowed back into it
            if let module = node.module {
                let own = nodes[i].gradient
                var g = i == network.outputNode ? logitGradient : nodes[i].isTransient ? pullGradient(of: i) : own
                if let scale = nodes[i].scale { g = scaleRows(g, by: scale, into: g === pulled || g === own ? g : pulled) }
                let dx = try module.backward(g)
                if node.inputs[0] != network.inputNode { scatterAdd(dx, rowsOf: i, into: node.inputs[0]) }
            } else {
                let g = nodes[i].gradient
                if node.role == .aggregation { Elementwise.reluBackwardInPlace(g.data, output: nodes[i].output!.data, count: g.count, threads: context.threads) }
                // Transient modules among the inputs pull this gradient themselves.
                for j in node.inputs where !nodes[j].isTransient { scatterAdd(g, rowsOf: i, into: j) }
            }
        }
        passed(0)
    }

    /// Rows used by node i in the last forward pass (for reports and tests).
    public func examples(of node: Int) -> [Int32] { nodes[node].rows }

    // MARK: Row plan

    /// S_i, positions and scales of every node for this batch's architectures (see the type's comment).
    private func plan(_ architectures: [Architecture]) {
        let graph = network.nodes, n = batch, masked = mode == .mask
        for i in graph.indices {
            nodes[i].rows.removeAll(keepingCapacity: true)
            if nodes[i].position.count != n { nodes[i].position = [Int32](repeating: -1, count: n) }
            if masked && nodes[i].gate.count != n { nodes[i].gate = [Float](repeating: 0, count: n) }
            let always = i == network.inputNode || i == network.outputNode || masked
            var anyOff = false
            for e in 0..<n {
                let active = architectures[architectures.count == 1 ? 0 : e].active.contains(i)
                if masked { nodes[i].gate[e] = active ? 1 : 0 }
                anyOff = anyOff || !active
                if always || active {
                    nodes[i].position[e] = Int32(nodes[i].rows.count)
                    nodes[i].rows.append(Int32(e))
                } else {
                    nodes[i].position[e] = -1
                }
            }
            nodes[i].scaled = masked && graph[i].role == .module && anyOff
        }
    }

    /// The input of module i: its source's rows for S_i (zero where the
    /// source is not active), or the source's tensor itself when the rows agree.
    private func gather(into target: Tensor, rowsOf i: Int, from j: Int) -> Tensor {
        let mine = nodes[i].rows
        let width = network.nodes[j].shape.elements
        guard let source = nodes[j].output else {
            // No example reaches the output through the source (every sample inconsistent): zeros in.
            target.reshape(network.nodes[j].shape.batch(mine.count))
            Elementwise.fill(target.data, 0, count: target.count, threads: context.threads)
            return target
        }
        if nodes[j].rows == mine { return source }
        target.reshape(network.nodes[j].shape.batch(mine.count))
        let from = nodes[j].position, data = source.data, out = target.data
        Parallel.forEach(min(context.threads, mine.count), threads: context.threads) { part, _ in
            for r in stride(from: part, to: mine.count, by: context.threads) {
                let p = Int(from[Int(mine[r])])
                if p >= 0 { (out + r * width).update(from: data + p * width, count: width) }
                else { (out + r * width).update(repeating: 0, count: width) }
            }
        }
        return target
    }

    /// Adds node i's output `y` (rows S_i, each row e times scale[e] if given)
    /// into every sum that follows node i.
    private func push(_ y: Tensor, from i: Int, scaledBy scale: [Float]? = nil) {
        for j in network.nodes[i].outputs where nodes[j].isSum && !nodes[j].rows.isEmpty {
            if nodes[j].empty {
                nodes[j].empty = false
                if nodes[i].rows == nodes[j].rows && scale == nil {
                    Elementwise.copy(nodes[j].value.data, y.data, count: y.count, threads: context.threads)
                    continue
                }
                Elementwise.fill(nodes[j].value.data, 0, count: nodes[j].value.count, threads: context.threads)
            }
            addRows(of: y, rowsOf: i, into: nodes[j].value, rowsOf: j, scaledBy: scale)
        }
    }

    /// target (rows S_j) += source (rows S_i) on the examples both hold.
    /// (A module's input gradient has its input's shape: the row width comes from the tensor.)
    private func addRows(of source: Tensor, rowsOf i: Int, into target: Tensor, rowsOf j: Int, scaledBy scale: [Float]? = nil) {
        let width = source.count / max(nodes[i].rows.count, 1)
        precondition(width * nodes[j].rows.count == target.count, "row widths of \(network.nodes[i].name) and \(network.nodes[j].name) differ")
        if nodes[i].rows == nodes[j].rows && scale == nil {
            Elementwise.add(target.data, source.data, count: source.count, threads: context.threads)
            return
        }
        let mine = nodes[i].rows, to = nodes[j].position, data = source.data, out = target.data
        Parallel.forEach(min(context.threads, mine.count), threads: context.threads) { part, _ in
            for r in stride(from: part, to: mine.count, by: context.threads) {
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

    /// Adds node i's input gradient `dx` (rows S_i) into the gradient of node j
    /// (copies it, when it is the first and covers the same rows).
    private func scatterAdd(_ dx: Tensor, rowsOf i: Int, into j: Int) {
        guard j != network.inputNode, !nodes[j].rows.isEmpty else { return }
        if nodes[j].gradientEmpty {
            if nodes[i].rows == nodes[j].rows {
                Elementwise.copy(nodes[j].gradient.data, dx.data, count: dx.count, threads: context.threads)
                nodes[j].gradientEmpty = false
                return
            }
            zeroGradient(of: j)
        }
        addRows(of: dx, rowsOf: i, into: nodes[j].gradient, rowsOf: j)
    }

    private func zeroGradient(of i: Int) {
        Elementwise.fill(nodes[i].gradient.data, 0, count: nodes[i].gradient.count, threads: context.threads)
        nodes[i].gradientEmpty = false
    }

    /// The gradient w.r.t. transient module i's output: the sum of its
    /// successors' gradients on its rows (the successor's tensor itself when
    /// there is one with the same rows).
    private func pullGradient(of i: Int) -> Tensor {
        let successors = network.nodes[i].outputs.filter { !nodes[$0].rows.isEmpty }
        if successors.count == 1, nodes[successors[0]].rows == nodes[i].rows { return nodes[successors[0]].gradient }
        let width = network.nodes[i].shape.elements, mine = nodes[i].rows
        pulled.reshape(network.nodes[i].shape.batch(mine.count))
        Elementwise.fill(pulled.data, 0, count: pulled.count, threads: context.threads)
        for j in successors {
            let from = nodes[j].position, data = nodes[j].gradient.data, out = pulled.data
            Parallel.forEach(min(context.threads, mine.count), threads: context.threads) { part, _ in
                for r in stride(from: part, to: mine.count, by: context.threads) where from[Int(mine[r])] >= 0 {
                    addVectors(out + r * width, data + Int(from[Int(mine[r])]) * width, count: width)
                }
            }
        }
        return pulled
    }

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
