import Files
import Foundation
import Interface
import SuperNet
import Tensor

/// What `sample` shows: architectures drawn from the gate distribution and their costs.
public struct SampleReport: TabularOutput, Sendable {
    public struct Row: Codable, Sendable {
        public let index: Int, modules: Int, consistent: Bool
        /// In the order of `costNames`.
        public let costs: [Double]
    }
    public let costNames: [String], moduleCount: Int, architectures: [Row]

    public var text: String { Block.text(blocks) }

    public var blocks: [Block] {
        var table = Table([.right("#", 4), .right("modules", 10)] + costNames.map { .right($0, 12) })
        for r in architectures {
            table.add([String(r.index), r.consistent ? "\(r.modules)/\(moduleCount)" : "no path"] + r.costs.map { Format.quantity($0) })
        }
        return [.table(table)]
    }
}

/// What `inspect` shows: the gate distribution, most uncertain gates first, and the optimised cost.
public struct GateReport: TabularOutput, Sendable {
    public struct Gate: Codable, Sendable { public let node: String, probability: Float, entropy: Double }
    public let model: String, gates: [Gate], meanEntropy: Double, cost: CostReport, budget: Double?
    /// Gates with p > 0.5, gates with 0.1 < p < 0.9.
    public let keptGates: Int, uncertain: Int, samplingStarted: Bool
    /// The deterministic architecture's modules (after pruning), of all; whether the gates are fixed (`build from`).
    public let modules: Int, moduleCount: Int, fixed: Bool
    /// Gates the text lists (all of them with `inspect --all`).
    public let shown: Int
    /// Said when a budgeted search's gates have barely moved (`Session.searchHint`).
    public var hint: String? = nil

    public var text: String { Block.text(blocks) }

    public var blocks: [Block] {
        guard !gates.isEmpty else { return [.text("\(model) has no gates: nothing to inspect")] }
        var lines = [fixed ? "\(gates.count) gates, fixed (built from an architecture file): \(keptGates) on; the architecture uses \(modules) of \(moduleCount) modules"
                     : String(format: "%d gates: %d with p > 0.5, %d undecided (0.1 < p < 0.9); mean entropy %.3f nats%@",
                              gates.count, keptGates, uncertain, meanEntropy, samplingStarted ? "" : " (warm-up: sampling has not started)")
                       + "; deterministic architecture: \(modules) of \(moduleCount) modules"]
        lines.append("\(cost.name): full \(Format.quantity(cost.full)), expected \(Format.quantity(cost.expected)), deterministic \(Format.quantity(cost.deterministic))"
                     + (budget.map { ", budget \(Format.quantity($0))" } ?? "") + " \(cost.unit)")
        if let hint { lines.append(hint) }
        var table = Table([.left("gate (most uncertain first)", 30), .right("p(keep)", 9), .right("entropy", 9), .left("", 2)])
        for g in gates.prefix(shown) {
            let bar = String(repeating: "█", count: g.probability.isFinite ? Int((max(0, min(1, g.probability)) * 10).rounded()) : 0)
            table.add([g.node, Format.fixed(Double(g.probability), 3), Format.fixed(g.entropy, 3), "  " + bar])
        }
        if shown < gates.count { table.note("… \(gates.count - shown) more (inspect --all)") }
        return [.text(lines.joined(separator: "\n")), .table(table)]
    }
}

/// What `arch` shows: the deterministic architecture, pruned to its input → output paths.
public struct ArchitectureReport: Output, Sendable {
    public let model: String, modules: Int, moduleCount: Int, architecture: ExportedArchitecture

    public var text: String {
        let exported = architecture
        guard !exported.nodes.isEmpty else { return "the deterministic architecture has no input → output path (every path has a gate with p ≤ 0.5)" }
        let lines = ["\(model), deterministic architecture: \(modules) of \(moduleCount) modules; "
                     + exported.costs.sorted { $0.key < $1.key }.map { "\($0.key) \(Format.quantity($0.value))" }.joined(separator: ", "), ""]
        var inputs = [String: [String]]()
        for e in exported.edges { inputs[e[1], default: []].append(e[0]) }
        var table = Table([.left("", 16), .left("", 12), .left("", 10), .left("", 0)])
        for n in exported.nodes {
            table.add([n.name, n.type, n.shape.map(String.init).joined(separator: "x"), inputs[n.name].map { "← " + $0.joined(separator: ", ") } ?? ""])
        }
        return (lines + table.lines.dropFirst()).joined(separator: "\n")
    }
}

extension Session {
    /// Draws `count` architectures from the gate distribution, with a
    /// generator of their own drawn from the session's (training's stream is untouched).
    public func sample(_ count: Int = 5) throws -> SampleReport {
        let (net, _) = try requireModel()
        guard (1...10_000).contains(count) else { throw SessionError("expected a number of architectures in 1…10000, got \(count)") }
        var rng = RNG(seed: self.rng.next())
        let costs = CostChoices.listed(for: net, CostListing(machines: [2]))
        let p = net.keepProbabilities
        let rows = (0..<count).map { i -> SampleReport.Row in
            let arch = net.sampleArchitecture(p, rng: &rng)
            return SampleReport.Row(index: i + 1, modules: net.moduleCount(of: arch), consistent: arch.isConsistent, costs: costs.map { $0.cost(of: arch) })
        }
        return SampleReport(costNames: costs.map(\.name), moduleCount: net.moduleCount, architectures: rows)
    }

    /// The gate distribution; `all` lists every gate in the text (otherwise the 15 most uncertain).
    public func inspect(all: Bool = false) throws -> GateReport {
        let (net, trainer) = try requireModel()
        let p = net.keepProbabilities
        let gates = net.gatedNodes.enumerated().map { k, node in
            GateReport.Gate(node: net.nodes[node].name, probability: p[k], entropy: gateEntropy(p[k]))
        }.sorted { $0.entropy != $1.entropy ? $0.entropy > $1.entropy : $0.node < $1.node }
        return GateReport(model: modelSpec!.fabric.summary, gates: gates, meanEntropy: meanGateEntropy(p),
                          cost: net.report(reportedCost!, sampled: trainer.lastArchitectures), budget: budgetSpec?.budget.limit,
                          keptGates: p.filter { $0 > 0.5 }.count, uncertain: p.filter { $0 > 0.1 && $0 < 0.9 }.count,
                          samplingStarted: trainer.samplingStarted, modules: net.moduleCount(of: net.deterministicArchitecture),
                          moduleCount: net.moduleCount, fixed: modelSpec?.fixedGates != nil, shown: all ? gates.count : min(15, gates.count), hint: searchHint)
    }

    /// The deterministic architecture (gates with p > 0.5), as `export arch` writes it.
    public func architecture() throws -> ArchitectureReport {
        let (net, _) = try requireModel()
        return ArchitectureReport(model: modelSpec!.fabric.summary, modules: net.moduleCount(of: net.deterministicArchitecture), moduleCount: net.moduleCount,
                                  architecture: ExportedArchitecture(network: net, fabric: modelSpec!.fabric, dataset: dataset?.name))
    }

    /// Writes the deterministic architecture to `path` (`build from` reads it back). An empty one is refused.
    @discardableResult
    public func exportArchitecture(to path: String) throws -> Message {
        let exported = try architecture().architecture
        guard !exported.nodes.isEmpty else {
            throw SessionError("the deterministic architecture has no input → output path (every path has a gate with p ≤ 0.5); nothing written")
        }
        let written = try exported.write(to: path)
        return Message("wrote \(path): \(exported.nodes.count) nodes, \(exported.edges.count) edges; build from \(path) trains it as a fixed baseline"
                       + (written.note.map { "\n" + $0 } ?? ""))
    }

    /// Writes the commands of the cells that changed state, in order, as a script `bsn run` replays.
    @discardableResult
    public func exportScript(to path: String, readOnlyCommands: Set<String>) throws -> Message {
        var lines = ["# bsn script exported from session '\(name)'", "# run with: bsn run \((path as NSString).lastPathComponent)"]
        for c in cells where !c.failed {
            let first = c.command.split(separator: " ").first.map(String.init) ?? ""
            if !readOnlyCommands.contains(first) { lines.append(c.command) }
        }
        let written: AtomicFile.Written
        do { written = try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: path) } catch { throw SessionError("\(error)") }
        return Message("wrote \(path): \(lines.count - 2) commands" + (written.note.map { "\n" + $0 } ?? ""))
    }
}
