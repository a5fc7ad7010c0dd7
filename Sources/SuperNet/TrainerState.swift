import Foundation
import Layers
import Tensor

extension Trainer {
    /// Everything of a trainer that is not a tensor: counters, settings and
    /// the generator, so that a saved trainer continues exactly.
    public struct State: Codable, Equatable, Sendable {
        public var step: Int
        public var samplingStarted: Bool
        public var runningBaseline: Double?
        public var rng: RNG
        public var warmupSteps: Int
        public var stepsPerEpoch: Int
        public var pathLearningRate: Float
        public var sampling: Sampling
        public var budget: Budget?
        public var costsPrunedArchitecture: Bool
        public var schedule: PiecewiseConstantSchedule
        public var momentum: Float, weightDecay: Float, nesterov: Bool
        /// The epoch in progress (absent in sessions saved before it was kept).
        public var epochTotals: EpochTotals?
    }

    public var state: State {
        let g = weights
        return State(step: step, samplingStarted: samplingStarted, runningBaseline: runningBaseline, rng: rng,
                     warmupSteps: warmupSteps, stepsPerEpoch: stepsPerEpoch, pathLearningRate: pathLearningRate,
                     sampling: sampling, budget: budget, costsPrunedArchitecture: costsPrunedArchitecture,
                     schedule: schedule, momentum: g.momentum, weightDecay: g.weightDecay, nesterov: g.nesterov,
                     epochTotals: epochTotals)
    }

    /// Puts back a saved state (the tensors are restored separately).
    public func restore(_ s: State) {
        step = s.step
        samplingStarted = s.samplingStarted
        runningBaseline = s.runningBaseline
        rng = s.rng
        warmupSteps = s.warmupSteps
        stepsPerEpoch = s.stepsPerEpoch
        pathLearningRate = s.pathLearningRate
        sampling = s.sampling
        budget = s.budget
        costsPrunedArchitecture = s.costsPrunedArchitecture
        schedule = s.schedule
        epochTotals = s.epochTotals ?? EpochTotals()
        for g in optimizer.groups {
            g.momentum = s.momentum
            g.weightDecay = s.weightDecay
            g.nesterov = s.nesterov
            g.learningRate = s.schedule.value(at: epoch)
        }
    }

    /// The network's tensors and the optimizer's velocities ("velocity.<g>.<i>").
    public var stateTensors: [(name: String, tensor: Tensor)] {
        var all = network.stateTensors
        for (g, group) in optimizer.velocities.enumerated() {
            for (i, v) in group.enumerated() { all.append(("velocity.\(g).\(i)", v)) }
        }
        return all
    }
}
