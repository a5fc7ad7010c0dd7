import Foundation
import Layers
import Tensor

/// What a fabric will take in memory, computed from its parameters alone
/// (nothing is built), in Double so that absurd sizes cannot overflow.
public struct FabricSize: Equatable, Sendable {
    /// Trainable weights (convolution weights and biases, batch-norm scales
    /// and shifts, the head).
    public var parameters: Double
    /// Elements of every node's output for one example (input included).
    public var activationsPerExample: Double
    /// Weights of the largest convolution, and its im2col columns for one example.
    public var largestLayerWeights = 0.0, largestColumnsPerExample = 0.0
    /// im2col columns of the largest convolution for one chunk of a pass
    /// (`Conv2d.rowsPerChunk` output pixels, or one image if larger): what a
    /// worker's workspace holds, whatever the batch.
    public var largestColumnsPerChunk = 0.0
    /// Floats training keeps per example, when the fabric knows them better
    /// than "a value and a gradient per activation": a CNF's convolutions push
    /// into their sums and keep only their own output for backward.
    public var trainingFloatsPerExample: Double? = nil
    /// Inputs of the gated modules, for one example: in sub-batch mode with one
    /// architecture per example, each module gathers its examples' input rows
    /// into a buffer of its own (a module every example uses reads its input in place).
    public var gatheredFloatsPerExample = 0.0

    /// Bytes to build and train, the estimate the memory check compares with
    /// what is available (`summary` and `bench train` print it beside the
    /// measured peak): each weight has a value, a gradient and a momentum
    /// buffer; each example its kept floats (`trainingFloatsPerExample`, or a
    /// value and a gradient per activation) and three copies of its input
    /// (the loader's batches); the convolution workspace holds the largest
    /// layer's weights packed, folded (inference) and one gradient per
    /// worker thread, and per worker a chunk's im2col columns and their gradient.
    /// `gathers`: modules gather their rows (sub-batch mode, one architecture per example).
    public func trainingBytes(batch: Int, input: FeatureShape, threads: Int, gathers: Bool = false) -> Double {
        let perExample = (trainingFloatsPerExample ?? activationsPerExample * 2) + (gathers ? gatheredFloatsPerExample : 0)
        return weightBytes + Double(2 + threads) * largestLayerWeights * 4 + Double(threads) * largestColumnsPerChunk * 2 * 4
            + Double(batch) * (perExample * 4 + Double(input.elements) * 3 * 4)
    }

    public var weightBytes: Double { parameters * 3 * 4 }
}

extension Fabric {
    /// The documented bounds of each parameter; beyond them `build` refuses
    /// before allocating anything (memory is checked separately).
    public static let columnRange = 1...1000, scaleRange = 1...30, channelRange = 1...65536
    public static let groupRange = 1...10, blockRange = 1...1000

    /// Each bounded parameter: the user's option, its key in a saved fabric
    /// ("cnf.columns"), its value and its bounds.
    public var boundedParameters: [(option: String, key: String, value: Int, bounds: ClosedRange<Int>)] {
        switch self {
        case let .cnf(w, s, c, _, _):
            [("W", "cnf.columns", w, Self.columnRange), ("S", "cnf.scales", s, Self.scaleRange), ("C", "cnf.channels", c, Self.channelRange)]
        case let .resnet(k, n, _, _):
            [("k", "resnet.groups", k, Self.groupRange), ("n", "resnet.blocks", n, Self.blockRange)]
        case .space: []            // a space file's numbers are checked as it is unrolled (SpaceExpansion)
        }
    }

    /// Throws a message naming the parameter outside its bounds.
    public func validate() throws {
        if case let .space(source) = self { _ = try source.expansion() }
        for p in boundedParameters where !p.bounds.contains(p.value) {
            throw GraphError("\(summaryKind) \(p.option)=\(p.value) is out of bounds (\(p.bounds.lowerBound)…\(p.bounds.upperBound))")
        }
    }

    private var summaryKind: String {
        switch self {
        case .cnf(_, _, _, let segmentation, _): segmentation ? "CNF-seg" : "CNF"
        case .resnet: "ResNet Fabric"
        case .space: "space"
        }
    }

    /// The fabric's size for this input and number of classes (bounds checked first).
    public func size(input: FeatureShape, classes: Int) throws -> FabricSize {
        try validate()
        if case let .space(source) = self { return try source.plan(input: input, classes: classes).size }
        let h = Double(input.height), cin = Double(input.channels), k = Double(classes)
        func spatial(_ scale: Int) -> Double {                    // pixels of a map at this scale
            let side = max(1, (h / pow(2, Double(scale))).rounded(.down))
            return side * side
        }
        var parameters = 0.0, activations = Double(input.elements), largestLayer = 0.0, largestColumns = 0.0, chunkColumns = 0.0
        var kept: Double?, gathered = 0.0, isGated = true
        /// A k x k convolution a → b producing a map of `map` pixels.
        func convolution(_ a: Double, _ b: Double, kernel: Double = 3, map: Double) {
            largestLayer = max(largestLayer, kernel * kernel * a * b + b)
            largestColumns = max(largestColumns, map * kernel * kernel * a)
            chunkColumns = max(chunkColumns, max(map, Double(Conv2d.rowsPerChunk)) * kernel * kernel * a)
        }
        switch self {
        case let .cnf(w, s, c, segmentation, gated):
            isGated = gated
            let c = Double(c)
            parameters += 9 * cin * c + 3 * c                       // stem: conv + bias, batch norm
            activations += spatial(0) * c
            convolution(cin, c, map: spatial(0))
            for scale in 0..<s where w > 1 || scale > 0 { convolution(c, c, map: spatial(scale)) }
            var transformations = 0.0
            // Training keeps a value and a gradient per node (a sum), one output per
            // convolution (its batch norm's backward reads it; what it pushes into the
            // sum lives in buffers all transient modules share: about five maps).
            var sums = spatial(0) * c, pushed = 0.0
            for scale in 0..<s {
                let map = spatial(scale) * c
                // One node per column, fed by up to three convolutions from the previous column,
                // plus the first and last columns' vertical links.
                let sources = Double(min(s, scale + 2) - max(0, scale - 1))
                transformations += Double(w - 1) * sources + (scale > 0 ? (w > 1 ? 2 : 1) : 0)
                activations += Double(w) * map + (Double(w - 1) * sources + (scale > 0 ? 2 : 0)) * map
                sums += Double(w) * map
                pushed += (Double(w - 1) * sources + (scale > 0 ? 2 : 0)) * map
                // Each convolution gathers its source's map: the previous column at scales s−1…s+1, and the vertical links from s−1.
                for source in max(0, scale - 1)...min(s - 1, scale + 1) { gathered += Double(w - 1) * spatial(source) * c }
                if scale > 0 { gathered += (w > 1 ? 2 : 1) * spatial(scale - 1) * c }
            }
            let head = segmentation ? spatial(0) * k : k
            kept = 2 * sums + pushed + 5 * spatial(0) * c + 2 * head + Double(input.elements)
            parameters += transformations * (9 * c * c + 3 * c)
            parameters += c * k + k
            activations += segmentation ? spatial(0) * k : k
        case let .resnet(groups, n, shortcuts, gated):
            isGated = gated
            let width = (0..<groups).map { 16 * pow(2, Double($0)) }
            func block(_ a: Double, _ b: Double, _ map: Double, input: Double) {
                gathered += a * input
                parameters += 9 * a * b + 9 * b * b + 6 * b
                activations += 3 * b * map                          // two convolutions and the ReLU between
                convolution(a, b, map: map)
                convolution(b, b, map: map)
            }
            func projection(_ a: Double, _ b: Double, _ map: Double, input: Double) {
                gathered += a * input
                parameters += a * b + 3 * b
                activations += b * map
                convolution(a, b, kernel: 1, map: map)
            }
            parameters += 9 * cin * 16 + 3 * 16
            activations += spatial(0) * 16
            convolution(cin, 16, map: spatial(0))
            for g in 0..<groups {
                let map = spatial(g)
                for d in 0..<n {
                    let first = d == 0 && g > 0
                    let inputMap = first ? spatial(g - 1) : map
                    block(first ? width[g - 1] : width[g], width[g], map, input: inputMap)
                    if first { projection(width[g - 1], width[g], map, input: inputMap) }
                    activations += width[g] * map                   // the block's sum
                    if shortcuts && g > 0 {
                        // Sources as in the build: blocks n−d−2, n−1−d (d ≠ 0), n−d−3 (d ≠ n−1); below 0 is the previous group's input.
                        var sources = [n - d - 2]
                        if d != 0 { sources.append(n - 1 - d) }
                        if d != n - 1 { sources.append(n - d - 3) }
                        for index in sources {
                            let from = index < 0 && g >= 2 ? width[g - 2] : width[g - 1]
                            let fromMap = index < 0 && g >= 2 ? spatial(g - 2) : spatial(g - 1)
                            block(from, width[g], map, input: fromMap)
                            projection(from, width[g], map, input: fromMap)
                        }
                    }
                }
            }
            parameters += width[groups - 1] * k + k
            activations += k
        case .space: fatalError("unreachable: a space is sized from its plan above")
        }
        return FabricSize(parameters: parameters, activationsPerExample: activations,
                          largestLayerWeights: largestLayer, largestColumnsPerExample: largestColumns,
                          largestColumnsPerChunk: chunkColumns, trainingFloatsPerExample: kept, gatheredFloatsPerExample: isGated ? gathered : 0)
    }
}
