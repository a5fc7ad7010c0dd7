import Datasets
import Foundation
import Interface
import Render
import SuperNet
import Tensor

/// What `pareto` shows: the models of a sweep (children and baselines), the
/// front picked on one split, the front's test accuracy. Laid out like the
/// paper's tables: model, budget, λ, the optimised cost and the others,
/// validation and test accuracy, steps trained.
///
/// Children that differ only in their seed (`seeds=`) make one row, a
/// setting, with the mean and the standard deviation over its seeds; the
/// front is taken on those. A dead network (no input → output path) is
/// never on the front.
public struct ParetoReport: TabularOutput, Sendable {
    public enum Layout: String, Codable, Sendable { case text, markdown, csv }

    public struct Row: Codable, Sendable {
        /// A child's session; for a setting of several seeds, its first seed's.
        public let session: String, model: String, kind: SweepOrigin.Kind
        public let budget: Double?, lambda: Double?, seed: UInt64?
        /// The cost the front is taken on (`costName`), of the deterministic architecture (a setting: the mean over its live seeds).
        public let cost: Double
        /// Every cost reported: name and value, the front's first.
        public let costs: [NamedValue]
        /// The front's measure on `split` (accuracy, or mean IoU with `metric` iou); nil for a dead network.
        public let validationAccuracy: Double?
        /// Measured for the front's models only.
        public var testAccuracy: Double?
        public let steps: Int
        public var onFront: Bool
        /// No input → output path: the network predicts nothing, and is never on the front.
        public let dead: Bool
        /// A setting's seeds (1 for a single child), and the standard deviations over them.
        public var seeds = 1
        public var validationSpread: Double? = nil, testSpread: Double? = nil
    }

    public struct NamedValue: Codable, Sendable {
        public let name: String, value: Double
    }

    public let parent: String, costName: String, split: String
    /// Accuracy, or mean IoU (segmentation, `--metric=iou`).
    public var metric = ParetoMetric.accuracy
    /// One row per setting, sorted by cost; with `all` false the text shows the front only.
    public let rows: [Row]
    /// Each seed's own row, when some setting has several (`--all` lists them).
    public var seedRows: [Row] = []
    /// Children whose training has not reached its end (left out).
    public let unfinished: [String]
    /// Children a halving sweep stopped, with the rung after which they stopped (1 = the first); left off the front.
    public var stopped: [NamedValue] = []
    /// The front's hypervolume: the area it dominates in (accuracy, cost saved), from the reference point
    /// (accuracy 0, the full super network's cost), with cost as a share of that cost: in [0, 1].
    public var hypervolume: Double?
    /// The reference point's cost: the full super network's.
    public var referenceCost: Double?

    /// The hypervolume of a front of (cost, accuracy) points against (accuracy 0, cost `reference`), cost in shares of `reference`.
    public static func hypervolume(_ front: [(cost: Double, accuracy: Double)], reference: Double) -> Double {
        guard reference > 0 else { return 0 }
        var area = 0.0, below = 0.0
        // Cheapest first: each point adds the band between the accuracy below it and its own, as wide as the cost it saves.
        for p in front.sorted(by: { ($0.cost, $0.accuracy) < ($1.cost, $1.accuracy) }) where p.accuracy > below {
            area += max(0, reference - p.cost) / reference * (p.accuracy - below)
            below = p.accuracy
        }
        return area
    }
    /// 1 / classes for classification: what guessing scores (drawn by `render pareto`).
    public var chance: Double? = nil
    public var layout = Layout.text
    public var all = false
    /// Where the models were written as a TensorBoard HParams table (`pareto tensorboard=`), and how many.
    public var hparams: String?

    public var front: [Row] { rows.filter(\.onFront) }
    public var dead: [Row] { rows.filter(\.dead) }

    /// The numbers of steps the rows were trained for, when they differ: (steps, models).
    public var stepCounts: [(steps: Int, models: Int)] {
        let counts = Dictionary(grouping: rows, by: \.steps).map { (steps: $0.key, models: $0.value.count) }.sorted { $0.steps < $1.steps }
        return counts.count > 1 ? counts : []
    }

    private var measure: String { metric == .accuracy ? "acc" : "IoU" }

    private func header(seeds: Bool) -> [String] {
        ["model", "budget", "λ"] + (rows.first?.costs.map(\.name) ?? [costName]) + ["val \(measure)", "test \(measure)", "steps"]
            + (seeds ? ["seeds"] : []) + (all ? ["front"] : [])
    }

    private var grouped: Bool { rows.contains { $0.seeds > 1 } }

    private func cells(_ r: Row, exact: Bool, seeds: Bool) -> [String] {
        let number = { (x: Double) in exact ? String(format: "%.17g", x) : Format.quantity(x) }
        let accuracy = { (x: Double?, spread: Double?) -> String in
            guard let x else { return exact ? "" : "-" }
            if exact { return String(format: "%.6f", x) + (spread.map { String(format: " ± %.6f", $0) } ?? "") }
            return Format.fixed(x, 4) + (spread.map { " ±" + Format.fixed($0, 4) } ?? "")
        }
        let mark = r.dead ? "dead" : r.onFront ? (exact ? "yes" : "*") : (exact ? "no" : "")
        return [r.model, r.budget.map(number) ?? (exact ? "" : "-"), r.lambda.map { String(format: "%g", $0) } ?? (exact ? "" : "-")]
            + r.costs.map { number($0.value) } + [accuracy(r.validationAccuracy, r.validationSpread), accuracy(r.testAccuracy, r.testSpread), String(r.steps)]
            + (seeds ? [String(r.seeds)] : []) + (all ? [mark] : [])
    }

    /// What the text says under the table: what was compared, what was left out, what differs.
    private var notes: [String] {
        var notes = ["Pareto front of \(split) \(metric) against \(costName): \(front.count) of \(rows.count) \(grouped ? "settings" : "models") of '\(parent)'"
                     + " (test \(metric) measured for the front)" + (grouped ? "; ± is the standard deviation over a setting's seeds" : "")]
        if !dead.isEmpty {
            notes.append("dead (no input → output path, never on the front): " + dead.map(\.model).joined(separator: ", ") + (all ? "" : " (pareto --all lists them)"))
        }
        if !stepCounts.isEmpty {
            notes.append("trained for different numbers of steps: " + stepCounts.map { "\($0.steps) (\($0.models) \($0.models == 1 ? "model" : "models"))" }
                .joined(separator: ", ") + "; the longer-trained models have an edge")
        }
        if !unfinished.isEmpty { notes.append("unfinished, left out: \(unfinished.joined(separator: ", "))") }
        if let hypervolume, let referenceCost {
            notes.append(String(format: "hypervolume %.4f (the area the front dominates: \(split) \(metric) × the share of \(costName) saved; reference point: \(metric) 0, \(costName) %@, the full network's)",
                                hypervolume, Format.quantity(referenceCost)))
        }
        if !stopped.isEmpty {
            notes.append(all ? "stopped by halving (saved; open one to continue it): " + stopped.map { "\($0.name) (after rung \(Int($0.value)))" }.joined(separator: ", ")
                         : "\(stopped.count) stopped by halving, left out (pareto --all lists them)")
        }
        return notes
    }

    public var text: String {
        let shown = all ? rows : front
        let seeds = grouped
        switch layout {
        case .csv:
            // One table: the seeds' rows with --all, the settings' otherwise.
            let table = all && seeds ? seedRows : shown
            return ([header(seeds: seeds)] + table.map { cells($0, exact: true, seeds: seeds) }).map { line in
                line.map { $0.contains(",") || $0.contains("\"") ? "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : $0 }
                    .joined(separator: ",")
            }.joined(separator: "\n")
        case .markdown:
            let lines = [header(seeds: seeds), header(seeds: seeds).map { _ in "---" }] + shown.map { cells($0, exact: false, seeds: seeds) }
            return lines.map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n")
        case .text:
            return Block.text(blocks)
        }
    }

    /// The text layout's tables: the front (every row with `all`), and each seed's row.
    public var blocks: [Block] {
        guard layout == .text else { return [.text(text)] }
        var out = table(all ? rows : front, seeds: grouped)
        for n in notes { out.note(n) }
        if let hparams { out.note(hparams) }
        guard all && grouped else { return [.table(out)] }
        var each = table(seedRows, seeds: false)
        each.note("each seed's child, marked as its setting is")
        return [.table(out), .table(each)]
    }

    private func table(_ shown: [Row], seeds: Bool) -> Table {
        let width = max(12, (shown.map(\.model.count).max() ?? 0) + 2)
        let accuracyWidth = seeds ? 16 : 9
        var table = Table([.left("model", width), .right("budget", 9), .right("λ", 8)] + (rows.first?.costs.map(\.name) ?? [costName]).map { .right($0, 12) }
                          + [.right("val \(measure)", accuracyWidth), .right("test \(measure)", accuracyWidth), .right("steps", 7)]
                          + (seeds ? [.right("seeds", 6)] : []) + (all ? [.right("front", 6)] : []))
        for r in shown { table.add(cells(r, exact: false, seeds: seeds)) }
        return table
    }
}

/// What `pareto` ranks the models by.
public enum ParetoMetric: String, CaseIterable, Codable, Sendable, CustomStringConvertible {
    case accuracy
    /// Mean intersection over union (segmentation).
    case iou

    /// As reports say it (and their JSON writes it): "accuracy", "mean IoU".
    public var description: String { self == .accuracy ? "accuracy" : "mean IoU" }

    public init(from decoder: any Decoder) throws {
        let word = try decoder.singleValueContainer().decode(String.self)
        guard let metric = Self.allCases.first(where: { $0.description == word || $0.rawValue == word }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown metric '\(word)'"))
        }
        self = metric
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension Session {
    /// The Pareto front of this session's sweep (its children and baselines,
    /// finished): the settings no other beats on both `split` accuracy (or
    /// mean IoU) and `cost` (default: the optimised cost; else flops), of
    /// their deterministic architectures. Children that differ only in their
    /// seed make one setting (their means); dead networks are left off. The
    /// front's models are evaluated on test, once: the result is saved in
    /// each child and reused.
    public func pareto(cost choice: (any CostChoice)? = nil, split: Split = .validation, metric: ParetoMetric = .accuracy, machines: Int = 4,
                       store: SessionStore, cancel: Cancellation = .never, progress: @escaping (String) -> Void = { _ in }) throws -> ParetoReport {
        guard split != .train else { throw SessionError("--split takes val or test, got 'train'") }
        let children = store.list().filter { $0.origin?.parent == name }
        guard !children.isEmpty else { throw SessionError("'\(name)' has no sweep children yet (sweep budget …, then pareto)") }
        if metric == .iou, dataset?.isSegmentation != true {
            throw SessionError("--metric=iou is for segmentation; \(dataset?.name ?? "this session's data") is classified: use accuracy")
        }
        let finished = children.filter { $0.steps >= ($0.origin?.targetStep ?? 0) }
        let chosen = choice ?? budgetSpec?.cost ?? FlopsCost.Choice()
        let datasets = DatasetCache()
        var each = [ParetoReport.Row](), sessions = [Session](), recorded = [Int]()
        for (k, listing) in finished.enumerated() {
            if cancel.isCancelled { throw SessionError("interrupted; nothing recorded for the models not yet evaluated") }
            progress("measuring \(listing.name) (\(k + 1)/\(finished.count))")
            let child = try store.open(listing.name, datasets: datasets)
            recorded.append(child.evaluations.count)
            let (network, _) = try child.requireModel()
            var c = chosen
            let front = try c.make(for: network)
            var costs: [any Cost] = [front]
            for other in CostChoices.listed(for: network, CostListing(machines: [machines]))
            where !costs.contains(where: { $0.name == other.name }) { costs.append(other) }
            let architecture = network.deterministicArchitecture
            let dead = !architecture.isConsistent
            let origin = listing.origin!
            each.append(ParetoReport.Row(session: listing.name, model: listing.name.dropPrefix(name + "."), kind: origin.kind,
                                         budget: origin.budget?.budget.limit, lambda: origin.budget?.budget.lambda, seed: origin.seed,
                                         cost: front.cost(of: architecture),
                                         costs: costs.map { .init(name: $0.name, value: $0.cost(of: architecture)) },
                                         validationAccuracy: dead ? nil : try child.measure(metric, on: split, cancel: cancel),
                                         testAccuracy: dead ? nil : child.recordedMeasure(metric, on: .test), steps: listing.steps,
                                         onFront: false, dead: dead))
            sessions.append(child)
        }
        // Children that differ only in their seed make one setting.
        let settings = Dictionary(grouping: each.indices) { each[$0].model.settingName }.values.map { $0.sorted() }.sorted { $0[0] < $1[0] }
        var rows = settings.map { ParetoReport.setting(of: $0.map { each[$0] }) }
        let live = rows.indices.filter { !rows[$0].dead }
        for k in paretoFront(live.map { (rows[$0].cost, rows[$0].validationAccuracy!) }).map({ live[$0] }) {
            rows[k].onFront = true
            for i in settings[k] where !each[i].dead {
                progress("evaluating \(each[i].model) on test")
                each[i].testAccuracy = try sessions[i].measure(metric, on: .test, cancel: cancel)
            }
            rows[k] = ParetoReport.setting(of: settings[k].map { each[$0] }, onFront: true)
        }
        for (k, members) in settings.enumerated() { for i in members { each[i].onFront = rows[k].onFront } }
        // New evaluations are kept with their sessions.
        // (A child another process holds keeps its evaluation for the next pareto.)
        for (k, s) in sessions.enumerated() where s.evaluations.count > recorded[k] && s.lock != nil { try store.save(s) }
        let byCost = { (a: ParetoReport.Row, b: ParetoReport.Row) in (a.dead ? 1 : 0, a.cost, a.model) < (b.dead ? 1 : 0, b.cost, b.model) }
        let stoppedAt = { (child: String) in self.halvingRecord?.stoppedAt(child) }
        var report = ParetoReport(parent: name, costName: rows.first?.costs.first?.name ?? chosen.name, split: split.rawValue, rows: rows.sorted(by: byCost),
                                  unfinished: children.filter { $0.steps < ($0.origin?.targetStep ?? 0) && stoppedAt($0.name) == nil }.map { $0.name.dropPrefix(name + ".") })
        if let network {
            var c = chosen
            let reference = try c.make(for: network).cost(of: network.fullArchitecture)
            report.referenceCost = reference
            report.hypervolume = ParetoReport.hypervolume(rows.filter(\.onFront).compactMap { r in r.validationAccuracy.map { (r.cost, $0) } }, reference: reference)
        }
        report.stopped = children.compactMap { c in stoppedAt(c.name).map { .init(name: c.name.dropPrefix(name + "."), value: Double($0 + 1)) } }
        report.metric = metric
        if rows.contains(where: { $0.seeds > 1 }) { report.seedRows = each.sorted(by: byCost) }
        if let d = dataset, !d.isSegmentation, metric == .accuracy, d.classNames.count > 1 { report.chance = 1 / Double(d.classNames.count) }
        return report
    }

    /// The deterministic architecture's accuracy (or mean IoU) on a split at this step: recorded, or evaluated now (and recorded).
    func measure(_ metric: ParetoMetric, on split: Split, cancel: Cancellation) throws -> Double {
        if let recorded = recordedMeasure(metric, on: split) { return recorded }
        let report = try evaluate(split, cancel: cancel)
        return metric == .accuracy ? report.accuracy : report.meanIoU ?? 0
    }

    /// What an evaluation of the deterministic architecture recorded on a split at this step, if anything.
    func recordedMeasure(_ metric: ParetoMetric, on split: Split) -> Double? {
        guard let step = trainer?.step else { return nil }
        if let e = evaluations.last(where: { $0.step == step && $0.split == split && $0.sampled != true && (metric == .accuracy || $0.meanIoU != nil) }) {
            return metric == .accuracy ? e.accuracy : e.meanIoU
        }
        // The validation of the epoch that ended at this step.
        if split == .validation, let loader, let e = epochs.last, e.epoch * max(loader.batchesPerEpoch, 1) == step {
            return metric == .accuracy ? e.validationAccuracy : e.validationMeanIoU
        }
        return nil
    }
}

extension ParetoReport {
    /// One setting's row from its seeds' children: their mean cost and
    /// measures over the live ones, the standard deviation when there are
    /// several. Dead when every seed is.
    static func setting(of members: [Row], onFront: Bool = false) -> Row {
        guard members.count > 1 else {
            var only = members[0]
            only.onFront = onFront
            return only
        }
        let live = members.filter { !$0.dead }, first = members[0]
        let basis = live.isEmpty ? members : live
        func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(max(xs.count, 1)) }
        func spread(_ xs: [Double]) -> Double? {
            guard xs.count > 1 else { return nil }
            let m = mean(xs)
            return (xs.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(xs.count - 1)).squareRoot()
        }
        let validation = live.compactMap(\.validationAccuracy), test = live.compactMap(\.testAccuracy)
        let costs = first.costs.indices.map { k in NamedValue(name: first.costs[k].name, value: mean(basis.map { $0.costs[k].value })) }
        var row = Row(session: first.session, model: first.model.settingName, kind: first.kind, budget: first.budget, lambda: first.lambda, seed: nil,
                      cost: mean(basis.map(\.cost)), costs: costs, validationAccuracy: validation.isEmpty ? nil : mean(validation),
                      testAccuracy: test.isEmpty ? nil : mean(test), steps: members.map(\.steps).max()!, onFront: onFront, dead: live.isEmpty)
        row.seeds = members.count
        (row.validationSpread, row.testSpread) = (spread(validation), spread(test))
        return row
    }
}

extension String {
    func dropPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }

    /// A child's name without its seed ("flops-4M.lambda-1e-07.seed-2" → "flops-4M.lambda-1e-07").
    var settingName: String {
        guard let r = range(of: ".seed-", options: .backwards), !self[r.upperBound...].isEmpty, self[r.upperBound...].allSatisfy(\.isNumber) else { return self }
        return String(self[..<r.lowerBound])
    }
}
