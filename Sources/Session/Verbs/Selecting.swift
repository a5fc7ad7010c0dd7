import Foundation
import Interface
import Render
import SuperNet
import Tensor

/// What `pareto` shows: the models of a sweep (children and baselines), the
/// front picked on one split, the front's test accuracy. Laid out like the
/// paper's tables: model, budget, λ, the optimised cost and the others,
/// validation and test accuracy, steps trained.
public struct ParetoReport: Output, Sendable {
    public enum Layout: String, Codable, Sendable { case text, markdown, csv }

    public struct Row: Codable, Sendable {
        public let session: String, model: String, kind: SweepOrigin.Kind
        public let budget: Double?, lambda: Double?, seed: UInt64?
        /// The cost the front is taken on (`costName`), of the deterministic architecture.
        public let cost: Double
        /// Every cost reported: name and value, the front's first.
        public let costs: [NamedValue]
        public let validationAccuracy: Double
        /// Measured for the front's models only.
        public var testAccuracy: Double?
        public let steps: Int
        public var onFront: Bool
    }

    public struct NamedValue: Codable, Sendable {
        public let name: String, value: Double
    }

    public let parent: String, costName: String, split: String
    /// Sorted by cost; with `all` false the text shows the front only.
    public let rows: [Row]
    /// Children whose training has not reached its end (left out).
    public let unfinished: [String]
    public var layout = Layout.text
    public var all = false

    public var front: [Row] { rows.filter(\.onFront) }

    private var header: [String] {
        ["model", "budget", "λ"] + (rows.first?.costs.map(\.name) ?? [costName]) + ["val acc", "test acc", "steps"] + (all ? ["front"] : [])
    }

    private func cells(_ r: Row, exact: Bool) -> [String] {
        let number = { (x: Double) in exact ? String(format: "%.17g", x) : Format.quantity(x) }
        let accuracy = { (x: Double?) in x.map { exact ? String(format: "%.6f", $0) : Format.fixed($0, 4) } ?? (exact ? "" : "-") }
        return [r.model, r.budget.map(number) ?? (exact ? "" : "-"), r.lambda.map { String(format: "%g", $0) } ?? (exact ? "" : "-")]
            + r.costs.map { number($0.value) } + [accuracy(r.validationAccuracy), accuracy(r.testAccuracy), String(r.steps)]
            + (all ? [r.onFront ? (exact ? "yes" : "*") : (exact ? "no" : "")] : [])
    }

    public var text: String {
        let shown = all ? rows : front
        switch layout {
        case .csv:
            return ([header] + shown.map { cells($0, exact: true) }).map { line in
                line.map { $0.contains(",") || $0.contains("\"") ? "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : $0 }
                    .joined(separator: ",")
            }.joined(separator: "\n")
        case .markdown:
            let lines = [header, header.map { _ in "---" }] + shown.map { cells($0, exact: false) }
            return lines.map { "| " + $0.joined(separator: " | ") + " |" }.joined(separator: "\n")
        case .text:
            let width = max(12, (shown.map(\.model.count).max() ?? 0) + 2)
            var table = Table([.left("model", width), .right("budget", 9), .right("λ", 8)] + header.dropFirst(3).dropLast(all ? 4 : 3).map { .right($0, 12) }
                              + [.right("val acc", 9), .right("test acc", 9), .right("steps", 7)] + (all ? [.right("front", 6)] : []))
            for r in shown { table.add(cells(r, exact: false)) }
            table.note("Pareto front of \(split) accuracy against \(costName): \(front.count) of \(rows.count) models of '\(parent)'"
                       + " (test accuracy measured for the front)" + (unfinished.isEmpty ? "" : "; unfinished, left out: \(unfinished.joined(separator: ", "))"))
            return table.text
        }
    }
}

extension Session {
    /// The Pareto front of this session's sweep (its children and baselines,
    /// finished): the models no other beats on both `split` accuracy and
    /// `cost` (default: the optimised cost; else flops), of their
    /// deterministic architectures. The front's models are evaluated on test,
    /// once: the result is saved in each child and reused.
    public func pareto(cost choice: (any CostChoice)? = nil, split: String = "val", machines: Int = 4, store: SessionStore,
                       cancel: Cancellation = .never, progress: @escaping (String) -> Void = { _ in }) throws -> ParetoReport {
        guard ["val", "test"].contains(split) else { throw SessionError("--split takes val or test, got '\(split)'") }
        let children = store.list().filter { $0.origin?.parent == name }
        guard !children.isEmpty else { throw SessionError("'\(name)' has no sweep children yet (sweep budget …, then pareto)") }
        let finished = children.filter { $0.steps >= ($0.origin?.targetStep ?? 0) }
        let chosen = choice ?? budgetSpec?.cost ?? FlopsCost.Choice()
        let datasets = DatasetCache()
        var rows = [ParetoReport.Row](), sessions = [Session](), recorded = [Int]()
        for (k, listing) in finished.enumerated() {
            if cancel.isCancelled { throw SessionError("interrupted; nothing recorded for the models not yet evaluated") }
            progress("measuring \(listing.name) (\(k + 1)/\(finished.count))")
            let child = try store.open(listing.name, datasets: datasets)
            recorded.append(child.evaluations.count)
            let (network, _) = try child.requireModel()
            var c = chosen
            let front = try c.make(for: network)
            var costs: [any Cost] = [front]
            for other in [FlopsCost(network), ParameterCost(network), ParallelCost(network, machines: machines)] as [any Cost]
            where !costs.contains(where: { $0.name == other.name }) { costs.append(other) }
            let architecture = network.deterministicArchitecture
            let origin = listing.origin!
            rows.append(ParetoReport.Row(session: listing.name, model: listing.name.dropPrefix(name + "."), kind: origin.kind,
                                         budget: origin.budget?.budget.limit, lambda: origin.budget?.budget.lambda, seed: origin.seed,
                                         cost: front.cost(of: architecture),
                                         costs: costs.map { .init(name: $0.name, value: $0.cost(of: architecture)) },
                                         validationAccuracy: try child.accuracy(on: split, cancel: cancel),
                                         testAccuracy: child.recordedAccuracy(on: "test"), steps: listing.steps, onFront: false))
            sessions.append(child)
        }
        for k in paretoFront(rows.map { ($0.cost, $0.validationAccuracy) }) {
            rows[k].onFront = true
            progress("evaluating \(rows[k].model) on test")
            rows[k].testAccuracy = try sessions[k].accuracy(on: "test", cancel: cancel)
        }
        // New evaluations are kept with their sessions.
        // (A child another process holds keeps its evaluation for the next pareto.)
        for (k, s) in sessions.enumerated() where s.evaluations.count > recorded[k] && s.lock != nil { try store.save(s) }
        let order = rows.indices.sorted { (rows[$0].cost, rows[$0].model) < (rows[$1].cost, rows[$1].model) }
        return ParetoReport(parent: name, costName: rows.first?.costs.first?.name ?? chosen.name, split: split, rows: order.map { rows[$0] },
                            unfinished: children.filter { $0.steps < ($0.origin?.targetStep ?? 0) }.map { $0.name.dropPrefix(name + ".") })
    }

    /// The deterministic architecture's accuracy on a split at this step: recorded, or evaluated now (and recorded).
    func accuracy(on split: String, cancel: Cancellation) throws -> Double {
        if let recorded = recordedAccuracy(on: split) { return recorded }
        return try evaluate(split, cancel: cancel).accuracy
    }

    /// The accuracy an evaluation of the deterministic architecture recorded on a split at this step, if any.
    func recordedAccuracy(on split: String) -> Double? {
        guard let step = trainer?.step else { return nil }
        if let e = evaluations.last(where: { $0.step == step && $0.split == split && $0.sampled != true }) { return e.accuracy }
        // The validation of the epoch that ended at this step.
        if split == "val", let loader, let e = epochs.last, e.epoch * max(loader.batchesPerEpoch, 1) == step { return e.validationAccuracy }
        return nil
    }
}

extension String {
    func dropPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}
