import Foundation
import Session
import SuperNet
import Tensor

struct SampleCommand: Command {
    let name = "sample"
    let usage = "sample [n] [--json]"
    let summary = "draws n architectures from the gate distribution and prints their costs"
    let example = "sample 5"
    let words = ["--json"]

    struct Row: Codable { let index: Int, modules: Int, consistent: Bool, costs: [String: Double] }

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let countWord = a.next() ?? "5"
        guard let n = parseWhole(countWord), (1...10_000).contains(n) else { throw UsageError("sample: expected a number of architectures in 1…10000, got '\(countWord)'") }
        let json = a.flag("json")
        try a.finish()
        let (net, _) = try nb.requireModel("sample")
        // A generator of its own, drawn from the session's: sampling here does not disturb training.
        var rng = RNG(seed: nb.session.rng.next())
        let costs: [any Cost] = [FlopsCost(net), ParameterCost(net), ParallelCost(net, machines: 2)]
        let p = net.keepProbabilities
        let moduleCount = net.nodes.filter { $0.role == .module }.count
        let rows = (0..<n).map { i -> Row in
            let arch = net.sampleArchitecture(p, rng: &rng)
            let modules = net.nodes.indices.filter { net.nodes[$0].role == .module && arch.active.contains($0) }.count
            return Row(index: i + 1, modules: modules, consistent: arch.isConsistent,
                       costs: Dictionary(uniqueKeysWithValues: costs.map { ($0.name, $0.cost(of: arch)) }))
        }
        if json { return try nb.printJSON(rows) }
        var lines = [padLeft("#", 4) + padLeft("modules", 10) + padLeft("flops", 12) + padLeft("params", 12) + padLeft("parallel-2", 12)]
        for r in rows {
            lines.append(padLeft(String(r.index), 4) + padLeft(r.consistent ? "\(r.modules)/\(moduleCount)" : "no path", 10)
                         + padLeft(human(r.costs["flops"]!), 12) + padLeft(human(r.costs["params"]!), 12) + padLeft(human(r.costs["parallel-2"]!), 12))
        }
        nb.console.print(lines.joined(separator: "\n"))
    }
}

struct InspectCommand: Command {
    let name = "inspect"
    let usage = "inspect [--all] [--json]"
    let summary = "the gate distribution: per-gate probability and entropy, expected vs deterministic cost vs budget"
    let example = "inspect"
    let words = ["--all", "--json"]

    struct Gate: Codable { let node: String, probability: Float, entropy: Double }
    struct Output: Codable {
        let gates: [Gate], meanEntropy: Double, cost: CostReport, budget: Double?
        let keptModules: Int, uncertain: Int
    }

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let all = a.flag("all"), json = a.flag("json")
        try a.finish()
        let (net, trainer) = try nb.requireModel("inspect")
        let p = net.keepProbabilities
        let gates = net.gatedNodes.enumerated().map { k, node in
            Gate(node: net.nodes[node].name, probability: p[k], entropy: gateEntropy(p[k]))
        }.sorted { $0.entropy != $1.entropy ? $0.entropy > $1.entropy : $0.node < $1.node }
        let cost = net.report(nb.session.optimisedCost ?? FlopsCost(net), sampled: trainer.lastArchitectures)
        let out = Output(gates: gates, meanEntropy: meanGateEntropy(p), cost: cost, budget: nb.session.budgetSpec?.budget.limit,
                         keptModules: p.filter { $0 > 0.5 }.count, uncertain: p.filter { $0 > 0.1 && $0 < 0.9 }.count)
        if json { return try nb.printJSON(out) }
        guard !gates.isEmpty else { return nb.console.print("\(nb.session.modelSpec!.fabric.summary) has no gates: nothing to inspect") }
        var lines = [String(format: "%d gates: %d kept (p > 0.5), %d undecided (0.1 < p < 0.9); mean entropy %.3f nats%@",
                            gates.count, out.keptModules, out.uncertain, out.meanEntropy, trainer.samplingStarted ? "" : " (warm-up: sampling has not started)")]
        lines.append("\(cost.name): full \(human(cost.full)), expected \(human(cost.expected)), deterministic \(human(cost.deterministic))"
                     + (out.budget.map { ", budget \(human($0))" } ?? "") + " \(cost.unit)")
        lines.append("")
        lines.append(pad("gate (most uncertain first)", 30) + padLeft("p(keep)", 9) + padLeft("entropy", 9) + "  ")
        let shown = all ? gates : Array(gates.prefix(15))
        for g in shown {
            let bar = String(repeating: "█", count: g.probability.isFinite ? Int((max(0, min(1, g.probability)) * 10).rounded()) : 0)
            lines.append(pad(g.node, 30) + padLeft(String(format: "%.3f", g.probability), 9) + padLeft(String(format: "%.3f", g.entropy), 9) + "  " + bar)
        }
        if shown.count < gates.count { lines.append("… \(gates.count - shown.count) more (inspect --all)") }
        nb.console.print(lines.joined(separator: "\n"))
    }
}

extension Notebook {
    /// The session's deterministic architecture, as `arch` shows and `export arch` writes it.
    func exportedArchitecture(_ net: SuperNetwork) -> ExportedArchitecture {
        ExportedArchitecture(network: net, fabric: session.modelSpec!.fabric, dataset: session.dataset?.name)
    }
}

struct ArchCommand: Command {
    let name = "arch"
    let usage = "arch"
    let summary = "the deterministic architecture (gates with p > 0.5), pruned to its input → output paths"
    let example = "arch"

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        try a.finish()
        let (net, _) = try nb.requireModel("arch")
        let exported = nb.exportedArchitecture(net)
        guard !exported.nodes.isEmpty else { return nb.console.print("the deterministic architecture has no input → output path (every path has a gate with p ≤ 0.5)") }
        let modules = exported.nodes.filter { !["input", "aggregation", "identity", "output"].contains($0.type) }.count
        var lines = ["\(nb.session.modelSpec!.fabric.summary), deterministic architecture: \(modules) of \(net.nodes.filter { $0.role == .module }.count) modules; "
                     + exported.costs.sorted { $0.key < $1.key }.map { "\($0.key) \(human($0.value))" }.joined(separator: ", "), ""]
        var inputs = [String: [String]]()
        for e in exported.edges { inputs[e[1], default: []].append(e[0]) }
        for n in exported.nodes {
            lines.append(pad(n.name, 16) + pad(n.type, 12) + pad(n.shape.map(String.init).joined(separator: "x"), 10)
                         + (inputs[n.name].map { "← " + $0.joined(separator: ", ") } ?? ""))
        }
        nb.console.print(lines.joined(separator: "\n"))
    }
}

struct ExportCommand: Command {
    let name = "export"
    let usage = "export arch <file.json> | export script <file.bsn>"
    let summary = "writes the deterministic architecture (loadable with build from), or the session's commands as a script"
    let example = "export arch found.json"
    let words = ["arch", "script"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let what = try a.required("arch or script")
        let path = try a.required("a file name")
        try a.finish()
        switch what {
        case "arch":
            let (net, _) = try nb.requireModel("export arch")
            let exported = nb.exportedArchitecture(net)
            guard !exported.nodes.isEmpty else {
                throw UsageError("export arch: the deterministic architecture has no input → output path (every path has a gate with p ≤ 0.5); nothing written")
            }
            try exported.write(to: path)
            nb.console.print("wrote \(path): \(exported.nodes.count) nodes, \(exported.edges.count) edges; build from \(path) trains it as a fixed baseline")
        case "script":
            // Commands that changed state, in order; failed cells and read-only commands are left out.
            let readOnly: Set<String> = ["help", "history", "data", "summary", "costs", "inspect", "sample", "arch", "sessions", "export", "quit", "exit", "open", "save"]
            var lines = ["# bsn script exported from session '\(nb.session.name)'", "# run with: bsn run \((path as NSString).lastPathComponent)"]
            for c in nb.session.cells where !c.failed {
                let first = c.command.split(separator: " ").first.map(String.init) ?? ""
                if !readOnly.contains(first) { lines.append(c.command) }
            }
            do { try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw UsageError("export script: cannot write \(path) (\(error.localizedDescription))")
            }
            nb.console.print("wrote \(path): \(lines.count - 2) commands")
        default:
            throw UsageError("export: expected arch or script, got '\(what)'")
        }
    }
}
