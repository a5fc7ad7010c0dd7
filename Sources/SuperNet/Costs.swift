import Foundation
import Layers
import Tensor

/// A cost of a pruned architecture C(H ⊙ E). Costs are pluggable: several
/// can be reported while one is optimised. An inconsistent architecture
/// (no input → output path) costs 0.
public protocol Cost: AnyObject {
    /// "flops", "params", "parallel-2", "time".
    var name: String { get }
    /// "MAC", "params", "steps", "ms".
    var unit: String { get }
    func cost(of architecture: Architecture) -> Double
}

/// Multiply-accumulates per example: active modules (conv: Cin·Cout·Hout·Wout·k·k,
/// linear: in·out) plus aggregations (elements · (active inputs − 1)).
public final class FlopsCost: Cost {
    public let network: SuperNetwork
    /// The reference implementation charges an upsampling convolution at the
    /// coarse resolution, a quarter of what it executes; true reproduces that.
    public var upsamplingAtCoarseResolution = false
    public init(_ network: SuperNetwork) { self.network = network }
    public var name: String { "flops" }
    public var unit: String { "MAC" }

    public func cost(of architecture: Architecture) -> Double {
        let active = architecture.active
        var total = 0
        for i in active.members {
            let node = network.nodes[i]
            switch node.role {
            case .module, .output:
                let coarse = upsamplingAtCoarseResolution && node.module?.kind == "up-conv"
                total += coarse ? node.multiplyAccumulates / 4 : node.multiplyAccumulates
            case .aggregation: total += node.shape.elements * max(0, node.inputs.filter { active.contains($0) }.count - 1)
            case .input, .identity: break
            }
        }
        return Double(total)
    }
}

/// Trainable parameters of the active modules.
public final class ParameterCost: Cost {
    public let network: SuperNetwork
    public init(_ network: SuperNetwork) { self.network = network }
    public var name: String { "params" }
    public var unit: String { "params" }
    public func cost(of architecture: Architecture) -> Double {
        Double(architecture.active.members.reduce(0) { $0 + network.nodes[$1].parameterCount })
    }
}

/// The distributed computation cost: sequential steps to run the active
/// architecture on `machines` machines under an allocation algorithm.
/// Every module, sum and output uses one machine; identity nodes use none but
/// their successors still wait for the next step; a step in which no machine
/// worked is not counted. Results are cached per architecture.
public final class ParallelCost: Cost {
    public enum Allocation: String, Codable, Sendable {
        /// List scheduling in the network's fixed order (reverse DFS post-order), as the reference.
        case reference
        /// List scheduling by longest remaining path first.
        case criticalPath = "critical-path"
    }

    public let network: SuperNetwork
    public let machines: Int
    /// The most machines a parallel cost takes (a bound for user input and session files).
    public static let maxMachines = 1_000_000
    public let allocation: Allocation
    private var cache: [NodeSet: Int] = [:]
    private let lock = NSLock()
    /// Longest path (in machine-using nodes) from each node to the output.
    private lazy var remainingPath: [Int] = {
        var length = [Int](repeating: 0, count: network.nodes.count)
        for i in network.nodes.indices.reversed() {
            let tail = network.nodes[i].outputs.map { length[$0] }.max() ?? 0
            length[i] = tail + (network.nodes[i].computes ? 1 : 0)
        }
        return length
    }()

    public init(_ network: SuperNetwork, machines: Int, allocation: Allocation = .reference) {
        precondition(machines >= 1)
        self.network = network
        self.machines = machines
        self.allocation = allocation
    }

    public var name: String { "parallel-\(machines)" + (allocation == .reference ? "" : "-cp") }
    public var unit: String { "steps" }

    public func cost(of architecture: Architecture) -> Double {
        let key = architecture.active
        if let cached = lock.withLock({ cache[key] }) { return Double(cached) }
        let steps = schedule(architecture).steps
        lock.withLock { cache[key] = steps }
        return Double(steps)
    }

    /// The step at which each active node runs (the "allocation" view), and the step count.
    public func schedule(_ architecture: Architecture) -> (steps: Int, stepOf: [Int: Int]) {
        let active = architecture.active
        var remaining = active.members.filter { $0 != network.inputNode }
        if allocation == .criticalPath {
            let priority = remainingPath
            remaining.sort { (priority[$0], -$0) > (priority[$1], -$1) }
        }
        var done = NodeSet(count: network.nodes.count)
        done.insert(network.inputNode)
        var steps = 0, stepOf = [Int: Int]()
        while !remaining.isEmpty {
            var used = 0, scheduled = [Int]()
            for node in remaining {
                if used >= machines { break }
                // Ready when every active predecessor finished in an earlier step.
                if network.nodes[node].inputs.allSatisfy({ !active.contains($0) || done.contains($0) }) {
                    scheduled.append(node)
                    stepOf[node] = steps
                    if network.nodes[node].computes { used += 1 }
                }
            }
            precondition(!scheduled.isEmpty, "list scheduling made no progress")
            for node in scheduled { done.insert(node) }
            let scheduledSet = Set(scheduled)
            remaining.removeAll { scheduledSet.contains($0) }
            if used > 0 { steps += 1 }
        }
        return (steps, stepOf)
    }
}

/// Measured latency: each module's forward time per example on this machine
/// with this engine (inference mode), summed over the active modules.
public final class TimeCost: Cost {
    public let network: SuperNetwork
    /// Milliseconds per example, per node (0 for nodes that are not modules).
    public private(set) var latency: [Double]

    public init(_ network: SuperNetwork) {
        self.network = network
        latency = [Double](repeating: 0, count: network.nodes.count)
    }

    public var name: String { "time" }
    public var unit: String { "ms" }
    public var isMeasured: Bool { latency.contains { $0 > 0 } }

    /// Puts back latencies measured earlier (a saved session), one per node.
    public func restore(latency saved: [Double]) throws {
        guard saved.count == network.nodes.count else {
            throw ShapeError("time cost: \(saved.count) latencies for \(network.nodes.count) nodes")
        }
        guard saved.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw ShapeError("time cost: a latency is negative or not a number") }
        latency = saved
    }

    /// Times every module on random inputs of `batch` examples (median of runs).
    public func measure(batch: Int = 16, seed: UInt64 = 17) throws {
        var rng = RNG(seed: seed)
        for (i, node) in network.nodes.enumerated() {
            guard let module = node.module else { continue }
            let x = Tensor(shape: network.nodes[node.inputs[0]].shape.batch(batch))
            rng.fillUniform(x, -1, 1)
            _ = try module.forward(x, training: false)
            var samples = [Double]()
            for _ in 0..<5 {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try module.forward(x, training: false)
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            latency[i] = samples.sorted()[samples.count / 2] / Double(batch)
        }
    }

    public func cost(of architecture: Architecture) -> Double {
        architecture.active.members.reduce(0) { $0 + latency[$1] }
    }
}

/// One cost of the current state: the whole super network, the expectation
/// under Γ (Monte Carlo), the mean over the architectures sampled in the last
/// batch, and the deterministic architecture.
public struct CostReport: Codable, Equatable, Sendable {
    public let name: String, unit: String
    public let full: Double, expected: Double, deterministic: Double
    public let sampledMean: Double?
}

extension SuperNetwork {
    /// Draws one architecture per gate sample: h_k ~ Bernoulli(p_k).
    public func sampleArchitecture(_ probabilities: [Float], rng: inout RNG) -> Architecture {
        architecture(gates: probabilities.map { rng.bernoulli($0) })
    }

    /// Reports `cost` for the current gate distribution. The Monte Carlo
    /// estimate uses its own fixed-seed generator, so asking for a report
    /// never changes the training's random stream.
    public func report(_ cost: any Cost, sampled: [Architecture]? = nil, samples: Int = 256) -> CostReport {
        var rng = RNG(seed: 0x5EED)
        let p = keepProbabilities
        var total = 0.0
        for _ in 0..<samples { total += cost.cost(of: sampleArchitecture(p, rng: &rng)) }
        let mean = sampled.flatMap { $0.isEmpty ? nil : $0.reduce(0) { $0 + cost.cost(of: $1) } / Double($0.count) }
        return CostReport(name: cost.name, unit: cost.unit, full: cost.cost(of: fullArchitecture),
                          expected: total / Double(samples), deterministic: cost.cost(of: deterministicArchitecture),
                          sampledMean: mean)
    }
}
