import Files
import Foundation
import Interface
import Layers
import ONNXProto
import SuperNet
import SwiftProtobuf
import Tensor

/// A model found by a search as an ONNX model (opset 17): the pruned
/// architecture only, each convolution with its batch norm folded in.
///
///     input  "image"   (batch, C, H, W) float, already normalised (metadata "normalisation")
///     output "logits"  (batch, classes), or (batch, classes, H, W) for segmentation
///
/// bsn computes in NHWC; ONNX convolutions are NCHW, so weights are written
/// (C_out, C_in, k, k) and the graph is NCHW throughout.
public struct ONNXExport {
    public static let opset: Int64 = 17
    /// The IR version that goes with opset 17.
    public static let irVersion: Int64 = 8

    public let model: Onnx_ModelProto

    /// The operators of the graph and how many of each.
    public var operators: [(name: String, count: Int)] {
        var counts = [String: Int]()
        for node in model.graph.node { counts[node.opType, default: 0] += 1 }
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    public init(_ exported: ExportedModel) throws {
        var graph = GraphWriter()
        let h = exported.header, net = exported.network, active = exported.architecture.active
        var value = [Int: String]()
        for (i, node) in net.nodes.enumerated() where active.contains(i) {
            switch node.role {
            case .input:
                value[i] = "image"
            case _ where node.module != nil:
                let source = try Self.input(of: node, value)
                value[i] = try graph.module(node.module!, input: source, name: node.name, segmentation: h.segmentation)
            default:
                // A sum of the active inputs; an aggregation ends with a ReLU.
                let inputs = node.inputs.filter { active.contains($0) }.compactMap { value[$0] }
                guard !inputs.isEmpty else { throw SessionError("ONNX export: \(node.name) has no active input") }
                var out = inputs.count == 1 ? inputs[0] : graph.add("Sum", inputs, name: node.name)
                if node.role == .aggregation { out = graph.add("Relu", [out], name: node.name + ".relu") }
                value[i] = out
            }
        }
        guard let last = value[net.outputNode] else { throw SessionError("ONNX export: the output is not reached") }
        graph.add("Identity", [last], output: "logits", name: "logits")

        var m = Onnx_ModelProto()
        m.irVersion = Self.irVersion
        m.opsetImport = [.with { $0.domain = ""; $0.version = Self.opset }]
        m.producerName = "bsn"
        m.producerVersion = "0.1"
        m.docString = "\(h.fabric.summary), deterministic architecture of '\(h.session)' at step \(h.step), trained on \(h.dataset)"
        m.graph = graph.graph
        m.graph.name = h.fabric.summary
        m.graph.input = [Self.valueInfo("image", elements: ["batch", h.channels, h.inputHeight, h.inputWidth])]
        let classes = h.classNames.count
        m.graph.output = [Self.valueInfo("logits", elements: h.segmentation ? ["batch", classes, h.inputHeight, h.inputWidth] : ["batch", classes])]
        let classJSON = String(decoding: try JSONEncoder().encode(h.classNames), as: UTF8.self)
        m.metadataProps = [
            ("classes", classJSON),
            ("normalisation", "image = byte / \(Format.quantity(Double(h.normalisationDivisor), exact: true)) + (\(Format.quantity(Double(h.normalisationOffset), exact: true))), RGB order"),
            ("input", "NCHW; images of \(h.imageWidth)x\(h.imageHeight) centred on a \(h.inputWidth)x\(h.inputHeight) canvas of value \(Format.quantity(Double(h.normalisationOffset), exact: true))"),
            ("task", h.segmentation ? "segmentation (per-pixel logits)" : "classification"),
            ("dataset", h.dataset), ("fabric", h.fabric.summary), ("source", "session '\(h.session)', step \(h.step)"),
            ("flops", Format.quantity(h.costs["flops"] ?? 0, exact: true)), ("params", Format.quantity(h.costs["params"] ?? 0, exact: true)),
        ].map { key, value in .with { $0.key = key; $0.value = value } }
        model = m
    }

    /// The value feeding a module: its single input.
    private static func input(of node: SuperNetwork.Node, _ value: [Int: String]) throws -> String {
        guard let first = node.inputs.first, let v = value[first] else { throw SessionError("ONNX export: the input of \(node.name) is not reached") }
        return v
    }

    /// A float tensor value with these dimensions (a string: symbolic).
    private static func valueInfo(_ name: String, elements: [Any]) -> Onnx_ValueInfoProto {
        .with { info in
            info.name = name
            info.type.tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            info.type.tensorType.shape.dim = elements.map { e in
                .with { d in if let n = e as? Int { d.dimValue = Int64(n) } else { d.dimParam = "\(e)" } }
            }
        }
    }

    /// Writes the model (atomically: never through a link, never onto a device).
    public func write(to path: String) throws -> AtomicFile.Written {
        let data: Data = try model.serializedBytes()
        return try CheckedFile.writeAtomically(data, to: URL(fileURLWithPath: path))      // its errors name the file
    }
}

/// Nodes and initializers of a graph under construction, with unique value names.
private struct GraphWriter {
    var graph = Onnx_GraphProto()
    private var names = Set<String>()

    private mutating func unique(_ base: String) -> String {
        var name = base, k = 1
        while names.contains(name) { k += 1; name = "\(base).\(k)" }
        names.insert(name)
        return name
    }

    /// Adds a node; returns its output's name.
    @discardableResult
    mutating func add(_ op: String, _ inputs: [String], output: String? = nil, name: String, attributes: [Onnx_AttributeProto] = []) -> String {
        let out = output ?? unique(name)
        graph.node.append(.with {
            $0.opType = op
            $0.name = unique("node:" + name + ":" + op)
            $0.input = inputs
            $0.output = [out]
            $0.attribute = attributes
        })
        return out
    }

    /// A float initializer of these dimensions; returns its name.
    mutating func constant(_ name: String, _ dims: [Int], _ values: [Float]) -> String {
        let n = unique(name)
        graph.initializer.append(.with { t in
            t.name = n
            t.dims = dims.map(Int64.init)
            t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            t.rawData = values.withUnsafeBufferPointer { Data(buffer: $0) }       // little-endian on every platform bsn runs on
        })
        return n
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        .with { $0.name = name; $0.type = .ints; $0.ints = values.map(Int64.init) }
    }
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        .with { $0.name = name; $0.type = .int; $0.i = Int64(value) }
    }
    static func string(_ name: String, _ value: String) -> Onnx_AttributeProto {
        .with { $0.name = name; $0.type = .string; $0.s = Data(value.utf8) }
    }

    /// A convolution with bias: weights (C_out, k, k, C_in) in bsn's layout, written (C_out, C_in, k, k).
    mutating func conv(_ input: String, weight: Tensor, bias: Tensor, kernel k: Int, stride: Int, padding p: Int, name: String) -> String {
        let cout = weight.shape[0], cin = weight.shape[3]
        var w = [Float](repeating: 0, count: weight.count)
        for o in 0..<cout {
            for y in 0..<k { for x in 0..<k { for c in 0..<cin { w[((o * cin + c) * k + y) * k + x] = weight.data[((o * k + y) * k + x) * cin + c] } } }
        }
        let wName = constant(name + ".weight", [cout, cin, k, k], w)
        let bName = constant(name + ".bias", [cout], bias.values)
        return add("Conv", [input, wName, bName], name: name, attributes: [
            Self.ints("kernel_shape", [k, k]), Self.ints("strides", [stride, stride]), Self.ints("pads", [p, p, p, p]), Self.ints("dilations", [1, 1]),
        ])
    }

    /// A module of the architecture, as the nodes that compute its inference.
    mutating func module(_ module: any Module, input: String, name: String, segmentation: Bool) throws -> String {
        switch module {
        case let m as ConvBN:
            var x = input
            if m.upsample != nil {
                let scales = constant(name + ".scales", [4], [1, 1, 2, 2])
                x = add("Resize", [x, "", scales], name: name + ".up", attributes: [
                    Self.string("mode", "nearest"), Self.string("coordinate_transformation_mode", "asymmetric"), Self.string("nearest_mode", "floor"),
                ])
            }
            let t = m.inferenceTensors()
            x = conv(x, weight: t[0], bias: t[1], kernel: m.conv.kernel, stride: m.conv.stride, padding: m.conv.padding, name: name)
            return m.relu ? add("Relu", [x], name: name + ".relu") : x
        case let m as BasicBlock:
            let middle = try self.module(m.first, input: input, name: name + ".first", segmentation: segmentation)
            return try self.module(m.second, input: middle, name: name + ".second", segmentation: segmentation)
        case let m as PooledLinear:
            let t = m.inferenceTensors()
            let pooled = add("GlobalAveragePool", [input], name: name + ".pool")
            let flat = add("Flatten", [pooled], name: name + ".flatten", attributes: [Self.int("axis", 1)])
            let w = constant(name + ".weight", t[0].shape, t[0].values)
            let b = constant(name + ".bias", t[1].shape, t[1].values)
            return add("Gemm", [flat, w, b], name: name, attributes: [Self.int("transB", 1)])
        case let m as PointwiseClassifier:
            let t = m.inferenceTensors()
            let bias = t.count > 1 ? t[1] : Tensor(shape: [m.conv.outChannels])
            let y = conv(input, weight: t[0], bias: bias, kernel: 1, stride: 1, padding: 0, name: name)
            // On a 1x1 map the classifier's logits are (batch, classes).
            return segmentation ? y : add("Flatten", [y], name: name + ".flatten", attributes: [Self.int("axis", 1)])
        case let m as Pool:
            return add(m.pool.kind == .max ? "MaxPool" : "AveragePool", [input], name: name, attributes: [
                Self.ints("kernel_shape", [2, 2]), Self.ints("strides", [2, 2]),
            ])
        case is Skip:
            return add("Identity", [input], name: name)
        default:
            throw SessionError("ONNX export: no ONNX form for a module of kind \(module.kind.rawValue) (\(name))")
        }
    }
}

extension ExportedModel {
    /// Writes the model as ONNX; the report names the operators.
    public func exportONNX(to path: String) throws -> Interface.Message {
        let onnx = try ONNXExport(self)
        let written = try onnx.write(to: path), bytes = written.bytes
        let h = header
        return Interface.Message("wrote \(path) (\(Format.quantity(Double(bytes))) bytes, ONNX opset \(ONNXExport.opset)): \(onnx.model.graph.node.count) nodes ("
                       + onnx.operators.map { "\($0.count) \($0.name)" }.joined(separator: ", ") + "); input image (batch, \(h.channels), \(h.inputHeight), \(h.inputWidth)), "
                       + "normalised as byte / 127.5 − 1; output logits (batch, \(h.classNames.count)\(h.segmentation ? ", \(h.inputHeight), \(h.inputWidth)" : ""))"
                       + (written.note.map { "\n" + $0 } ?? ""))
    }
}

extension Session {
    /// Writes the deterministic architecture as an ONNX model (`ONNXExport`).
    @discardableResult
    public func exportONNX(to path: String) throws -> Interface.Message {
        try ExportedModel(session: self).exportONNX(to: path)
    }
}
