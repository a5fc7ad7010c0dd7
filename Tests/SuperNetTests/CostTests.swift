import SuperNet
import Tensor
import TestSupport
import XCTest

final class CostTests: XCTestCase {
    /// x → a (conv 2→4, 4x4) → s ← b (conv 2→4) ; s → m (conv 4→4, stride 2) → out (linear 4→3).
    private func smallNetwork() throws -> SuperNetwork {
        var rng = RNG(seed: 1)
        var b = GraphBuilder(inputShape: FeatureShape(height: 4, width: 4, channels: 2))
        b.add("x", .input)
        b.add("a", .module, module: ConvBN(2, 4, rng: &rng, context: makeContext()), gated: true, inputs: ["x"])
        b.add("b", .module, module: ConvBN(2, 4, rng: &rng, context: makeContext()), gated: true, inputs: ["x"])
        b.add("s", .aggregation, inputs: ["a", "b"])
        b.add("m", .module, module: ConvBN(4, 4, stride: 2, rng: &rng, context: makeContext()), gated: true, inputs: ["s"])
        b.add("out", .output, module: PooledLinear(4, classes: 3, rng: &rng), inputs: ["m"])
        return try b.build()
    }

    func testFlopsAndParamsOfHandBuiltGraphs() throws {
        let net = try smallNetwork()
        let flops = FlopsCost(net), params = ParameterCost(net)
        // a, b: 2·4·(4·4)·9 = 1152 each; sum: 4·4·4 elements · (2−1) = 64; m: 4·4·(2·2)·9 = 576; out: 12.
        XCTAssertEqual(flops.cost(of: net.fullArchitecture), 1152 + 1152 + 64 + 576 + 12)
        // Gates in insertion order: a, b, m. With b off the sum has one input and costs nothing.
        XCTAssertEqual(flops.cost(of: net.architecture(gates: [true, false, true])), 1152 + 576 + 12)
        // a, b: 72 weights + 4 bias + 8 batch norm = 84; m: 144 + 4 + 8 = 156; out: 12 + 3 = 15.
        XCTAssertEqual(params.cost(of: net.fullArchitecture), 84 + 84 + 156 + 15)
        XCTAssertEqual(params.cost(of: net.architecture(gates: [false, true, true])), 84 + 156 + 15)
        // m off: no path; an inconsistent architecture costs 0.
        let broken = net.architecture(gates: [true, true, false])
        XCTAssertFalse(broken.isConsistent)
        XCTAssertEqual(flops.cost(of: broken), 0)
        XCTAssertEqual(params.cost(of: broken), 0)
    }

    func testPruningKeepsOnlyModulesOnSwitchedOnPaths() throws {
        var rng = RNG(seed: 2)
        // x → a → s1 → c → s2 → out, and x → b → s2; d hangs off s1 into s2 as well.
        var builder = GraphBuilder(inputShape: FeatureShape(height: 2, width: 2, channels: 2))
        builder.add("x", .input)
        builder.add("a", .module, module: ConvBN(2, 2, rng: &rng, context: makeContext()), gated: true, inputs: ["x"])
        builder.add("s1", .aggregation, inputs: ["a"])
        builder.add("c", .module, module: ConvBN(2, 2, rng: &rng, context: makeContext()), gated: true, inputs: ["s1"])
        builder.add("b", .module, module: ConvBN(2, 2, rng: &rng, context: makeContext()), gated: true, inputs: ["x"])
        builder.add("s2", .aggregation, inputs: ["c", "b"])
        builder.add("out", .output, module: PooledLinear(2, classes: 2, rng: &rng), inputs: ["s2"])
        let net = try builder.build()
        func active(_ gates: [Bool]) -> Set<String> { Set(net.architecture(gates: gates).active.members.map { net.nodes[$0].name }) }
        // Gates: a, c, b. With c off, a and s1 reach no output: they are pruned.
        XCTAssertEqual(active([true, false, true]), ["x", "b", "s2", "out"])
        // With a off, c is on but unreachable: pruned.
        XCTAssertEqual(active([false, true, true]), ["x", "b", "s2", "out"])
        XCTAssertEqual(active([true, true, false]), ["x", "a", "s1", "c", "s2", "out"])
        XCTAssertTrue(active([false, true, false]).isEmpty, "no path: inconsistent")
    }

    func testParallelCostOfTheCNFBaselineMatchesThePaper() throws {
        var rng = RNG(seed: 3)
        let net = try Fabric.cnf(columns: 8, scales: 6, channels: 8, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 32, width: 32, channels: 3), classes: 10, rng: &rng, context: makeContext())
        // The seed's tables: CNF W=8 on 32x32 takes 171 / 90 / 53 sequential steps on 1 / 2 / 4 machines.
        for (machines, steps) in [(1, 171), (2, 90), (4, 53)] {
            XCTAssertEqual(ParallelCost(net, machines: machines).cost(of: net.fullArchitecture), Double(steps), "n=\(machines)")
            let better = ParallelCost(net, machines: machines, allocation: .criticalPath).cost(of: net.fullArchitecture)
            XCTAssertLessThanOrEqual(better, Double(steps))
        }
        // A chain has no parallelism: W=1 is the stem, 5 links and 5 sums, the output: 12 steps (the seed's CNF W=1).
        let chain = try Fabric.cnf(columns: 1, scales: 6, channels: 8, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 32, width: 32, channels: 3), classes: 10, rng: &rng, context: makeContext())
        XCTAssertEqual(ParallelCost(chain, machines: 4).cost(of: chain.fullArchitecture), 12)
    }

    func testFigure8MoreModulesCanTakeFewerSteps() throws {
        var rng = RNG(seed: 4)
        // Two branches from the input into a pass-through output (no machine).
        func branches(_ lengths: [Int]) throws -> SuperNetwork {
            var b = GraphBuilder(inputShape: FeatureShape(height: 2, width: 2, channels: 2))
            b.add("x", .input)
            var ends = [String]()
            for (k, length) in lengths.enumerated() {
                var previous = "x"
                for step in 0..<length {
                    let name = "m\(k)_\(step)"
                    b.add(name, .module, module: ConvBN(2, 2, rng: &rng, context: makeContext()), gated: true, inputs: [previous])
                    previous = name
                }
                ends.append(previous)
            }
            b.add("out", .output, inputs: ends)
            return try b.build()
        }
        let blue = try branches([6, 3]), red = try branches([5, 5])
        XCTAssertEqual(blue.nodes.filter { $0.role == .module }.count, 9)
        XCTAssertEqual(red.nodes.filter { $0.role == .module }.count, 10)
        XCTAssertEqual(ParallelCost(blue, machines: 2).cost(of: blue.fullArchitecture), 6)
        XCTAssertEqual(ParallelCost(red, machines: 2).cost(of: red.fullArchitecture), 5)
        XCTAssertEqual(FlopsCost(red).cost(of: red.fullArchitecture) > FlopsCost(blue).cost(of: blue.fullArchitecture), true)
    }

    func testParallelScheduleNeverRunsANodeBeforeItsInputs() throws {
        var rng = RNG(seed: 5)
        let net = try Fabric.resnet(groups: 3, blocks: 2, shortcuts: true, gated: true)
            .build(input: FeatureShape(height: 8, width: 8, channels: 3), classes: 2, rng: &rng, context: makeContext())
        for allocation in [ParallelCost.Allocation.reference, .criticalPath] {
            let cost = ParallelCost(net, machines: 3, allocation: allocation)
            let arch = net.sampleArchitecture([Float](repeating: 0.7, count: net.gateCount), rng: &rng)
            let (steps, stepOf) = cost.schedule(arch)
            // A step in which only identity nodes ran is not counted, so an identity node shares
            // its index with the next step; computing inputs always finish in an earlier step.
            for (node, step) in stepOf {
                for input in net.nodes[node].inputs where stepOf[input] != nil {
                    if net.nodes[input].computes { XCTAssertLessThan(stepOf[input]!, step) } else { XCTAssertLessThanOrEqual(stepOf[input]!, step) }
                }
            }
            var perStep = [Int: Int]()
            for (node, step) in stepOf where net.nodes[node].computes { perStep[step, default: 0] += 1 }
            XCTAssertTrue(perStep.values.allSatisfy { $0 <= 3 })
            XCTAssertLessThanOrEqual(steps, arch.active.members.filter { net.nodes[$0].computes }.count)
        }
    }

    /// The list schedule as the paper states it, step by step: scan every waiting node in priority order,
    /// take the ready ones until the machines are used. Quadratic; the heap-based schedule must equal it.
    private func plainSchedule(_ net: SuperNetwork, _ arch: Architecture, machines: Int, order: [Int]) -> (Int, [Int: Int]) {
        var remaining = order, done = NodeSet(count: net.nodes.count), steps = 0, stepOf = [Int: Int]()
        done.insert(net.inputNode)
        while !remaining.isEmpty {
            var used = 0, scheduled = [Int]()
            for node in remaining {
                if used >= machines { break }
                if net.nodes[node].inputs.allSatisfy({ !arch.active.contains($0) || done.contains($0) }) {
                    scheduled.append(node)
                    stepOf[node] = steps
                    if net.nodes[node].computes { used += 1 }
                }
            }
            for node in scheduled { done.insert(node) }
            remaining.removeAll { scheduled.contains($0) }
            if used > 0 { steps += 1 }
        }
        return (steps, stepOf)
    }

    func testTheHeapScheduleEqualsTheStepByStepListSchedule() throws {
        var rng = RNG(seed: 9)
        let nets = [try Fabric.cnf(columns: 4, scales: 4, channels: 4, segmentation: false, gated: true)
                        .build(input: FeatureShape(height: 16, width: 16, channels: 3), classes: 3, rng: &rng, context: makeContext()),
                    try Fabric.resnet(groups: 3, blocks: 3, shortcuts: true, gated: true)
                        .build(input: FeatureShape(height: 8, width: 8, channels: 3), classes: 2, rng: &rng, context: makeContext())]
        for net in nets {
            // Longest path to the output, in computing nodes (the critical-path priority).
            var length = [Int](repeating: 0, count: net.nodes.count)
            for i in net.nodes.indices.reversed() { length[i] = (net.nodes[i].outputs.map { length[$0] }.max() ?? 0) + (net.nodes[i].computes ? 1 : 0) }
            for trial in 0..<60 {
                let arch = trial == 0 ? net.fullArchitecture : net.sampleArchitecture([Float](repeating: 0.75, count: net.gateCount), rng: &rng)
                guard arch.isConsistent else { continue }
                for machines in [1, 2, 3, 8] {
                    for allocation in [ParallelCost.Allocation.reference, .criticalPath] {
                        var order = arch.active.members.filter { $0 != net.inputNode }
                        if allocation == .criticalPath { order.sort { (length[$0], -$0) > (length[$1], -$1) } }
                        let (steps, stepOf) = ParallelCost(net, machines: machines, allocation: allocation).schedule(arch)
                        let expected = plainSchedule(net, arch, machines: machines, order: order)
                        XCTAssertEqual(steps, expected.0, "\(machines) machines, \(allocation)")
                        XCTAssertEqual(stepOf, expected.1, "\(machines) machines, \(allocation)")
                    }
                }
            }
        }
    }

    func testReportGivesFullExpectedAndDeterministicCosts() throws {
        let net = try smallNetwork()
        // p = sigmoid(3) ≈ 0.95 for all gates at start; push gate b off.
        net.gateLogits.value[1] = -5
        let report = net.report(FlopsCost(net))
        XCTAssertEqual(report.full, 2956)
        XCTAssertEqual(report.deterministic, 1152 + 576 + 12)
        XCTAssertGreaterThan(report.expected, 0)
        XCTAssertLessThan(report.expected, report.full)
        XCTAssertEqual(net.report(FlopsCost(net)), report, "the Monte Carlo estimate is reproducible")
    }
}

final class TimeCostTests: XCTestCase {
    func testMeasuredLatenciesAddUpOverActiveModules() throws {
        var rng = RNG(seed: 6)
        let net = try Fabric.cnf(columns: 3, scales: 3, channels: 8, segmentation: false, gated: true)
            .build(input: FeatureShape(height: 8, width: 8, channels: 3), classes: 2, rng: &rng, context: makeContext())
        let time = TimeCost(net)
        XCTAssertFalse(time.isMeasured)
        try time.measure(batch: 4)
        XCTAssertTrue(time.isMeasured)
        for (i, node) in net.nodes.enumerated() {
            if node.module != nil { XCTAssertGreaterThan(time.latency[i], 0, node.name) } else { XCTAssertEqual(time.latency[i], 0) }
        }
        let full = time.cost(of: net.fullArchitecture)
        let part = net.architecture(gates: (0..<net.gateCount).map { $0 % 3 != 0 })
        let expected = part.active.members.reduce(0.0) { $0 + time.latency[$1] }
        XCTAssertEqual(time.cost(of: part), expected, accuracy: 1e-12)
        XCTAssertLessThan(time.cost(of: part), full)
    }
}

final class ReferenceOptionTests: XCTestCase {
    func testReferenceBehavioursCanBeReproduced() throws {
        var rng = RNG(seed: 8)
        // x → a → s1 → c → out-sum, x → b → out-sum (sink); gates a, c, b.
        var builder = GraphBuilder(inputShape: FeatureShape(height: 4, width: 4, channels: 2))
        builder.add("x", .input)
        builder.add("a", .module, module: ConvBN(2, 2, rng: &rng, context: makeContext()), gated: true, inputs: ["x"])
        builder.add("s1", .aggregation, inputs: ["a"])
        builder.add("c", .module, module: ConvBN(2, 2, upsample: true, rng: &rng, context: makeContext()), gated: true, inputs: ["s1"])
        builder.add("down", .module, module: ConvBN(2, 2, stride: 2, rng: &rng, context: makeContext()), gated: false, inputs: ["c"])
        builder.add("b", .module, module: ConvBN(2, 2, rng: &rng, context: makeContext()), gated: true, inputs: ["x"])
        builder.add("out", .output, inputs: ["down", "b"])
        let net = try builder.build()
        let flops = FlopsCost(net)
        // c upsamples 4x4 → 8x8 and convolves there: 2·2·64·9 = 2304 MACs; the reference charges a quarter.
        let full = flops.cost(of: net.fullArchitecture)
        flops.upsamplingAtCoarseResolution = true
        XCTAssertEqual(full - flops.cost(of: net.fullArchitecture), 2304 * 3 / 4)
        flops.upsamplingAtCoarseResolution = false

        // a off: c is on but unconnected. Pruned, it costs nothing; the reference costs it.
        let gates = [false, true, true]
        let pruned = net.architecture(gates: gates), unpruned = net.unprunedArchitecture(gates: gates)
        // Unpruned adds c (2304) and `down` (2·2·(4·4)·9 = 576); s1's only input is off: no sum cost.
        XCTAssertEqual(flops.cost(of: unpruned) - flops.cost(of: pruned), 2304 + 576)
        XCTAssertFalse(pruned.active.contains(net.index(of: "c")!))
        XCTAssertTrue(unpruned.active.contains(net.index(of: "c")!))

        let trainer = Trainer(network: net, task: .classification, optimisedCost: flops, seed: 1, context: makeContext())
        XCTAssertEqual(trainer.optimisedCostOf(pruned), flops.cost(of: pruned))
        trainer.costsPrunedArchitecture = false
        XCTAssertEqual(trainer.optimisedCostOf(pruned), flops.cost(of: unpruned))
        trainer.costsPrunedArchitecture = true

        // The inconsistent-sample penalty: on inconsistent samples, or (released code) on consistent ones.
        trainer.budget = Budget(limit: 0, lambda: 1, inconsistentPenalty: 100)
        let broken = net.architecture(gates: [true, true, false])        // b off; x → a → c → down → out is still a path
        let none = net.architecture(gates: [false, false, false])
        XCTAssertFalse(none.isConsistent)
        XCTAssertEqual(trainer.optimisedCostOf(none), 100)
        XCTAssertEqual(trainer.optimisedCostOf(broken), flops.cost(of: broken))
        trainer.budget!.penaltyOnConsistentSamples = true
        XCTAssertEqual(trainer.optimisedCostOf(none), 0)
        XCTAssertEqual(trainer.optimisedCostOf(broken), flops.cost(of: broken) + 100)
    }
}
