import Tensor

/// Parameters that share optimisation settings (e.g. weights vs. gate logits).
public final class ParameterGroup {
    public let name: String
    public let parameters: [Parameter]
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    public var nesterov: Bool

    public init(name: String, parameters: [Parameter], learningRate: Float,
                momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false) {
        self.name = name
        self.parameters = parameters
        (self.learningRate, self.momentum, self.weightDecay, self.nesterov) = (learningRate, momentum, weightDecay, nesterov)
    }
}

/// Stochastic gradient descent with momentum (PyTorch's formulation):
///
///     g ← ∇ + wd·w;   v ← μ·v + g;   w ← w − lr·(nesterov ? g + μ·v : v)
///
/// Each group has its own learning rate, momentum and decay. The velocity
/// buffers are allocated on the first step and reused.
public final class SGD {
    public let groups: [ParameterGroup]
    /// One velocity per parameter, in group order.
    public private(set) var velocities: [[Tensor]]

    public init(groups: [ParameterGroup]) {
        self.groups = groups
        velocities = groups.map { $0.parameters.map { Tensor(shape: $0.value.shape) } }
    }

    /// Applies one update from the current gradients (which are left as they are).
    public func step() {
        for (g, group) in groups.enumerated() {
            let (lr, mu, wd, nesterov) = (group.learningRate, group.momentum, group.weightDecay, group.nesterov)
            for (i, parameter) in group.parameters.enumerated() {
                let w = parameter.value.data, grad = parameter.gradient.data, v = velocities[g][i].data
                for j in 0..<parameter.count {
                    let d = grad[j] + wd * w[j]
                    if mu == 0 {
                        w[j] -= lr * d
                    } else {
                        v[j] = mu * v[j] + d
                        w[j] -= lr * (nesterov ? d + mu * v[j] : v[j])
                    }
                }
            }
        }
    }

    /// What `step()` would do, without doing it: the gradients' squared norm
    /// (Σ ∇², in Double) and whether every updated weight and velocity would
    /// be finite. The trainer calls it before each step so that a diverging
    /// step is refused and the last finite weights are kept.
    public func inspectUpdate() -> (gradientSquaredNorm: Double, finite: Bool) {
        var norm = 0.0, probe: Float = 0
        for (g, group) in groups.enumerated() {
            let (lr, mu, wd, nesterov) = (group.learningRate, group.momentum, group.weightDecay, group.nesterov)
            for (i, parameter) in group.parameters.enumerated() {
                let w = parameter.value.data, grad = parameter.gradient.data, v = velocities[g][i].data
                var squares: Float = 0
                for j in 0..<parameter.count {
                    let d = grad[j] + wd * w[j]
                    let velocity = mu == 0 ? d : mu * v[j] + d
                    let weight = w[j] - lr * (mu == 0 ? d : nesterov ? d + mu * velocity : velocity)
                    squares += grad[j] * grad[j]
                    // x − x is 0 for a finite x and NaN for ±inf or NaN: no branch in the loop.
                    probe += (weight - weight) + (velocity - velocity)
                }
                norm += Double(squares)
            }
        }
        return (norm, probe == 0)
    }

    /// Zeroes the gradient of every parameter of every group.
    public func zeroGradients() {
        for group in groups { for parameter in group.parameters { parameter.zeroGradient() } }
    }
}

/// A piecewise-constant schedule: `initial` until the first change, then each
/// change's value from its step or epoch on ("0.1 @150:0.01 @225:0.001").
public struct PiecewiseConstantSchedule: Codable, Equatable, Sendable {
    public struct Change: Codable, Equatable, Sendable {
        public let at: Int
        public let value: Float
        public init(at: Int, value: Float) { (self.at, self.value) = (at, value) }
    }

    public let initial: Float
    public let changes: [Change]

    public init(initial: Float, changes: [Change] = []) {
        self.initial = initial
        self.changes = changes.sorted { $0.at < $1.at }
    }

    /// The value in force at `time` (an epoch or step index, from 0).
    public func value(at time: Int) -> Float {
        changes.last { $0.at <= time }?.value ?? initial
    }
}
