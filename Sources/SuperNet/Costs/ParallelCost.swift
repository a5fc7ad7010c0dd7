import Foundation
import HeapModule
import Interface
import Layers
import Tensor

/// The distributed computation cost: sequential steps to run the active
/// architecture on `machines` machines under an allocation algorithm.
/// Every module, sum and output uses one machine; identity nodes use none but
/// their successors still wait for the next step; a step in which no machine
/// worked is not counted. Results are cached per architecture.
public final class ParallelCost: Cost {
    public enum Allocation: String, Codable, Sendable, CaseIterable {
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
    ///
    /// List scheduling: at each step the ready nodes (every active
    /// predecessor finished in an earlier step) are taken in priority order
    /// until the machines are used; identity nodes take no machine. The ready
    /// nodes wait in a heap keyed by their rank in the priority order, so a
    /// schedule takes O((n + e) log n) for n active nodes and e edges.
    public func schedule(_ architecture: Architecture) -> (steps: Int, stepOf: [Int: Int]) {
        let active = architecture.active
        var order = active.members.filter { $0 != network.inputNode }
        if allocation == .criticalPath {
            let priority = remainingPath
            order.sort { (priority[$0], -$0) > (priority[$1], -$1) }
        }
        var rank = [Int](repeating: -1, count: network.nodes.count)
        for (k, node) in order.enumerated() { rank[node] = k }
        // Active predecessors not finished yet (each counted once); the input is finished before step 0.
        var waiting = [Int](repeating: 0, count: network.nodes.count)
        var ready = Heap<Int>()
        for node in order {
            waiting[node] = distinct(network.nodes[node].inputs).filter { active.contains($0) && $0 != network.inputNode }.count
            if waiting[node] == 0 { ready.insert(rank[node]) }
        }
        var steps = 0, stepOf = [Int: Int](), scheduled = [Int](), left = order.count
        while left > 0 {
            precondition(!ready.isEmpty, "list scheduling made no progress")
            var used = 0
            scheduled.removeAll(keepingCapacity: true)
            while used < machines, let k = ready.popMin() {
                let node = order[k]
                scheduled.append(node)
                stepOf[node] = steps
                if network.nodes[node].computes { used += 1 }
            }
            // Their successors can run from the next step.
            for node in scheduled {
                for next in distinct(network.nodes[node].outputs) where rank[next] >= 0 {
                    waiting[next] -= 1
                    if waiting[next] == 0 { ready.insert(rank[next]) }
                }
            }
            left -= scheduled.count
            if used > 0 { steps += 1 }
        }
        return (steps, stepOf)
    }

    /// The members of a node's short edge list, once each.
    private func distinct(_ nodes: [Int]) -> [Int] {
        nodes.count < 2 ? nodes : nodes.enumerated().filter { k, n in !nodes[..<k].contains(n) }.map(\.element)
    }
}

extension ParallelCost {
    /// `parallel <n> [allocation=reference|critical-path]`: steps of the list schedule on n machines.
    public struct Choice: CostChoice {
        public static let word = "parallel"
        public static let arguments = "<n> [allocation=reference|critical-path]"
        public static let summary = "steps of the list schedule on n machines (allocation: the network's order, or longest path first)"
        public static let completions = ["allocation="]
        public var machines: Int
        /// Absent in sessions saved before allocations were a choice: the reference order.
        public var allocation: Allocation?

        public init(machines: Int, allocation: Allocation = .reference) {
            self.machines = machines
            self.allocation = allocation
        }

        public init(_ arguments: inout Arguments) throws {
            let w = try arguments.required("the number of machines (e.g. budget parallel 4 30 lambda=0.01)")
            guard let n = parseWhole(w), (1...ParallelCost.maxMachines).contains(n) else {
                throw UsageError("\(arguments.command) parallel: the number of machines must be a whole number in 1…\(ParallelCost.maxMachines), got '\(w)'")
            }
            machines = n
            allocation = try arguments.choice("allocation") ?? .reference
        }

        public var name: String { "parallel-\(machines)" + ((allocation ?? .reference) == .reference ? "" : "-cp") }

        public func make(for network: SuperNetwork) throws -> any Cost {
            guard (1...ParallelCost.maxMachines).contains(machines) else {
                throw ShapeError("parallel cost: \(machines) machines (1…\(ParallelCost.maxMachines))")
            }
            return ParallelCost(network, machines: machines, allocation: allocation ?? .reference)
        }

        public var boundedParameters: [(key: String, value: Int, bounds: ClosedRange<Int>)] { [("machines", machines, 1...ParallelCost.maxMachines)] }

        public static func listed(for network: SuperNetwork, _ listing: CostListing) -> [any Cost] {
            listing.machines.map { ParallelCost(network, machines: $0, allocation: listing.allocation) }
        }
    }
}
