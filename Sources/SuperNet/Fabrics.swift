import Foundation
import Layers
import Tensor

/// A search space, described by its parameters; `build` makes the super network.
public enum Fabric: Codable, Equatable, Sendable {
    /// Convolutional Neural Fabric: `columns` W, `scales` S (input size halved
    /// down to 1x1 by default), `channels` C everywhere. `segmentation` puts a
    /// per-pixel head at scale 0 and zips the last column upward. `gated`
    /// false gives the baseline with every module fixed on.
    case cnf(columns: Int, scales: Int, channels: Int, segmentation: Bool, gated: Bool)
    /// ResNet Fabric: `groups` k of `blocks` n residual blocks, widths
    /// 16·2^b, with the shortcut pattern of the seed's Figure 1a.
    /// `shortcuts` false and `gated` false give the plain ResNet-(6n+2).
    case resnet(groups: Int, blocks: Int, shortcuts: Bool, gated: Bool)
    /// A search space written in a file (`SpacePlan` says how it is read).
    case space(SpaceSource)

    /// Plain ResNet of this depth (20, 32, 44, 56, 110): 3 groups of (depth − 2)/6 blocks.
    public static func resnet(depth: Int) -> Fabric? {
        guard depth >= 8, (depth - 2) % 6 == 0 else { return nil }
        return .resnet(groups: 3, blocks: (depth - 2) / 6, shortcuts: false, gated: false)
    }

    public var summary: String {
        switch self {
        case let .cnf(w, s, c, segmentation, gated):
            return "\(gated ? "B-" : "")CNF\(segmentation ? "-seg" : "") W=\(w) S=\(s) C=\(c)"
        case let .resnet(k, n, shortcuts, gated):
            if !shortcuts && !gated && k == 3 { return "ResNet-\(6 * n + 2)" }
            return "\(gated ? "B-" : "")ResNet Fabric k=\(k) n=\(n)\(shortcuts ? "" : " (no shortcuts)")"
        case let .space(source):
            let parameters = source.parameterSummary
            return "\(source.gated ? "" : "fixed ")space \(source.name)\(parameters.isEmpty ? "" : " " + parameters) (\((source.path as NSString).lastPathComponent))"
        }
    }

    /// True for fabrics whose head labels every pixel.
    public var isSegmentation: Bool {
        switch self {
        case .cnf(_, _, _, let segmentation, _): segmentation
        case .resnet: false
        case let .space(source): (try? source.expansion().output.head) == .segment
        }
    }

    /// Why it cannot learn `dataset`, a dataset of the other kind (segmentation where it classifies, or the reverse).
    public func mismatch(_ dataset: String) -> String {
        switch self {
        case .cnf(_, _, _, true, _): "cnf-seg needs a segmentation dataset (partlabels, faces); \(dataset) is classification: use build cnf"
        case .cnf: "\(dataset) is a segmentation dataset: use build cnf-seg"
        case .resnet: "the ResNet fabrics classify; \(dataset) is a segmentation dataset: use build cnf-seg"
        case .space: isSegmentation ? "\(dataset) is a classification dataset and this space's head labels pixels: write output: {…, head: classify}"
                                    : "\(dataset) is a segmentation dataset and this space's head classifies: write output: {…, head: segment}"
        }
    }

    /// The depths `resnet(depth:)` takes, as messages say them.
    public static let resnetDepths = "6n+2 (20, 32, 44, 56, 110)"

    /// Builds the super network for inputs of this shape, with `classes`
    /// outputs; its layers compute in `context`.
    public func build(input: FeatureShape, classes: Int, rng: inout RNG, context: ExecutionContext) throws -> SuperNetwork {
        try validate()
        switch self {
        case let .cnf(w, s, c, segmentation, gated):
            return try buildCNF(columns: w, scales: s, channels: c, segmentation: segmentation, gated: gated,
                                input: input, classes: classes, rng: &rng, context: context)
        case let .resnet(k, n, shortcuts, gated):
            return try buildResNet(groups: k, blocks: n, shortcuts: shortcuts, gated: gated,
                                   input: input, classes: classes, rng: &rng, context: context)
        case let .space(source):
            return try source.plan(input: input, classes: classes).build(rng: &rng, context: context)
        }
    }
}

/// A CNF link between neighbouring scales of successive columns: to the next
/// coarser scale (stride 2), the same scale, or the next finer (nearest 2x upsampling first).
private enum CNFLink { case down, same, up }

// The CNF is built in the reference implementation's order (nodes, then each
// transformation's two edges as it is created), so that the reverse DFS
// order, and with it the parallel cost, comes out as in the paper.
private func buildCNF(columns w: Int, scales s: Int, channels c: Int, segmentation: Bool, gated: Bool,
                      input: FeatureShape, classes: Int, rng: inout RNG, context: ExecutionContext) throws -> SuperNetwork {
    guard w >= 1, s >= 1, c >= 1 else { throw GraphError("CNF needs W, S and C of at least 1 (got W=\(w) S=\(s) C=\(c))") }
    guard input.height == input.width, input.height >> (s - 1) >= 1 else {
        throw GraphError("CNF with S=\(s) scales needs a square input of at least \(1 << (s - 1))x\(1 << (s - 1)), got \(input)")
    }
    var b = GraphBuilder(inputShape: input)
    func node(_ l: Int, _ k: Int) -> String { "A-\(l)_\(k)" }
    func grid(_ l: Int, _ k: Int) -> GridPosition { GridPosition(column: l, scale: k) }
    func transformation(from a: (Int, Int), to z: (Int, Int), _ link: CNFLink) {
        let name = "C-\(a.0)_\(a.1)-\(z.0)_\(z.1)"
        let module = ConvBN(c, c, stride: link == .down ? 2 : 1, upsample: link == .up, rng: &rng, context: context)
        b.add(name, .module, module: module, gated: gated)
        b.connect(node(a.0, a.1), name)
        b.connect(name, node(z.0, z.1))
    }
    func zip(_ l: Int, down: Bool) {
        for k in 0..<(s - 1) {
            if down { transformation(from: (l, k), to: (l, k + 1), .down) } else { transformation(from: (l, k + 1), to: (l, k), .up) }
        }
    }
    b.add("x", .input)
    b.add(node(0, 0), .module, module: ConvBN(input.channels, c, relu: true, rng: &rng, context: context), gated: false, grid: grid(0, 0))
    b.connect("x", node(0, 0))
    for k in 1..<s { b.add(node(0, k), .aggregation, grid: grid(0, k)) }
    zip(0, down: true)
    for l in 1..<max(w, 1) {
        for k in 0..<s {
            b.add(node(l, k), .aggregation, grid: grid(l, k))
            for source in max(0, k - 1)..<min(s, k + 2) {
                transformation(from: (l - 1, source), to: (l, k), source < k ? .down : source == k ? .same : .up)
            }
        }
    }
    if w > 1 { zip(w - 1, down: !segmentation) }
    // Classification reads the coarsest scale: a 1x1 convolution on a 1x1 map
    // (S = log2(size) + 1, as the paper), or global average pooling and a
    // linear layer when fewer scales leave a larger map.
    let coarsest = input.height >> (s - 1)
    let head: any Module = segmentation || coarsest == 1 ? PointwiseClassifier(c, classes: classes, rng: &rng, context: context)
                                                         : PooledLinear(c, classes: classes, rng: &rng)
    b.add("out", .output, module: head, inputs: [node(w - 1, segmentation ? 0 : s - 1)])
    return try b.build()
}

private func buildResNet(groups k: Int, blocks n: Int, shortcuts: Bool, gated: Bool,
                         input: FeatureShape, classes: Int, rng: inout RNG, context: ExecutionContext) throws -> SuperNetwork {
    guard k >= 1, n >= 1 else { throw GraphError("ResNet Fabric needs k ≥ 1 groups and n ≥ 1 blocks (got k=\(k) n=\(n))") }
    guard input.height % (1 << (k - 1)) == 0 else {
        throw GraphError("ResNet Fabric with \(k) groups needs an input size divisible by \(1 << (k - 1)), got \(input)")
    }
    var b = GraphBuilder(inputShape: input)
    let width = (0..<k).map { 16 << $0 }
    b.add("x", .input)
    b.add("stem", .module, module: ConvBN(input.channels, 16, relu: true, rng: &rng, context: context), inputs: ["x"])
    // `groupInput[g]`: the node holding group g's input; `blockOutput[g][d]`: block d's ReLU node.
    var groupInput = ["stem"], blockOutput = [[String]]()
    for g in 0..<k {
        if g > 0 {
            groupInput.append("g\(g)-in")
            b.add("g\(g)-in", .identity, inputs: [blockOutput[g - 1][n - 1]])
        }
        var outputs = [String]()
        for d in 0..<n {
            let previous = d == 0 ? groupInput[g] : outputs[d - 1]
            let sum = "g\(g)b\(d)"
            b.add(sum, .aggregation)
            let stride = d == 0 && g > 0 ? 2 : 1
            let inWidth = d == 0 && g > 0 ? width[g - 1] : width[g]
            b.add("\(sum)-block", .module, module: BasicBlock(inWidth, width[g], stride: stride, rng: &rng, context: context),
                  gated: gated, inputs: [previous])
            b.connect("\(sum)-block", sum)
            if stride == 1 && inWidth == width[g] {
                b.connect(previous, sum)                                   // identity skip
            } else {
                b.add("\(sum)-skip", .module, module: ConvBN(inWidth, width[g], kernel: 1, stride: stride, rng: &rng, context: context),
                      gated: gated, inputs: [previous])
                b.connect("\(sum)-skip", sum)
            }
            if shortcuts && g > 0 {
                // Sources in group g−1: blocks n−d−2, n−1−d (d ≠ 0), n−d−3 (d ≠ n−1); < 0 is group g−1's input.
                var sources = [n - d - 2]
                if d != 0 { sources.append(n - 1 - d) }
                if d != n - 1 { sources.append(n - d - 3) }
                for index in sources {
                    let from = index < 0 ? groupInput[g - 1] : blockOutput[g - 1][index]
                    let fromWidth = index < 0 && g >= 2 ? width[g - 2] : width[g - 1]
                    let fromStride = index < 0 && g >= 2 ? 4 : 2
                    let tag = "\(sum)<-\(index < 0 ? "g\(g - 1)in" : "g\(g - 1)b\(index)")"
                    b.add("\(tag)-block", .module, module: BasicBlock(fromWidth, width[g], stride: fromStride, rng: &rng, context: context),
                          gated: gated, inputs: [from])
                    b.add("\(tag)-skip", .module, module: ConvBN(fromWidth, width[g], kernel: 1, stride: fromStride, rng: &rng, context: context),
                          gated: gated, inputs: [from])
                    b.connect("\(tag)-block", sum)
                    b.connect("\(tag)-skip", sum)
                }
            }
            outputs.append(sum)
        }
        blockOutput.append(outputs)
    }
    b.add("out", .output, module: PooledLinear(width[k - 1], classes: classes, rng: &rng), inputs: [blockOutput[k - 1][n - 1]])
    return try b.build()
}
