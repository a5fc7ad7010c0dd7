import Foundation
import Interface
import Layers
import Tensor

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
    public var counts: CostUnit { .milliseconds }
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

extension TimeCost {
    /// `time`: per-module latency measured on this machine, ms per image.
    public struct Choice: CostChoice {
        public static let word = "time"
        public var unit: CostUnit { .milliseconds }
        public static let summary = "latency of the kept modules, measured now on this machine (ms per image)"
        /// Per-node latencies, as measured when the budget was set (nil: measure).
        public var latency: [Double]?
        public init() {}
        public init(_ arguments: inout Arguments) throws {}
        public var name: String { Self.word }

        public mutating func make(for network: SuperNetwork) throws -> any Cost {
            let cost = TimeCost(network)
            if let latency { try cost.restore(latency: latency) } else { try cost.measure() }
            latency = cost.latency
            return cost
        }

        public var boundedParameters: [(key: String, value: Int, bounds: ClosedRange<Int>)] {
            latency.map { [("latency (count)", $0.count, 0...10_000_000)] } ?? []
        }
    }
}
