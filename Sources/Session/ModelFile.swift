import Datasets
import Files
import Foundation
import Layers
import SuperNet
import Tensor

/// A model found by a search, self-contained: the deterministic architecture,
/// its weights with batch norm folded into the convolutions, and what it
/// needs to read an image: the class names, the image and input sizes, the
/// normalisation. One checked file (`CheckedFile`, kind "model"):
///
///     UInt32 header length (little-endian), the header (JSON),
///     the tensors (TensorArchive): "<node>.i<k>" for every module the
///     architecture uses, in node order, as `Module.inferenceTensors()` gives them.
public final class ExportedModel {
    public struct Header: Codable, Sendable {
        public var format = "bsn-model"
        public var version = 1
        public var fabric: Fabric
        /// Gate states of the deterministic architecture.
        public var gates: [Bool]
        public var segmentation: Bool
        public var classNames: [String]
        public var dataset: String
        /// The dataset's stored images (32x32x3; Part Labels 250x250x3).
        public var imageHeight: Int, imageWidth: Int, channels: Int
        /// The network's input: images are centred on a black canvas of this size.
        public var inputHeight: Int, inputWidth: Int
        /// Pixel bytes b become b / divisor + offset (b / 127.5 − 1).
        public var normalisationDivisor: Float, normalisationOffset: Float
        /// Costs of the architecture: flops (multiply-accumulates), params.
        public var costs: [String: Double]
        /// Where it comes from.
        public var session: String, step: Int
    }

    public let header: Header
    public let network: SuperNetwork
    public let architecture: Architecture
    let executor: Executor

    static let kind = "model"

    /// The session's deterministic architecture as a model (nothing shared with its network).
    /// It computes on the session's threads with the session's convolution choices, in scratch memory of its own.
    public convenience init(session s: Session) throws {
        try self.init(data: try Self.encode(session: s), file: "session '\(s.name)'",
                      context: ExecutionContext(threads: s.context.threads, convolutions: s.context.convolutions))
    }

    /// Reads a model file: checked (kind, version, length, checksum), then every field and tensor shape.
    /// It computes on `threads` threads (all cores by default).
    public convenience init(file path: String, threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: path) else { throw SessionError("\(path): no such model file") }
        try self.init(data: try CheckedFile.read(url, kind: Self.kind), file: path, context: ExecutionContext(threads: threads))
    }

    init(data payload: Data, file: String, context: ExecutionContext) throws {
        let data = Data(payload)                         // indices from 0 (a checked file's payload is a slice)
        guard data.count >= 4 else { throw SessionError("\(file): truncated model (no header)") }
        let length = Int(data.prefix(4).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
        guard length <= data.count - 4 else { throw SessionError("\(file): truncated model (header of \(length) bytes in \(data.count - 4))") }
        let headerData = data.subdata(in: 4..<4 + length)
        let h: Header
        do { h = try SessionJSON.decoder().decode(Header.self, from: headerData) } catch {
            throw SessionError("\(file): the model header does not parse (\(error))")
        }
        guard h.format == "bsn-model" else { throw SessionError("\(file): not a bsn model (format '\(h.format)')") }
        guard h.version == 1 else { throw SessionError("\(file): model version \(h.version); this bsn reads version 1") }
        let bounds = 1...65_536
        for (name, v) in [("imageHeight", h.imageHeight), ("imageWidth", h.imageWidth), ("inputHeight", h.inputHeight),
                          ("inputWidth", h.inputWidth), ("classes", h.classNames.count)] where !bounds.contains(v) {
            throw SessionError("\(file): \(name) = \(v) is out of bounds")
        }
        guard (1...4).contains(h.channels) else { throw SessionError("\(file): channels = \(h.channels) is out of bounds") }
        // Pixels are bytes: x / divisor + offset. bsn writes 127.5 and -1; anything far from a byte's scale was edited or damaged.
        guard (1e-3...1e6).contains(h.normalisationDivisor), (-1e6...1e6).contains(h.normalisationOffset) else {
            throw SessionError("\(file): normalisation byte / \(h.normalisationDivisor) + \(h.normalisationOffset) is out of bounds (divisor 0.001…1e6, offset −1e6…1e6); the file was edited or damaged")
        }
        try h.fabric.validate()
        let input = FeatureShape(height: h.inputHeight, width: h.inputWidth, channels: h.channels)
        let size = try h.fabric.size(input: input, classes: h.classNames.count)
        try Memory.check(size.weightBytes, h.fabric.summary, of: "weights")
        // One image through the network (the training estimate for a batch of one bounds it).
        try Memory.check(size.trainingBytes(batch: 1, input: input, threads: 1), "\(h.fabric.summary) on \(h.inputWidth)x\(h.inputHeight) inputs",
                         of: "weights and activations")
        var rng = RNG(seed: 0)
        let net = try h.fabric.build(input: input, classes: h.classNames.count, rng: &rng, context: context)
        guard h.gates.count == net.gateCount else { throw SessionError("\(file): \(h.gates.count) gates; \(h.fabric.summary) has \(net.gateCount)") }
        let architecture = net.architecture(gates: h.gates)
        guard architecture.isConsistent else { throw SessionError("\(file): the architecture has no input → output path") }
        let modules = Self.modules(net, architecture)
        let targets = modules.flatMap { node, module in module.inferenceTensors().enumerated().map { ("\(node).i\($0.offset)", $0.element) } }
        try TensorArchive.restore(data.subdata(in: 4 + length..<data.count), into: targets, file: file)
        for (node, module) in modules { module.useInferenceTensors(targets.filter { $0.0.hasPrefix(node + ".i") }.map(\.1)) }
        for (_, t) in targets where !Elementwise.allFinite(t.data, count: t.count) { throw SessionError("\(file): a weight is not finite") }
        (header, network, self.architecture) = (h, net, architecture)
        executor = Executor(net, context: context)
    }

    /// The modules the architecture uses, by node name, in node order.
    static func modules(_ net: SuperNetwork, _ architecture: Architecture) -> [(String, any Module)] {
        net.nodes.indices.compactMap { k in
            guard architecture.active.contains(k), let module = net.nodes[k].module else { return nil }
            return (net.nodes[k].name, module)
        }
    }

    /// The model file's bytes for a session's deterministic architecture.
    static func encode(session s: Session) throws -> Data {
        let (net, trainer) = try s.requireModel()
        let dataset = try s.requireDataset()
        let architecture = net.deterministicArchitecture
        guard architecture.isConsistent else {
            throw SessionError("the deterministic architecture has no input → output path (every path has a gate with p ≤ 0.5): no model to export")
        }
        let gates = net.gatedNodes.map { architecture.active.contains($0) }
        let a = dataset.augmentation
        let header = Header(fabric: s.modelSpec!.fabric, gates: gates, segmentation: dataset.isSegmentation, classNames: dataset.classNames,
                            dataset: dataset.name, imageHeight: dataset.test.height, imageWidth: dataset.test.width, channels: dataset.test.channels,
                            inputHeight: a.height, inputWidth: a.width, normalisationDivisor: 127.5, normalisationOffset: -1,
                            costs: ["flops": FlopsCost(net).cost(of: architecture), "params": ParameterCost(net).cost(of: architecture)],
                            session: s.name, step: trainer.step)
        let tensors = modules(net, architecture).flatMap { node, module in
            module.inferenceTensors().enumerated().map { (name: "\(node).i\($0.offset)", tensor: $0.element) }
        }
        let json = try SessionJSON.encoder(pretty: false).encode(header)
        var data = Data()
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        data.append(TensorArchive.encode(tensors))
        return data
    }

    /// Writes a session's deterministic architecture as a model file (atomic, checked).
    static func write(session s: Session, to path: String) throws -> AtomicFile.Written {
        try CheckedFile.write(try encode(session: s), kind: kind, to: URL(fileURLWithPath: path))
    }

    /// Logits for a batch (N, H, W, C) of normalised inputs: (N, classes), or (N, H, W, classes) for segmentation.
    public func logits(_ images: Tensor) throws -> Tensor {
        try executor.forward(images, architectures: [architecture], training: false, inferenceOnly: true)
    }
}
