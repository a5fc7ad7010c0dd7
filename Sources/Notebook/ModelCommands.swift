import Foundation
import Interface
import Session
import SuperNet

struct BuildCommand: Command {
    let name = "build"
    let group = CommandGroup.model
    let effect: CommandEffect = .changesState
    let usage = "build cnf|cnf-seg W= S= C= | build resnet-fabric k= n= | build resnet depth= | build space <file.yaml> [key=value …] | build from <arch.json>"
    let summary = "builds a super network (or a fixed baseline) for the loaded dataset"
    let example = "build cnf W=8 S=6 C=32"
    let details = """
    cnf W= S= C=            B-CNF for classification: W columns, S scales, C channels
    cnf-seg W= S= C=        B-CNF for segmentation (per-pixel head at full resolution)
    resnet-fabric k= n=     B-ResNet Fabric: k groups of n blocks, shortcuts of the paper's Figure 1a
    resnet depth=           plain ResNet-20/32/44/56/110 (no gates)
    space <file.yaml> k=v   a search space written in a file (docs/user-guide.md, "Your own search space");
                            key=value pairs set the file's params (build space samples/spaces/cnf.yaml W=8 S=6 C=32)
    from <arch.json>        an exported architecture, as a fixed baseline (gates fixed, not learned)
    options: gated=no (every gate fixed on: the CNF baseline), mode=sub-batch|mask (sub-batch)
    """
    let words = ["cnf", "cnf-seg", "resnet-fabric", "resnet", "space", "from", "W=", "S=", "C=", "k=", "n=", "depth=", "gated=", "mode="]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let kind = try a.required("a fabric: cnf, cnf-seg, resnet-fabric, resnet, space or from")
        let gated = try a.yesNo("gated") ?? true
        let mode: ExecutionMode = try a.choice("mode") ?? .subBatch
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
            guard let f = Fabric.resnet(depth: depth) else { throw UsageError("build resnet: depth= must be \(Fabric.resnetDepths), got \(depth)") }
            fabric = f
        case "space":
            let path = try a.required("a search-space file (e.g. build space samples/spaces/cnf.yaml W=4 S=4 C=16)")
            var given = [String: Int]()
            for (key, word) in a.remainingOptions() {
                let value: Int? = switch word.lowercased() {
                case "yes", "true", "on": 1
                case "no", "false", "off": 0
                default: Int(word)
                }
                guard let value else { throw UsageError("build space: \(key)=\(word) is not a whole number (nor yes/no)") }
                given[key] = value
            }
            var source = try SpaceSource.read(path, given: given)
            source.gated = gated
            fabric = .space(source)
        case "from":
            let path = try a.required("an architecture file written by export arch")
            try a.finish()
            return try nb.session.build(from: path, mode: mode)
        default:
            throw UsageError("build: unknown fabric '\(kind)'" + didYouMean(kind, in: ["cnf", "cnf-seg", "resnet-fabric", "resnet", "space", "from"]))
        }
        try a.finish()
        return try nb.session.build(fabric, mode: mode)
    }
}

struct SummaryCommand: Command {
    let name = "summary"
    let group = CommandGroup.model
    let effect: CommandEffect = .reads
    let usage = "summary [--json]"
    let summary = "per-node table (type, shape, params, flops, keep probability) and totals"
    let example = "summary"
    let words = ["--json"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        try a.finish()
        return try nb.session.modelSummary()
    }
}

struct BudgetCommand: Command {
    let name = "budget"
    let group = CommandGroup.budget
    let effect: CommandEffect = .changesState
    var usage: String { "budget <cost> <C> lambda=<λ> [mode=max|abs|expected] | budget off   (cost: \(CostChoices.catalogue.usage))" }
    let summary = "sets the cost and the budget the architecture search optimises"
    let example = "budget flops 2M lambda=1e-6"
    var details: String {
        """
        The reward of a sampled architecture is -(loss + λ·max(0, C - budget)) (mode=max, the default)
        or -(loss + λ·|C - budget|) (mode=abs); mode=expected bounds the expected cost instead:
        λ·max(0, E[C] - budget), each sample weighed by λ·C while the batch's mean cost is over the budget.
        Pick λ so that λ·budget is of order 1.
        Numbers take k, M, G suffixes: 2M = 2000000; a time budget is in milliseconds (30ms, 0.03s, 500us).
        A budget below the smallest non-empty architecture or above the full network is taken, with a warning. Costs:

        """ + CostChoices.catalogue.help(width: 50)
    }
    var words: [String] { CostChoices.catalogue.words + ["off", "lambda=", "mode="] + CostChoices.catalogue.completions }

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let word = try a.required("a cost (\(CostChoices.catalogue.words.joined(separator: ", "))) or off")
        if word == "off" {
            try a.finish()
            return nb.session.removeBudget()
        }
        let cost = try CostChoices.parse(word, &a)
        let limitWord = try a.required("the budget C (e.g. 2M)")
        let timed = cost.unit == .milliseconds
        guard let limit = budgetLimit(limitWord, timed: timed) else {
            throw UsageError("budget: the budget must be a number ≥ 0\(timed ? " (milliseconds, or 30ms, 0.03s, 500us)" : ""), got '\(limitWord)'")
        }
        guard let lambda = try a.double("lambda", "λ") else { throw UsageError("budget: needs lambda=<λ> (e.g. lambda=1e-6)") }
        guard lambda >= 0 else { throw UsageError("budget: lambda= must be ≥ 0") }
        let mode: Budget.Mode = try a.choice("mode") ?? .max
        try a.finish()
        if timed { nb.console.progress("measuring each module's latency…") }
        var report = try nb.session.budget(cost, Budget(limit: limit, lambda: lambda, mode: mode))
        if timed, let w = timeSuffixWarning(limitWord) { report.warnings.insert(w, at: 0) }
        return report
    }
}

struct CostsCommand: Command {
    let name = "costs"
    let group = CommandGroup.budget
    let effect: CommandEffect = .reads
    let usage = "costs [--parallel=1,2,4] [allocation=reference|critical-path] [--json]"
    let summary = "every cost of the current state: full network, expected under Γ, deterministic architecture"
    let example = "costs --parallel=2,8 allocation=critical-path"
    let words = ["--json", "--parallel=", "allocation="]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let machines = try a.wholeList("parallel", range: 1...ParallelCost.maxMachines) ?? [1, 2, 4]
        let allocation: ParallelCost.Allocation = try a.choice("allocation") ?? .reference
        try a.finish()
        return try nb.session.costs(machines: machines, allocation: allocation)
    }
}

/// A budget C as a number ≥ 0: milliseconds (30ms, 0.03s, 500us, or a plain number) for the time cost, else k/M/G numbers.
func budgetLimit(_ word: String, timed: Bool) -> Double? {
    guard let x = timed ? parseMilliseconds(word) : parseNumber(word), x.isFinite, x >= 0 else { return nil }
    return x
}
