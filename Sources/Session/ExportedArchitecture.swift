import Files
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

    /// The deterministic architecture of `net` (gates with p > 0.5).
    public init(network net: SuperNetwork, fabric: Fabric, dataset: String?) {
        self.init(network: net, gates: net.keepProbabilities.map { $0 > 0.5 }, fabric: fabric, dataset: dataset)
    }

    /// The architecture of `net` with these gates.
    public init(network net: SuperNetwork, gates: [Bool], fabric: Fabric, dataset: String?) {
        let arch = net.architecture(gates: gates)
        self.fabric = fabric
        self.gates = gates
        let active = net.nodes.indices.filter { arch.active.contains($0) }
        nodes = active.map { i in
            let n = net.nodes[i]
            return Node(name: n.name, type: n.module?.kind.rawValue ?? n.role.rawValue, shape: [n.shape.height, n.shape.width, n.shape.channels],
                        params: n.parameterCount, flops: n.multiplyAccumulates)
        }
        edges = active.flatMap { j in net.nodes[j].inputs.filter { arch.active.contains($0) }.map { [net.nodes[$0].name, net.nodes[j].name] } }
        var costs = [String: Double]()
        for c in CostChoices.listed(for: net, CostListing(machines: [1, 2, 4])) {
            costs[c.name] = c.cost(of: arch)
        }
        self.costs = costs
        self.dataset = dataset
    }

    /// Writes the JSON atomically (never through a link, never onto a device).
    public func write(to path: String) throws -> AtomicFile.Written {
        do { return try AtomicFile.write(try SessionJSON.encoder(pretty: true).encode(self), to: path) } catch let e as FileError {
            throw SessionError(e.description)
        } catch {
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
        for e in a.edges {
            guard e.count == 2 else { throw SessionError("\(url.path): an edge is a pair of node names, got \(e)") }
            guard e[0] != e[1] else { throw SessionError("\(url.path): edge \(e[0]) → \(e[1]) is a self-loop") }
        }
        return a
    }

    /// Checks that the file's nodes and edges are those its fabric has with
    /// its gates (`expected`, made from the fabric built): what a file edited
    /// by hand says must be what is trained, or it is refused with the first difference.
    func checkAgrees(with expected: ExportedArchitecture, file: String) throws {
        let types = Dictionary(expected.nodes.map { ($0.name, $0.type) }, uniquingKeysWith: { a, _ in a })
        let listed = Set(nodes.map(\.name))
        for n in nodes {
            guard let type = types[n.name] else {
                throw SessionError("\(file): node '\(n.name)' is not in \(fabric.summary)'s architecture with these gates")
            }
            guard type == n.type else { throw SessionError("\(file): node '\(n.name)' is a \(type) in \(fabric.summary), the file says \(n.type)") }
        }
        if let missing = expected.nodes.first(where: { !listed.contains($0.name) }) {
            throw SessionError("\(file): node '\(missing.name)' of \(fabric.summary) with these gates is missing from the file")
        }
        let edges = Set(edges.map { $0.joined(separator: " → ") }), wanted = Set(expected.edges.map { $0.joined(separator: " → ") })
        if let extra = edges.subtracting(wanted).sorted().first {
            throw SessionError("\(file): edge \(extra) is not in \(fabric.summary)'s architecture with these gates")
        }
        if let missing = wanted.subtracting(edges).sorted().first {
            throw SessionError("\(file): edge \(missing) of \(fabric.summary) with these gates is missing from the file")
        }
    }
}
