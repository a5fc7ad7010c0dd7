import Foundation
import Session
import SuperNet

/// Formats a cost for people: 1.23M, 45.6k.
func human(_ x: Double) -> String {
    let a = abs(x)
    if a >= 1e9 { return String(format: "%.2fG", x / 1e9) }
    if a >= 1e6 { return String(format: "%.2fM", x / 1e6) }
    if a >= 1e4 { return String(format: "%.1fk", x / 1e3) }
    if a == a.rounded() || a >= 1000 { return String(format: "%.0f", x) }
    if a >= 10 { return String(format: "%.1f", x) }
    return String(format: "%.3g", x)
}

/// `places` decimals for ordinary values; three significant digits once a value is too large for a table column (a diverging loss).
func decimal(_ x: Double, _ places: Int = 4) -> String {
    abs(x) < 1e5 || !x.isFinite ? String(format: "%.\(places)f", x) : String(format: "%.3g", x)
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func padLeft(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }

extension Notebook {
    func requireModel(_ command: String) throws -> (SuperNetwork, Trainer) {
        guard let n = session.network, let t = session.trainer else {
            throw UsageError("\(command): no model yet: build one first (e.g. build cnf W=4 S=4 C=16)")
        }
        return (n, t)
    }
}

struct BuildCommand: Command {
    let name = "build"
    let usage = "build cnf|cnf-seg W= S= C= | build resnet-fabric k= n= | build resnet depth= | build from <arch.json>"
    let summary = "builds a super network (or a fixed baseline) for the loaded dataset"
    let example = "build cnf W=8 S=6 C=32"
    let details = """
    cnf W= S= C=            B-CNF for classification: W columns, S scales, C channels
    cnf-seg W= S= C=        B-CNF for segmentation (per-pixel head at full resolution)
    resnet-fabric k= n=     B-ResNet Fabric: k groups of n blocks, shortcuts of the paper's Figure 1a
    resnet depth=           plain ResNet-20/32/44/56/110 (no gates)
    from <arch.json>        an exported architecture, as a fixed baseline (gates fixed, not learned)
    options: gated=no (every gate fixed on: the CNF baseline), mode=sub-batch|mask (sub-batch)
    """
    let words = ["cnf", "cnf-seg", "resnet-fabric", "resnet", "from", "W=", "S=", "C=", "k=", "n=", "depth=", "gated=", "mode="]

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let kind = try a.required("a fabric: cnf, cnf-seg, resnet-fabric, resnet or from")
        var gated = true
        if let g = a.option("gated") {
            guard ["yes", "no", "true", "false"].contains(g) else { throw UsageError("build: gated= takes yes or no") }
            gated = g == "yes" || g == "true"
        }
        var mode = ExecutionMode.subBatch
        if let m = a.option("mode") {
            guard let parsed = ExecutionMode(rawValue: m) else { throw UsageError("build: mode= takes sub-batch or mask, got '\(m)'") }
            mode = parsed
        }
        var fixedGates: [Bool]?
        let fabric: Fabric
        switch kind {
        case "cnf", "cnf-seg":
            guard let w = try a.int("W", "w"), let s = try a.int("S", "s"), let c = try a.int("C", "c") else {
                throw UsageError("build \(kind): needs W=, S= and C= (e.g. build \(kind) W=8 S=6 C=32)")
            }
            fabric = .cnf(columns: w, scales: s, channels: c, segmentation: kind == "cnf-seg", gated: gated)
        case "resnet-fabric":
            guard let k = try a.int("k"), let n = try a.int("n") else { throw UsageError("build resnet-fabric: needs k= and n= (e.g. k=3 n=3)") }
            fabric = .resnet(groups: k, blocks: n, shortcuts: true, gated: gated)
        case "resnet":
            let depth = try a.int("depth", default: 20)!
            guard let f = Fabric.resnet(depth: depth) else { throw UsageError("build resnet: depth= must be 6n+2 (20, 32, 44, 56, 110), got \(depth)") }
            fabric = f
        case "from":
            let path = try a.required("an architecture file written by export arch")
            let exported = try ExportedArchitecture.read(path)
            fabric = exported.fabric
            fixedGates = exported.gates
        default:
            throw UsageError("build: unknown fabric '\(kind)'" + didYouMean(kind, in: ["cnf", "cnf-seg", "resnet-fabric", "resnet", "from"]))
        }
        try a.finish()
        try nb.session.build(fabric, mode: mode, fixedGates: fixedGates)
        let (net, _) = try nb.requireModel("build")
        let modules = net.nodes.filter { $0.role == .module }.count
        let full = net.fullArchitecture, arch = fixedGates == nil ? full : net.deterministicArchitecture
        nb.console.print("built \(fabric.summary)\(fixedGates == nil ? "" : " (fixed architecture from file)"): \(net.nodes.count) nodes, \(modules) modules, \(net.gateCount) gates\(fixedGates == nil ? "" : " (fixed)"); "
                         + "\(human(ParameterCost(net).cost(of: arch))) parameters, \(human(FlopsCost(net).cost(of: arch))) multiply-accumulates per image")
    }
}

struct SummaryCommand: Command {
    let name = "summary"
    let usage = "summary [--json]"
    let summary = "per-node table (type, shape, params, flops, keep probability) and totals"
    let example = "summary"
    let words = ["--json"]

    struct Row: Codable { let node: String, type: String, shape: [Int], params: Int, flops: Int, keep: Float? }
    struct Output: Codable { let model: String, nodes: [Row], totals: [CostReport] }

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let json = a.flag("json")
        try a.finish()
        let (net, trainer) = try nb.requireModel("summary")
        let p = net.keepProbabilities
        let rows = net.nodes.map { n in
            Row(node: n.name, type: n.module?.kind ?? n.role.rawValue, shape: [n.shape.height, n.shape.width, n.shape.channels],
                params: n.parameterCount, flops: n.multiplyAccumulates, keep: n.gate.map { p[$0] })
        }
        let totals = [net.report(ParameterCost(net)), net.report(FlopsCost(net), sampled: trainer.lastArchitectures)]
        let model = nb.session.modelSpec!.fabric.summary
        if json { return try nb.printJSON(Output(model: model, nodes: rows, totals: totals)) }
        var lines = [model, "", pad("node", 16) + pad("type", 13) + pad("shape", 12) + padLeft("params", 10) + padLeft("MAC", 10) + padLeft("p(keep)", 9)]
        for r in rows {
            lines.append(pad(r.node, 16) + pad(r.type, 13) + pad(r.shape.map(String.init).joined(separator: "x"), 12)
                         + padLeft(human(Double(r.params)), 10) + padLeft(human(Double(r.flops)), 10)
                         + padLeft(r.keep.map { String(format: "%.3f", $0) } ?? "-", 9))
        }
        lines.append("")
        lines.append(pad("total", 10) + padLeft("full", 12) + padLeft("expected", 12) + padLeft("deterministic", 15))
        for t in totals {
            lines.append(pad(t.name, 10) + padLeft(human(t.full), 12) + padLeft(human(t.expected), 12) + padLeft(human(t.deterministic), 15))
        }
        nb.console.print(lines.joined(separator: "\n"))
    }
}

struct BudgetCommand: Command {
    let name = "budget"
    let usage = "budget flops|params|time <C> lambda=<λ> [mode=max|abs] | budget parallel <n> <C> lambda=… | budget off"
    let summary = "sets the cost and the budget the architecture search optimises"
    let example = "budget flops 2M lambda=1e-6"
    let details = """
    The reward of a sampled architecture is -(loss + λ·max(0, C - budget)) (mode=max, the default)
    or -(loss + λ·|C - budget|) (mode=abs). Pick λ so that λ·budget is of order 1.
    Costs: flops (multiply-accumulates per image), params, parallel <n> (steps of the list schedule
    on n machines), time (per-module latency, measured now on this machine, ms per image).
    Numbers take k, M, G suffixes: 2M = 2000000.
    """
    let words = ["flops", "params", "parallel", "time", "off", "lambda=", "mode="]

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let cost = try a.required("a cost: flops, params, parallel <n>, time, or off")
        if cost == "off" {
            try a.finish()
            nb.session.clearBudget()
            nb.console.print("no budget: the search optimises the loss alone")
            return
        }
        guard ["flops", "params", "parallel", "time"].contains(cost) else {
            throw UsageError("budget: unknown cost '\(cost)'" + didYouMean(cost, in: ["flops", "params", "parallel", "time"]) + " (flops, params, parallel <n>, time)")
        }
        var machines: Int?
        if cost == "parallel" {
            let w = try a.required("the number of machines (budget parallel 4 30 lambda=0.01)")
            guard let n = parseWhole(w), (1...ParallelCost.maxMachines).contains(n) else { throw UsageError("budget parallel: the number of machines must be a whole number in 1…\(ParallelCost.maxMachines), got '\(w)'") }
            machines = n
        }
        let limitWord = try a.required("the budget C (e.g. 2M)")
        guard let limit = parseNumber(limitWord), limit >= 0, limit.isFinite else { throw UsageError("budget: the budget must be a number ≥ 0, got '\(limitWord)'") }
        guard let lambda = try a.double("lambda", "λ") else { throw UsageError("budget: needs lambda=<λ> (e.g. lambda=1e-6)") }
        guard lambda >= 0 else { throw UsageError("budget: lambda= must be ≥ 0") }
        var mode = Budget.Mode.max
        if let m = a.option("mode") {
            guard let parsed = Budget.Mode(rawValue: m) else { throw UsageError("budget: mode= takes max or abs, got '\(m)'") }
            mode = parsed
        }
        try a.finish()
        _ = try nb.requireModel("budget")
        if cost == "time" { nb.console.progress("measuring each module's latency…") }
        try nb.session.setBudget(cost: cost, machines: machines, budget: Budget(limit: limit, lambda: lambda, mode: mode))
        let (net, _) = try nb.requireModel("budget")
        let r = net.report(nb.session.optimisedCost!)
        nb.console.print("budget: \(nb.session.budgetSpec!.costName) ≤ \(human(limit)) \(r.unit), λ = \(lambda), mode \(mode.rawValue); "
                         + "now full \(human(r.full)), expected \(human(r.expected)), deterministic \(human(r.deterministic))")
    }
}

struct CostsCommand: Command {
    let name = "costs"
    let usage = "costs [--parallel=1,2,4] [--json]"
    let summary = "every cost of the current state: full network, expected under Γ, deterministic architecture"
    let example = "costs --parallel=2,8"
    let words = ["--json", "--parallel="]

    struct Output: Codable { let costs: [CostReport]; let optimised: String; let budget: Double? }

    func run(_ a: inout Arguments, _ nb: Notebook) throws {
        let json = a.flag("json")
        let list = a.option("--parallel", "parallel") ?? "1,2,4"
        try a.finish()
        let machines = try list.split(separator: ",").map { w -> Int in
            guard let n = parseWhole(String(w)), (1...ParallelCost.maxMachines).contains(n) else { throw UsageError("costs: --parallel= takes machine counts in 1…\(ParallelCost.maxMachines) like 1,2,4, got '\(list)'") }
            return n
        }
        let (net, trainer) = try nb.requireModel("costs")
        var costs: [any Cost] = [FlopsCost(net), ParameterCost(net)] + machines.map { ParallelCost(net, machines: $0) }
        if let t = nb.session.optimisedCost as? TimeCost { costs.append(t) }
        let reports = costs.map { net.report($0, sampled: trainer.lastArchitectures) }
        let optimised = nb.session.optimisedCost?.name ?? "flops"
        if json { return try nb.printJSON(Output(costs: reports, optimised: optimised, budget: nb.session.budgetSpec?.budget.limit)) }
        var lines = [pad("cost", 12) + padLeft("unit", 8) + padLeft("full", 12) + padLeft("expected", 12) + padLeft("deterministic", 15) + padLeft("last batch", 12)]
        for r in reports {
            lines.append(pad(r.name + (r.name == optimised ? " *" : ""), 12) + padLeft(r.unit, 8) + padLeft(human(r.full), 12)
                         + padLeft(human(r.expected), 12) + padLeft(human(r.deterministic), 15) + padLeft(r.sampledMean.map(human) ?? "-", 12))
        }
        if let b = nb.session.budgetSpec { lines.append("* optimised; budget \(human(b.budget.limit)) (λ = \(b.budget.lambda), mode \(b.budget.mode.rawValue))") }
        nb.console.print(lines.joined(separator: "\n"))
    }
}
