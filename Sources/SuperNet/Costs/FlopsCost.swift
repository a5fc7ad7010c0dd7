import Foundation
import Interface
import Layers
import Tensor

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
                let coarse = upsamplingAtCoarseResolution && node.module?.kind == .upConv
                total += coarse ? node.multiplyAccumulates / 4 : node.multiplyAccumulates
            case .aggregation: total += node.shape.elements * max(0, node.inputs.filter { active.contains($0) }.count - 1)
            case .input, .identity: break
            }
        }
        return Double(total)
    }
}

extension FlopsCost {
    /// `flops`: multiply-accumulates per image.
    public struct Choice: CostChoice {
        public static let word = "flops"
        public static let summary = "multiply-accumulates per image"
        public init() {}
        public init(_ arguments: inout Arguments) throws {}
        public var name: String { Self.word }
        public func make(for network: SuperNetwork) throws -> any Cost { FlopsCost(network) }
        public static func listed(for network: SuperNetwork, _ listing: CostListing) -> [any Cost] { [FlopsCost(network)] }
    }
}
