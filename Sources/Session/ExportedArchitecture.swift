import Foundation
import SuperNet

/// `export arch`: the deterministic architecture of a session as JSON — the
/// fabric it comes from, its gates, its nodes (type, shape, parameters,
/// multiply-accumulates) and edges after pruning, and its costs. `build from`
/// reads it back as a fixed baseline (the same fabric with these gates fixed).
public struct ExportedArchitecture: Codable, Equatable, Sendable {
    public struct Node: Codable, Equatable, Sendable {
        public let name: String, type: String, shape: [Int], params: Int, flops: Int
    }
    public var format = "bsn-architecture"
    public var version = 1
    public let fabric: Fabric
    public let gates: [Bool]
    public let nodes: [Node]
    /// Pairs of node names, from → to.
    public let edges: [[String]]
    /// Cost name → value of this architecture.
    public let costs: [String: Double]
    public let dataset: String?

    public init(network net: SuperNetwork, fabric: Fabric, dataset: String?) {
        let gates = net.keepProbabilities.map { $0 > 0.5 }
        let arch = net.architecture(gates: gates)
        self.fabric = fabric
        self.gates = gates
        let active = net.nodes.indices.filter { arch.active.contains($0) }
        nodes = active.map { i in
            let n = net.nodes[i]
            return Node(name: n.name, type: n.module?.kind ?? n.role.rawValue, shape: [n.shape.height, n.shape.width, n.shape.channels],
                        params: n.parameterCount, flops: n.multiplyAccumulates)
        }
        edges = active.flatMap { j in net.nodes[j].inputs.filter { arch.active.contains($0) }.map { [net.nodes[$0].name, net.nodes[j].name] } }
        var costs = [String: Double]()
        for c in [FlopsCost(net), ParameterCost(net), ParallelCost(net, machines: 1), ParallelCost(net, machines: 2), ParallelCost(net, machines: 4)] as [any Cost] {
            costs[c.name] = c.cost(of: arch)
        }
        self.costs = costs
        self.dataset = dataset
    }

    public func write(to path: String) throws {
        do { try SessionJSON.encoder(pretty: true).encode(self).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw SessionError("\(path): cannot write (\(error.localizedDescription))")
        }
    }

    public static func read(_ path: String) throws -> ExportedArchitecture {
        let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
        let data = try CheckedFile.readPlain(url, limit: 64 << 20)
        guard let a = try? SessionJSON.decoder().decode(ExportedArchitecture.self, from: data), a.format == "bsn-architecture" else {
            throw SessionError("\(url.path): not an architecture written by export arch")
        }
        guard a.version <= 1 else { throw SessionError("\(url.path): format version \(a.version) is newer than this bsn reads") }
        // Untrusted input: the fabric's bounds are checked here, its memory when it is built.
        do { try a.fabric.validate() } catch { throw SessionError("\(url.path): fabric: \(error)") }
        guard !a.nodes.isEmpty, a.gates.count <= 10_000_000 else {
            throw SessionError("\(url.path): an empty architecture (no input → output path)")
        }
        return a
    }
}
