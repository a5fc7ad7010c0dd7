import Foundation
import Interface
import SuperNet
import Tensor

/// What `build` reports: the network's size and the cost of the architecture it starts from.
public struct BuildReport: Output, Sendable {
    public let model: String, fixedArchitecture: Bool
    public let nodes: Int, modules: Int, gates: Int
    public let parameters: Double, multiplyAccumulates: Double
    /// What the build replaced when a trained network was there before, and where that one is still kept.
    public var replaced: String? = nil

    public var text: String {
        "built \(model)\(fixedArchitecture ? " (fixed architecture from file)" : ""): \(nodes) nodes, \(modules) modules, \(gates) gates\(fixedArchitecture ? " (fixed)" : ""); "
            + "\(Format.quantity(parameters)) parameters, \(Format.quantity(multiplyAccumulates)) multiply-accumulates per image"
            + (replaced.map { "\nnote: " + $0 } ?? "")
    }
}

/// The memory check's estimate for training a model beside the peak this
/// process measured while it built and trained it.
public struct MemoryReport: Codable, Sendable {
    public let batch: Int, threads: Int
    /// Bytes: the estimate (weights, activations, workspace, input batches), the peak measured above `before`, what the process held before the model.
    public let estimated: Double, measured: Double, before: Double
    /// Whether this process trained the model (the peak includes a training step).
    public let trained: Bool

    /// measured / estimated − 1, once trained.
    public var error: Double? { trained && estimated > 0 ? measured / estimated - 1 : nil }

    public var text: String {
        "memory to train at batch \(batch) on \(threads) threads: estimated \(Memory.format(estimated)); "
            + (error.map { "measured \(Memory.format(measured)) at peak (" + String(format: "%+.0f%%", 100 * $0) + "), above the \(Memory.format(before)) in use before the network" }
               ?? "measured once it trains (train 1 steps)")
    }
}

/// What `summary` shows: one row per node, and the totals of the parameter and flops costs.
public struct ModelSummary: TabularOutput, Sendable {
    public struct Row: Codable, Sendable { public let node: String, type: String, shape: [Int], params: Int, flops: Int, keep: Float? }
    public let model: String, nodes: [Row], totals: [CostReport]
    /// The deterministic architecture's modules (after pruning), of all.
    public let modules: Int, moduleCount: Int
    /// The memory check's estimate and the measured peak.
    public var memory: MemoryReport? = nil

    public var text: String { Block.text(blocks) }

    public var blocks: [Block] {
        var table = Table([.left("node", 16), .left("type", 13), .left("shape", 12), .right("params", 10), .right("MAC", 10), .right("p(keep)", 9)])
        for r in nodes {
            table.add([r.node, r.type, r.shape.map(String.init).joined(separator: "x"), Format.quantity(Double(r.params)),
                       Format.quantity(Double(r.flops)), r.keep.map { Format.fixed(Double($0), 3) } ?? "-"])
        }
        var costs = Table([.left("total", 10), .right("full", 12), .right("expected", 12), .right("deterministic", 15)])
        for t in totals { costs.add([t.name, Format.quantity(t.full), Format.quantity(t.expected), Format.quantity(t.deterministic)]) }
        return [.text(model), .table(table), .table(costs), .text("deterministic architecture: \(modules) of \(moduleCount) modules")]
            + (memory.map { [.text($0.text)] } ?? [])
    }
}

extension Session {
    /// Builds the architecture exported to `path` (by `export arch`) as a fixed baseline: its gates, not learned.
    @discardableResult
    public func build(from path: String, mode: ExecutionMode = .subBatch) throws -> BuildReport {
        let exported = try ExportedArchitecture.read(path)
        // The file's nodes and edges must be the fabric's with its gates: checked on the network built, before the session changes.
        return try build(exported.fabric, mode: mode, fixedGates: exported.gates) { net in
            try exported.checkAgrees(with: ExportedArchitecture(network: net, gates: exported.gates, fabric: exported.fabric, dataset: nil), file: path)
        }
    }

    func buildReport() -> BuildReport {
        let net = network!, fixed = modelSpec?.fixedGates != nil
        let arch = fixed ? net.deterministicArchitecture : net.fullArchitecture
        return BuildReport(model: modelSpec!.fabric.summary, fixedArchitecture: fixed, nodes: net.nodes.count,
                           modules: net.moduleCount, gates: net.gateCount,
                           parameters: ParameterCost(net).cost(of: arch), multiplyAccumulates: FlopsCost(net).cost(of: arch))
    }

    /// Every node with its type, shape, size and keep probability, and the totals.
    public func modelSummary() throws -> ModelSummary {
        let (net, trainer) = try requireModel()
        let p = net.keepProbabilities
        let rows = net.nodes.map { n in
            ModelSummary.Row(node: n.name, type: n.module?.kind.rawValue ?? n.role.rawValue, shape: [n.shape.height, n.shape.width, n.shape.channels],
                             params: n.parameterCount, flops: n.multiplyAccumulates, keep: n.gate.map { p[$0] })
        }
        return ModelSummary(model: modelSpec!.fabric.summary, nodes: rows,
                            totals: [net.report(ParameterCost(net)), net.report(FlopsCost(net), sampled: trainer.lastArchitectures)],
                            modules: net.moduleCount(of: net.deterministicArchitecture), moduleCount: net.moduleCount, memory: memoryReport())
    }
}
