import Foundation
import Interface
import Layers
import Tensor

/// Trainable parameters of the active modules.
public final class ParameterCost: Cost {
    public let network: SuperNetwork
    public init(_ network: SuperNetwork) { self.network = network }
    public var name: String { "params" }
    public var unit: String { "params" }
    public func nodeCost(_ node: SuperNetwork.Node) -> Double { Double(node.parameterCount) }
    public func cost(of architecture: Architecture) -> Double {
        Double(architecture.active.members.reduce(0) { $0 + network.nodes[$1].parameterCount })
    }
}

extension ParameterCost {
    /// `params`: trainable parameters of the kept modules.
    public struct Choice: CostChoice {
        public static let word = "params"
        public static let summary = "trainable parameters"
        public init() {}
        public init(_ arguments: inout Arguments) throws {}
        public var name: String { Self.word }
        public func make(for network: SuperNetwork) throws -> any Cost { ParameterCost(network) }
        public static func listed(for network: SuperNetwork, _ listing: CostListing) -> [any Cost] { [ParameterCost(network)] }
    }
}
