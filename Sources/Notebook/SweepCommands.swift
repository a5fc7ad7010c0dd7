import Datasets
import Foundation
import Interface
import Session
import SuperNet

struct SweepCommand: Command {
    let name = "sweep"
    let group = CommandGroup.selection
    let effect: CommandEffect = .changesState
    var usage: String { "sweep budget <cost> <C,C,…|a..b:n> lambda=<λ,λ,…|a..b:n> [seeds=N|a..b|s,s,…] [epochs=N] [halving=η [rungs=R]] [--workers=K] [--plan] | sweep baselines cnf W=1,2,4 | resnet depth=20,32 | space [key=1,2,4 …]" }
    let summary = "a grid of budgeted searches (or fixed baselines) from this session, each a session of its own"
    let example = "sweep budget flops 2M,4M,8M lambda=1e-7,1e-6 epochs=8"
    var details: String {
        """
        budget <cost> <C list> lambda=<λ list> [mode=abs|max|expected]
                       one search per budget C and λ, from this session's weights (gates reset to
                       p ≈ 0.95 if they had moved), each trained epochs= more epochs. mode=abs (the
                       default here) pulls each child to its own budget, so the children spread along
                       the front; mode=max (budget's default, the paper's) lets every child below its
                       budget fall to the same cheap architecture
        baselines cnf W=<list> [S=] [C=]  |  baselines resnet depth=<list>  |  baselines space [key=<list> …]
                       fixed networks (no gates) trained from scratch for as many steps in all; space: this
                       session's space file with every edge fixed on, for each combination of the values
        A list of budgets or λ may hold log-spaced ranges a..b:n: n values from a to b, both included
        (lambda=1e-8..1e-6:5 is 1e-8, 3.16e-8, 1e-7, 3.16e-7, 1e-6).
        seeds=N (1…N), seeds=a..b or seeds=1,5,9   one child per seed too (set seed); without it the children share this session's
        epochs=N (10)  epochs each child trains;  --workers=K (one per core) processes, threads split
        tensorboard=<folder>  TensorBoard logs, one run folder per child (<folder>/<child>); as set tensorboard
        halving=η [rungs=R]  successive halving: the children train in rungs (epochs/η^(R-1), …, epochs/η,
                       epochs); after each, the fronts of validation accuracy against cost (non-dominated
                       sorting) go on, whole fronts until at least 1/η of the children; the others stop, saved
                       (pareto --all lists them). R: as many rungs as leave the first at least one epoch
        --plan         trains nothing: records the children in this session for a job array, and prints the
                       sbatch --array line and the task script (bsn sweep-child <session> <index>); --workers=K
                       is the array's limit of tasks at once (%K)
        With a warm-up set (warmup 2 epochs) and not done yet, this session warms up first, once:
        every child starts from that checkpoint. Children are named <session>.<cost>-<C>.lambda-<λ>.<mode>[.seed-<s>]
        (open one like any session). Ctrl-C or a killed process: the same command continues the sweep,
        keeping finished children. Cost: \(CostChoices.catalogue.usage)
        """
    }
    var words: [String] {
        ["budget", "baselines", "cnf", "resnet", "space", "lambda=", "mode=", "seeds=", "epochs=", "--workers=", "tensorboard=", "--plan", "halving=", "rungs=", "W=", "S=", "C=", "depth="]
            + CostChoices.catalogue.words + CostChoices.catalogue.completions
    }

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let what = try a.required("budget or baselines")
        let grid: SweepGrid
        switch what {
        case "budget":
            let word = try a.required("a cost (\(CostChoices.catalogue.words.joined(separator: ", ")))")
            let cost = try CostChoices.parse(word, &a)
            let limitsWord = try a.required("the budgets C, separated by commas (e.g. 2M,4M,8M)")
            let timed = cost.unit == .milliseconds
            let words = limitsWord.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let limits: [Double]
            do { limits = try parseGridAxis(limitsWord) { budgetLimit($0, timed: timed) } } catch {
                throw UsageError("sweep budget: the budgets must be numbers ≥ 0 separated by commas, or a range a..b:n (e.g. 2M,4M,8M or 1M..16M:5): \(error)")
            }
            guard let lambdas = try a.numberList("lambda", "λ") else { throw UsageError("sweep budget: needs lambda=<λ,…> (e.g. lambda=1e-7,1e-6)") }
            // abs by default: under max every child below its budget pays nothing, and children collapse onto one architecture (docs/benchmarks.md).
            let mode: Budget.Mode = try a.choice("mode") ?? .abs
            grid = .budgets(cost: cost, limits: limits, lambdas: lambdas, mode: mode)
            if timed { for w in words.compactMap(timeSuffixWarning) { nb.live("warning: " + w) } }
        case "baselines":
            grid = .baselines(try baselines(&a, nb))
        default:
            throw UsageError("sweep: expected budget or baselines, got '\(what)'" + didYouMean(what, in: ["budget", "baselines"]))
        }
        let seeds = try a.seedList("seeds")
        let epochs = try a.int("epochs", default: 10, range: 1...Settings.maxEpoch)!
        let workers = try a.int("workers", default: ProcessInfo.processInfo.activeProcessorCount, range: 1...256)!
        let tensorboard = a.option("tensorboard")
        let plan = a.flag("plan")
        let eta = try a.int("halving", range: 2...100), rungs = try a.int("rungs", range: 1...20)
        try a.finish()
        if rungs != nil && eta == nil { throw UsageError("sweep: rungs= goes with halving=η (e.g. halving=3 rungs=3)") }
        // The children are made from this session's save: they inherit the folder, each logging to <folder>/<child>.
        if let tensorboard { try nb.session.set(.tensorboard(tensorboard == "off" ? nil : tensorboard)) }
        var request = SweepRequest(grid: grid, seeds: seeds, epochs: epochs, workers: workers)
        request.halving = eta.map { Halving(eta: $0, rungs: rungs) }
        if plan {
            return try nb.session.planSweep(request, store: nb.store, executable: nb.sweepWorker?.path ?? "bsn", concurrent: workers)
        }

        var observer = SweepObserver()
        observer.warmup = trainingObserver(nb)
        observer.note = { nb.live($0) }
        let width = 10
        observer.rows = { rows in
            var table = SweepReport.table(nameWidth: max(width, rows.map(\.child.count).max() ?? width))
            for row in rows { table.add(row.cells) }
            nb.console.board(table.text.split(separator: "\n").map(String.init))
            nb.listener?.live(LiveDisplay(key: "sweep-\(nb.nextCell - 1)", text: table.text, html: table.html))
        }
        if !nb.console.interactive && nb.listener == nil {
            // In a script, a line per epoch and per child that ends.
            observer.event = { row, e in
                guard e.kind != .progress && e.kind != .started else { return }
                nb.live("  \(row.child): \(e.kind == .epoch ? "epoch \(row.step / row.perEpoch)/\(row.targetStep / row.perEpoch)" : row.state.rawValue)"
                        + (row.validationAccuracy.map { ", val acc " + Format.fixed($0, 3) } ?? "")
                        + (row.cost.map { ", \(row.costName ?? "cost") " + Format.quantity($0) } ?? "")
                        + (e.kind == .failed ? ": " + (e.message ?? "") : ""))
            }
        }
        defer {
            nb.console.endProgress()
            nb.console.endBoard()
        }
        return try nb.session.sweep(request, store: nb.store,
                                    worker: nb.sweepWorker, cancel: nb.freshCancellation, observer: observer)
    }

    /// `cnf W=1,2,4 [S=] [C=]` (S and C default to this session's CNF), `resnet depth=20,32`,
    /// or `space [key=1,2,4 …]` (this session's space file, every edge fixed on).
    private func baselines(_ a: inout Arguments, _ nb: Notebook) throws -> [Fabric] {
        let kind = try a.required("cnf, resnet or space")
        switch kind {
        case "cnf":
            guard let widths = try a.wholeList("W", "w", range: 1...1000) else { throw UsageError("sweep baselines cnf: needs W=<list> (e.g. W=1,2,4)") }
            var scales: Int?, channels: Int?, segmentation = false
            if case let .cnf(_, s, c, seg, _) = nb.session.modelSpec?.fabric { (scales, channels, segmentation) = (s, c, seg) }
            guard let s = try a.int("S", "s") ?? scales, let c = try a.int("C", "c") ?? channels else {
                throw UsageError("sweep baselines cnf: needs S= and C= (this session's model is not a CNF)")
            }
            return widths.map { .cnf(columns: $0, scales: s, channels: c, segmentation: segmentation, gated: false) }
        case "resnet":
            guard let depths = try a.wholeList("depth", range: 8...1000) else { throw UsageError("sweep baselines resnet: needs depth=<list> (e.g. depth=20,32)") }
            return try depths.map { d in
                guard let f = Fabric.resnet(depth: d) else { throw UsageError("sweep baselines resnet: depth must be \(Fabric.resnetDepths), got \(d)") }
                return f
            }
        case "space":
            // The session's space with every edge fixed on, for each combination of the listed parameter values.
            guard case let .space(source)? = nb.session.modelSpec?.fabric else {
                throw UsageError("sweep baselines space: this session's model is not built from a space file (build space <file> first)")
            }
            var combinations: [[String: Int]] = [source.given]
            for key in try source.expansion().parameters.keys.sorted() {
                guard let word = a.option(key) else { continue }
                let values = try word.split(separator: ",").map { part in
                    guard let v = Int(part) else { throw UsageError("sweep baselines space: \(key)=\(word) is not a list of whole numbers") }
                    return v
                }
                combinations = combinations.flatMap { c in values.map { v in c.merging([key: v]) { $1 } } }
            }
            return try combinations.map { given in
                var fixed = source
                (fixed.given, fixed.gated) = (given, false)
                _ = try fixed.expansion()
                return .space(fixed)
            }
        default:
            throw UsageError("sweep baselines: expected cnf, resnet or space, got '\(kind)'" + didYouMean(kind, in: ["cnf", "resnet", "space"]))
        }
    }
}

struct ParetoCommand: Command {
    let name = "pareto"
    let group = CommandGroup.selection
    let effect: CommandEffect = [.changesState, .leaderOnly]
    var usage: String { "pareto [<cost>] [--split=val|test] [--metric=accuracy|iou] [--all] [--markdown|--csv] [--parallel=N] [tensorboard=<folder>]   (cost: \(CostChoices.catalogue.usage))" }
    let summary = "the Pareto front of this session's sweep: accuracy against cost, the front's test accuracy"
    let example = "pareto flops --markdown"
    let details = """
    Takes every finished child and baseline of this session's sweeps and keeps the models no other
    beats on both validation accuracy (--split=test: test) and cost (default: the optimised cost).
    Segmentation sweeps may rank by mean IoU instead (--metric=iou). The front's models are
    evaluated on test once (saved in their sessions). Columns: model, budget, λ, the cost and the
    others (flops, params, parallel-N steps; --parallel=N, 4), val and test accuracy, steps.
    Children of seeds= that share a setting make one row: the mean ± the standard deviation over
    the seeds. A dead network (no input → output path) is never on the front. The table says when
    the models were trained for different numbers of steps.
    --all lists every model (front marked, dead ones as dead, then each seed); --markdown and
    --csv print those tables. render pareto <file.png> draws it. tensorboard=<folder> writes every
    model (each seed's child) as a row of TensorBoard's HParams table: hyper-parameters model, kind,
    budget, λ, seed; metrics val and test accuracy, the cost, on_front; in <folder>/<child>, beside
    the child's training curves when the sweep had tensorboard=.
    """
    var words: [String] { CostChoices.catalogue.words + ["--split=", "--metric=", "--metric=accuracy", "--metric=iou", "--all", "--markdown", "--csv", "--parallel=", "--json", "tensorboard="] }

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let cost = try a.next().map { try CostChoices.parse($0, &a) }
        let split = try Split(parsing: a.option("split") ?? "val")
        let metricWord = a.option("metric") ?? "accuracy"
        guard let metric = ParetoMetric(rawValue: metricWord) else {
            throw UsageError("pareto: --metric takes accuracy or iou, got '\(metricWord)'" + didYouMean(metricWord, in: ParetoMetric.allCases.map(\.rawValue)))
        }
        let all = a.flag("all"), markdown = a.flag("markdown"), csv = a.flag("csv")
        let machines = try a.int("parallel", default: 4, range: 1...ParallelCost.maxMachines)!
        let tensorboard = a.option("tensorboard")
        try a.finish()
        guard !(markdown && csv) else { throw UsageError("pareto: --markdown or --csv, not both") }
        defer { nb.console.endProgress() }
        var report = try nb.session.pareto(cost: cost, split: split, metric: metric, machines: machines, store: nb.store, cancel: nb.freshCancellation) {
            nb.console.progress($0)
        }
        report.layout = markdown ? .markdown : csv ? .csv : .text
        report.all = all
        if let tensorboard {
            let runs = try nb.session.writeHParams(report, to: tensorboard)
            report.hparams = "TensorBoard HParams table: \(runs) models in \(tensorboard) (tensorboard --logdir \(tensorboard), tab HPARAMS)"
        }
        return report
    }
}
