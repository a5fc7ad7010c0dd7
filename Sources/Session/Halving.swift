import Foundation
import Interface
import Render
import Tensor

/// Successive halving, Pareto-aware (`sweep budget … halving=η [rungs=R]`):
/// the children train in rungs, and after each rung but the last only the
/// children on or near the front of validation accuracy against the
/// optimised cost go on.
///
/// Rungs: the last ends at `epochs`; each one before ends at 1/η of the
/// next, rounded to whole epochs (epochs/η^(R−1), …, epochs/η, epochs). By
/// default R is the most rungs whose first is at least one epoch long.
///
/// Who goes on (`survivors`): the children still training are sorted into
/// fronts by non-dominated sorting on (validation accuracy at the rung, up;
/// cost of the deterministic architecture, down): front 1 is the children
/// no other beats on both, front 2 those of the rest, and so on. Whole
/// fronts are kept in order until at least ⌈n/η⌉ children are kept (a front
/// is never split, so more may go on). A child without a validation
/// accuracy (a dead network) is in no front and goes on only if nothing else can.
public struct Halving: Codable, Equatable, Sendable {
    public var eta: Int
    /// Nil: as many as fit (the first rung at least one epoch).
    public var rungs: Int?

    public init(eta: Int, rungs: Int? = nil) { (self.eta, self.rungs) = (eta, rungs) }

    /// The epochs at which each rung ends (increasing, the last `epochs`).
    public func rungEpochs(_ epochs: Int) throws -> [Int] {
        guard eta >= 2 else { throw SessionError("halving= takes a whole number ≥ 2 (the factor η), got \(eta)") }
        let most = 1 + Int((log(Double(epochs)) / log(Double(eta)) + 1e-9).rounded(.down))
        let count = rungs ?? max(most, 1)
        guard count >= 1 else { throw SessionError("rungs= takes a whole number ≥ 1, got \(count)") }
        guard count <= most else {
            throw SessionError("epochs=\(epochs) is too short for \(count) rungs of halving=\(eta): the first would be under one epoch (at most \(most) rungs; or more epochs)")
        }
        var ends = (0..<count).map { r in max(1, Int((Double(epochs) / pow(Double(eta), Double(count - 1 - r))).rounded())) }
        ends[count - 1] = epochs
        for r in 1..<max(count, 1) where ends[r] <= ends[r - 1] {
            throw SessionError("halving=\(eta) rungs=\(count) over epochs=\(epochs) gives rungs of no length (\(ends.map(String.init).joined(separator: ", ")) epochs): fewer rungs, or more epochs")
        }
        return ends
    }

    /// One child at the end of a rung: its name, validation accuracy (nil: none, a dead network) and cost.
    public struct Standing: Sendable {
        public let name: String, accuracy: Double?, cost: Double
        public init(name: String, accuracy: Double?, cost: Double) { (self.name, self.accuracy, self.cost) = (name, accuracy, cost) }
    }

    /// The fronts of non-dominated sorting, best first (indices into `standings`); children without an accuracy last, as one group.
    public static func fronts(_ standings: [Standing]) -> [[Int]] {
        var left = standings.indices.filter { standings[$0].accuracy != nil }, fronts = [[Int]]()
        while !left.isEmpty {
            let front = paretoFront(left.map { (standings[$0].cost, standings[$0].accuracy!) }).map { left[$0] }
            fronts.append(front.sorted())
            left.removeAll { front.contains($0) }
        }
        let unranked = standings.indices.filter { standings[$0].accuracy == nil }
        return unranked.isEmpty ? fronts : fronts + [unranked]
    }

    /// The names that go on after a rung (in `standings`' order).
    public func survivors(_ standings: [Standing]) -> [String] {
        let keep = (standings.count + eta - 1) / eta
        var kept = [Int]()
        for front in Self.fronts(standings) where kept.count < keep { kept += front }
        return kept.sorted().map { standings[$0].name }
    }
}

/// A halving sweep's decisions, kept in the parent session so that a sweep
/// resumed after an interruption goes on exactly where it was: a rung
/// decided is never decided again.
public struct HalvingRecord: Codable, Equatable, Sendable {
    public var halving: Halving
    /// The step at which each rung ends.
    public var rungSteps: [Int]
    /// Every child, in the grid's order.
    public var children: [String]
    /// After rung r (for the rungs decided so far): the children that went on.
    public var survivors: [[String]]

    public init(halving: Halving, rungSteps: [Int], children: [String], survivors: [[String]]) {
        (self.halving, self.rungSteps, self.children, self.survivors) = (halving, rungSteps, children, survivors)
    }

    /// The children still going on: those the last decision kept (all, before the first).
    public var alive: [String] { survivors.last ?? children }

    /// The rung at which a child stopped (0 = the first), nil if it went on.
    public func stoppedAt(_ child: String) -> Int? {
        var alive = Set(children)
        for (r, kept) in survivors.enumerated() {
            if alive.contains(child) && !kept.contains(child) { return r }
            alive = Set(kept)
        }
        return nil
    }
}

extension SessionStore {
    /// Decides the rung in progress when every child still going on has
    /// reached its end (their validation accuracy and cost from their saves):
    /// appends the survivors to the record and returns them; nil when the
    /// rung is not complete yet, or is the last (nothing to decide).
    public func decideRung(_ record: inout HalvingRecord) throws -> [String]? {
        let r = record.survivors.count
        guard r < record.rungSteps.count - 1 else { return nil }
        var standings = [Halving.Standing]()
        for name in record.alive {
            guard let status = try sweepStatus(name), status.step >= record.rungSteps[r] else { return nil }
            standings.append(Halving.Standing(name: name, accuracy: status.validationAccuracy, cost: status.cost ?? .infinity))
        }
        let kept = record.halving.survivors(standings)
        record.survivors.append(kept)
        return kept
    }
}

extension HalvingRecord {
    /// The record of a new halving sweep of `children`, made at step `start` of their parent.
    init(halving: Halving, epochs: Int, start: Int, perEpoch: Int, children: [String]) throws {
        let steps = try halving.rungEpochs(epochs).map { start + $0 * perEpoch }
        self.init(halving: halving, rungSteps: steps, children: children, survivors: [])
    }
}

/// How a caller's part of a halving sweep ended (`SessionStore.halve`).
enum HalvingEnd: Equatable {
    /// Its children reached their end.
    case finished
    /// None of its children goes on: halving stopped them after this rung (0 = the first).
    case stopped(afterRung: Int)
    /// Its children reached the rung in progress; others have not yet (a job-array task leaves them to the next run).
    case waiting(rung: Int)
    /// Cancelled, or training said not to go on (a child failed).
    case interrupted
}

extension SessionStore {
    /// The halving loop, for a whole sweep (`names`: every child) and for a
    /// job-array task (`names`: its one child). Rung by rung: `decide` decides
    /// the rungs every child going on has reached and keeps the record (in
    /// the parent, saved); then the caller's children still going on and short
    /// of the rung in progress train to its end (`train`, given the rung and its
    /// step, returns whether to go on).
    func halve(_ names: [String], decide: () throws -> HalvingRecord,
               train: (_ names: [String], _ rung: Int, _ until: Int) throws -> Bool, cancel: Cancellation) throws -> HalvingEnd {
        while !cancel.isCancelled {
            let record = try decide()
            let r = record.survivors.count
            let going = names.filter(record.alive.contains)
            guard !going.isEmpty else { return .stopped(afterRung: names.compactMap(record.stoppedAt).min() ?? r) }
            let short = try going.filter { (try sweepStatus($0)?.step ?? 0) < record.rungSteps[r] }
            if short.isEmpty { return r == record.rungSteps.count - 1 ? .finished : .waiting(rung: r) }
            guard try train(short, r, record.rungSteps[r]) else { return .interrupted }
        }
        return .interrupted
    }
}
