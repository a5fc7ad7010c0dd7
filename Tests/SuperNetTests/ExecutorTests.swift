import Layers
import SuperNet
import Tensor
import TestSupport
import XCTest

final class ExecutorTests: XCTestCase {
    private func fabrics() throws -> [(String, SuperNetwork, FeatureShape)] {
        var rng = RNG(seed: 11)
        let small = FeatureShape(height: 4, width: 4, channels: 3), larger = FeatureShape(height: 8, width: 8, channels: 3)
        return [
            ("CNF", try Fabric.cnf(columns: 3, scales: 3, channels: 8, segmentation: false, gated: true).build(input: small, classes: 3, rng: &rng, context: makeContext()), small),
            ("CNF-seg", try Fabric.cnf(columns: 2, scales: 3, channels: 8, segmentation: true, gated: true).build(input: small, classes: 3, rng: &rng, context: makeContext()), small),
            ("ResNet Fabric", try Fabric.resnet(groups: 2, blocks: 2, shortcuts: true, gated: true).build(input: larger, classes: 3, rng: &rng, context: makeContext()), larger),
        ]
    }

    /// Random running statistics, so inference-mode batch norm is not the
    /// identity, and random γ, β: a module that sees a single example of a
    /// 1x1 map outputs exactly β in training mode, and β = 0 would put the
    /// following ReLU exactly on its kink.
    private func randomiseBatchNorm(_ net: SuperNetwork, rng: inout RNG) {
        func visit(_ layer: any Layer) {
            if let bn = layer as? BatchNorm2d {
                rng.fillUniform(bn.runningMean, -0.3, 0.3)
                rng.fillUniform(bn.runningVariance, 0.5, 1.5)
                rng.fillUniform(bn.scale.value, 0.5, 1.5)
                rng.fillUniform(bn.shift.value, -0.5, 0.5)
            } else if let s = layer as? Sequential { s.layers.forEach(visit) }
            else if let m = layer as? ConvBN { visit(m.norm) }
            else if let b = layer as? BasicBlock { visit(b.first); visit(b.second) }
        }
        for node in net.nodes { if let m = node.module { visit(m) } }
    }

    private func architectures(_ net: SuperNetwork, count: Int, keep: Float = 0.6, rng: inout RNG) -> [Architecture] {
        (0..<count).map { _ in net.sampleArchitecture([Float](repeating: keep, count: net.gateCount), rng: &rng) }
    }

    func testSubBatchExecutionMatchesMaskExecution() throws {
        for (name, net, shape) in try fabrics() {
            var rng = RNG(seed: 5)
            randomiseBatchNorm(net, rng: &rng)
            let archs = architectures(net, count: 8, rng: &rng)
            XCTAssertTrue(archs.contains { !$0.isConsistent } || archs.contains { $0.active.count < net.fullArchitecture.active.count })
            let x = randomTensor(shape.batch(8), seed: 6)
            var results = [(logits: [Float], gradients: [[Float]])]()
            for mode in [ExecutionMode.subBatch, .mask] {
                let executor = Executor(net, mode: mode, context: makeContext())
                for p in net.weights { p.zeroGradient() }
                let logits = try executor.forward(x, architectures: archs, training: false)
                try executor.backward(randomTensor(logits.shape, seed: 7))
                results.append((logits.values, net.weights.map(\.gradient.values)))
            }
            for (a, b) in zip(results[0].logits, results[1].logits) { XCTAssertEqual(a, b, accuracy: 1e-4, "\(name) logits") }
            for (ga, gb) in zip(results[0].gradients, results[1].gradients) {
                for (a, b) in zip(ga, gb) { XCTAssertEqual(a, b, accuracy: 1e-3 * max(1, abs(a)), "\(name) gradients") }
            }
        }
    }

    func testFoldedInferenceMatchesInferenceModeForward() throws {
        for (name, net, shape) in try fabrics() {
            var rng = RNG(seed: 9)
            randomiseBatchNorm(net, rng: &rng)
            let archs = architectures(net, count: 6, rng: &rng)
            let x = randomTensor(shape.batch(6), seed: 4)
            let executor = Executor(net, context: makeContext())
            let plain = try executor.forward(x, architectures: archs, training: false).values
            let folded = try executor.forward(x, architectures: archs, training: false, inferenceOnly: true).values
            for (a, b) in zip(plain, folded) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(a)), name) }
            // Every module on: convolutions add their results into the sums in place.
            let full = [net.fullArchitecture]
            let plainFull = try executor.forward(x, architectures: full, training: false).values
            let foldedFull = try executor.forward(x, architectures: full, training: false, inferenceOnly: true).values
            for (a, b) in zip(plainFull, foldedFull) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(a)), "\(name) full") }
        }
    }

    func testInconsistentExamplesGetTheOutputBiasAndNoGradient() throws {
        var rng = RNG(seed: 8)
        let shape = FeatureShape(height: 4, width: 4, channels: 3)
        let net = try Fabric.cnf(columns: 2, scales: 3, channels: 8, segmentation: false, gated: true).build(input: shape, classes: 3, rng: &rng, context: makeContext())
        let off = net.architecture(gates: [Bool](repeating: false, count: net.gateCount))
        XCTAssertFalse(off.isConsistent)
        let executor = Executor(net, context: makeContext())
        let head = net.nodes.last!.module as! PointwiseClassifier
        rng.fillUniform(head.conv.bias!.value, 0.5, 1)
        let full = net.fullArchitecture
        let logits = try executor.forward(randomTensor(shape.batch(4), seed: 1), architectures: [off, full, full, full], training: true)
        for k in 0..<3 { XCTAssertEqual(logits[k], head.conv.bias!.value[k], accuracy: 1e-6) }
        XCTAssertNotEqual(logits[3], head.conv.bias!.value[0])
        XCTAssertEqual(executor.examples(of: 1), [1, 2, 3], "the stem only ran on the consistent examples")
        // A batch of inconsistent samples only: every example gets the bias.
        let none = try executor.forward(randomTensor(shape.batch(2), seed: 2), architectures: [off], training: true)
        for e in 0..<2 { for k in 0..<3 { XCTAssertEqual(none[e * 3 + k], head.conv.bias!.value[k], accuracy: 1e-6) } }
        try executor.backward(randomTensor(none.shape, seed: 3))
    }

    func testGradientsThroughAGatedFabricMatchFiniteDifferences() throws {
        for training in [false, true] {
            var rng = RNG(seed: 21)
            let shape = FeatureShape(height: 4, width: 4, channels: 3)
            let net = try Fabric.cnf(columns: 3, scales: 3, channels: 8, segmentation: false, gated: true).build(input: shape, classes: 3, rng: &rng, context: makeContext())
            randomiseBatchNorm(net, rng: &rng)
            // Training-mode batch norm over one or two rows is nearly degenerate; give the
            // modules a few examples each there.
            let batch = training ? 12 : 6
            let archs = architectures(net, count: batch, keep: training ? 0.8 : 0.6, rng: &rng)
            let executor = Executor(net, context: makeContext())
            let x = randomTensor(shape.batch(batch), seed: 2)
            let logits = try executor.forward(x, architectures: archs, training: training)
            let weights = randomTensor(logits.shape, seed: 3)
            for p in net.weights { p.zeroGradient() }
            try executor.backward(weights)
            let loss = { () throws -> Double in weightedSum(try executor.forward(x, architectures: archs, training: training), weights) }
            // The stem, a gated link in the middle, and the head.
            let checked = [net.weights[0], net.weights[net.weights.count / 2], net.weights[net.weights.count - 2]]
            for p in checked {
                // Training mode: many ReLU kinks and batch norm over few rows make the loss only
                // piecewise smooth; a small step keeps the difference on one piece.
                try checkGradient("\(p.name) (training \(training))", of: p.value, analytic: p.gradient.clone(),
                                  epsilon: training ? 3e-4 : 1e-3, tolerance: training ? 5e-2 : 3e-2, samples: 20, loss: loss)
            }
        }
    }

    /// Training a ResNet Fabric writes each block's last batch norm straight into the
    /// block's sum (and applies the sum's ReLU there), and copies a node's first
    /// gradient instead of adding it to zeros: the gradients still match finite differences,
    /// with every module on (everything in place) and with sampled architectures (some rows gathered).
    func testGradientsThroughAResNetFabricTrainedInPlaceMatchFiniteDifferences() throws {
        var rng = RNG(seed: 23)
        let shape = FeatureShape(height: 8, width: 8, channels: 3)
        let net = try Fabric.resnet(groups: 2, blocks: 2, shortcuts: true, gated: true).build(input: shape, classes: 3, rng: &rng, context: makeContext())
        randomiseBatchNorm(net, rng: &rng)
        for (label, archs) in [("full", [net.fullArchitecture]), ("sampled", architectures(net, count: 10, keep: 0.8, rng: &rng))] {
            let executor = Executor(net, context: makeContext())
            let x = randomTensor(shape.batch(10), seed: 24)
            let logits = try executor.forward(x, architectures: archs, training: true)
            let weights = randomTensor(logits.shape, seed: 25)
            for p in net.weights { p.zeroGradient() }
            try executor.backward(weights)
            let loss = { () throws -> Double in weightedSum(try executor.forward(x, architectures: archs, training: true), weights) }
            let checked = [net.weights[0], net.weights[net.weights.count / 3], net.weights[net.weights.count / 2], net.weights[net.weights.count - 2]]
            for p in checked {
                try checkGradient("\(p.name) (\(label))", of: p.value, analytic: p.gradient.clone(), epsilon: 3e-4, tolerance: 5e-2, samples: 20, loss: loss)
            }
        }
    }

    /// A choice block (gated 3x3, 5x5 and skip into a sum), then a max pool and an average pool, from a space file.
    func testGradientsThroughSkipAndPoolModulesMatchFiniteDifferences() throws {
        let text = """
        space: choice
        input: x
        body:
          - node: stem
            from: x
            op: conv relu
            out: 4
          - node: a
          - edge: a3
            from: stem
            to: a
            op: conv k=3
          - edge: a5
            from: stem
            to: a
            op: conv k=5
          - edge: askip
            from: stem
            to: a
            op: skip
          - node: b
          - edge: bmax
            from: a
            to: b
            op: pool max
          - edge: bavg
            from: a
            to: b
            op: pool avg
        output: {from: b}
        """
        var rng = RNG(seed: 23)
        let shape = FeatureShape(height: 4, width: 4, channels: 3)
        let net = try Fabric.space(SpaceSource(path: "choice.yaml", text: text)).build(input: shape, classes: 3, rng: &rng, context: makeContext())
        randomiseBatchNorm(net, rng: &rng)
        for training in [false, true] {
            let archs = architectures(net, count: training ? 12 : 6, keep: 0.7, rng: &rng)
            let executor = Executor(net, context: makeContext())
            let x = randomTensor(shape.batch(training ? 12 : 6), seed: 2)
            let logits = try executor.forward(x, architectures: archs, training: training)
            let weights = randomTensor(logits.shape, seed: 3)
            for p in net.weights { p.zeroGradient() }
            try executor.backward(weights)
            let loss = { () throws -> Double in weightedSum(try executor.forward(x, architectures: archs, training: training), weights) }
            for p in net.weights {
                try checkGradient("\(p.name) (training \(training))", of: p.value, analytic: p.gradient.clone(),
                                  epsilon: training ? 3e-4 : 1e-3, tolerance: training ? 5e-2 : 3e-2, samples: 20, loss: loss)
            }
        }
    }
}
