import Datasets
import Foundation
import Interface
import Layers
import SuperNet

extension SessionStore.Manifest {
    /// A manifest's checksum proves it is intact, not that its values are
    /// sane: every number that sizes memory, counts work or indexes something
    /// is checked here, by its name in the file, before anything is built.
    /// (Sizes within bounds are then checked against the memory available
    /// when the dataset is loaded and the model built.)
    func validate(file: String) throws {
        func refuse(_ name: String, _ value: Any, _ bounds: String) -> SessionError {
            SessionError("\(file): \(name) = \(value) is out of bounds (\(bounds)); the file was edited or damaged")
        }
        func check(_ value: Int, _ name: String, _ range: ClosedRange<Int>) throws {
            guard range.contains(value) else { throw refuse(name, value, "\(range.lowerBound)…\(range.upperBound)") }
        }
        func check(_ value: Double, _ name: String, _ range: ClosedRange<Double>) throws {
            guard range.contains(value) else { throw refuse(name, value, "\(range.lowerBound)…\(range.upperBound)") }
        }
        func check(_ value: Float, _ name: String, _ range: ClosedRange<Double>) throws { try check(Double(value), name, range) }
        func check(_ value: Float, _ name: String, _ setting: SettingDeclaration<Float>) throws {
            guard setting.domain.allows(value) else { throw refuse(name, value, setting.domain.expected) }
        }
        func check(_ schedule: PiecewiseConstantSchedule, _ name: String) throws {
            try check(schedule.initial, "\(name).initial", Settings.learningRateRange)
            try check(schedule.changes.count, "\(name).changes (count)", 0...10_000)
            for (i, c) in schedule.changes.enumerated() {
                try check(c.at, "\(name).changes[\(i)].at", 0...Settings.maxEpoch)
                try check(c.value, "\(name).changes[\(i)].value", Settings.learningRateRange)
            }
        }
        let big = 1_000_000_000_000, finite = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
        try check(generation, "generation", 0...big)

        for setting in Settings.table { try setting.checkSaved(settings, file: file) }
        try check(settings.warmupSteps, "settings.warmupSteps", 0...Settings.maxSteps)
        if let s = settings.schedule { try check(s, "settings.schedule") }

        if let c = convolutionChoices { try check(c.count, "convolutionChoices (count)", 0...100_000) }
        if let d = dataset?.value {
            for p in d.boundedParameters { try check(p.value, "dataset.\(p.key)", p.bounds) }
        }
        if let l = loader {
            try check(l.epoch, "loader.epoch", 0...big)
            try check(l.batch, "loader.batch", 0...big)
        }
        if let m = model {
            for p in m.fabric.boundedParameters { try check(p.value, "model.fabric.\(p.key)", p.bounds) }
            if let gates = m.fixedGates { try check(gates.count, "model.fixedGates (count)", 0...10_000_000) }
        }
        if let b = budget {
            for p in b.cost.boundedParameters { try check(p.value, "budget.\(p.key)", p.bounds) }
            try check(b.budget.limit, "budget.budget.limit", 0...Double.greatestFiniteMagnitude)
            try check(b.budget.lambda, "budget.budget.lambda", 0...Double.greatestFiniteMagnitude)
            try check(b.budget.inconsistentPenalty, "budget.budget.inconsistentPenalty", 0...1e9)
        }
        if let t = trainer {
            try check(t.step, "trainer.step", 0...big)
            try check(t.warmupSteps, "trainer.warmupSteps", 0...big)
            try check(t.stepsPerEpoch, "trainer.stepsPerEpoch", 1...Settings.maxSteps)
            try check(t.pathLearningRate, "trainer.pathLearningRate", Settings.Declared.pathLearningRate)
            try check(t.momentum, "trainer.momentum", Settings.Declared.momentum)
            try check(t.weightDecay, "trainer.weightDecay", Settings.Declared.weightDecay)
            try check(t.schedule, "trainer.schedule")
            if let r = t.runningBaseline { try check(r, "trainer.runningBaseline", finite) }
            if let e = t.epochTotals {
                try check(e.steps, "trainer.epochTotals.steps", 0...big)
                try check(e.loss, "trainer.epochTotals.loss", finite)
                try check(e.accuracy, "trainer.epochTotals.accuracy", finite)
                try check(e.sampledCost, "trainer.epochTotals.sampledCost", finite)
            }
        }
        if let o = origin {
            try check(o.parentStep, "origin.parentStep", 0...big)
            try check(o.targetStep, "origin.targetStep", 0...big)
            if let f = o.fabric { for p in f.boundedParameters { try check(p.value, "origin.fabric.\(p.key)", p.bounds) } }
            if let b = o.budget {
                try check(b.budget.limit, "origin.budget.budget.limit", 0...Double.greatestFiniteMagnitude)
                try check(b.budget.lambda, "origin.budget.budget.lambda", 0...Double.greatestFiniteMagnitude)
            }
            try SessionStore.check(name: o.parent)
        }
        for (role, name) in files.sorted(by: { $0.key < $1.key }) {
            guard SessionStore.roles.contains(role) else { throw SessionError("\(file): files.\(role): not a file of a session") }
            guard !name.isEmpty, !name.hasPrefix("."), !name.contains("/") else {
                throw SessionError("\(file): files.\(role) = \(name) is not a file name in the session's folder")
            }
        }
    }
}
