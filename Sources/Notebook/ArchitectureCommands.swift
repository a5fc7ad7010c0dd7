import Datasets
import Foundation
import Interface
import Session

struct SampleCommand: Command {
    let name = "sample"
    let group = CommandGroup.architectures
    let effect: CommandEffect = .reads
    let usage = "sample [n] [--json]"
    let summary = "draws n architectures from the gate distribution and prints their costs"
    let example = "sample 5"
    let words = ["--json"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let countWord = a.next() ?? "5"
        guard let n = parseWhole(countWord), (1...10_000).contains(n) else { throw UsageError("sample: expected a number of architectures in 1…10000, got '\(countWord)'") }
        try a.finish()
        return try nb.session.sample(n)
    }
}

struct InspectCommand: Command {
    let name = "inspect"
    let group = CommandGroup.architectures
    let effect: CommandEffect = .reads
    let usage = "inspect [--all] [--json]"
    let summary = "the gate distribution: per-gate probability and entropy, expected vs deterministic cost vs budget"
    let example = "inspect"
    let words = ["--all", "--json"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let all = a.flag("all")
        try a.finish()
        return try nb.session.inspect(all: all)
    }
}

struct ArchCommand: Command {
    let name = "arch"
    let group = CommandGroup.architectures
    let effect: CommandEffect = .reads
    let usage = "arch"
    let summary = "the deterministic architecture (gates with p > 0.5), pruned to its input → output paths"
    let example = "arch"

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        try a.finish()
        return try nb.session.architecture()
    }
}

struct ExportCommand: Command {
    let name = "export"
    let group = CommandGroup.architectures
    let effect: CommandEffect = .leaderOnly
    let usage = "export arch <file.json> | export model <file.bsnmodel> | export onnx <file.onnx> [--model=<file>] | export script <file.bsn> | export images <folder> [split=all|train|val|test]"
    let summary = "writes the deterministic architecture (build from reads it), the model found (infer runs it), the commands as a script, or the dataset as PNG files"
    let example = "export model found.bsnmodel"
    let details = """
    arch     the deterministic architecture as JSON: nodes, edges, costs (build from trains it as a fixed baseline)
    model    one self-contained, checksummed file: the architecture, its weights with batch norm folded
             into the convolutions, the class names, image size and normalisation (infer, bsn infer)
    onnx     the model found as ONNX (opset 17), for ONNX Runtime and other runtimes: the pruned graph,
             convolutions with batch norm folded in, NCHW input "image" (a dynamic batch), output
             "logits"; class names and normalisation in its metadata. --model=<file>: an exported model's
    script   the commands of the cells that changed state, replayable with bsn run
    images   the loaded dataset (embedded sets too) as PNG files in a new or empty folder, in the layout
             load images (classification: <split>/<class>/<n>.png) or load masks (segmentation:
             <split>/images/, <split>/masks/ index PNGs) reads; classes.txt keeps the class order.
             split=all (the default) writes train/ val/ test/; one split goes straight under the folder
    """
    let words = ["arch", "model", "onnx", "script", "images", "--model=", "split="]
    /// Commands left out of an exported script: they change nothing a replay needs.

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let what = try a.required("arch, model, onnx, script or images")
        let path = try a.required(what == "images" ? "a folder" : "a file name")
        let model = what == "onnx" ? a.option("model") : nil
        let split = what == "images" ? a.option("split") : nil
        try a.finish()
        switch what {
        case "images":
            let splits = try split.map { $0 == "all" ? Split.allCases : [try Split(parsing: $0)] } ?? Split.allCases
            let bar = ProgressText()
            return try nb.session.exportImages(to: path, splits: splits, progress: { done, total in nb.console.progress(bar.line("writing images", done, total)) },
                                               cancel: nb.freshCancellation)
        case "onnx":
            if let model { return try ExportedModel(file: model).exportONNX(to: path) }
            return try nb.session.exportONNX(to: path)
        case "arch": return try nb.session.exportArchitecture(to: path)
        case "model": return try nb.session.exportModel(to: path)
        case "script": return try nb.session.exportScript(to: path, readOnlyCommands: Registry.readOnly)
        default: throw UsageError("export: expected arch, model, onnx, script or images, got '\(what)'" + didYouMean(what, in: ["arch", "model", "onnx", "script", "images"]))
        }
    }
}

struct InferCommand: Command {
    let name = "infer"
    let group = CommandGroup.selection
    let effect: CommandEffect = [.changesState, .leaderOnly]
    let usage = "infer <image.png|jpg> [more…] [fit=crop|stretch] [--model=<file>]"
    let summary = "runs the deterministic architecture (or an exported model) on your own images"
    let example = "infer cat.png dog.jpg"
    let details = """
    Classification: the 5 most probable classes. Segmentation: <image>.mask.png and <image>.overlay.png
    beside each image (the colours of render masks) and each class's share of the pixels. An image of
    another size than the dataset's is brought to it: its shorter side resized and the centre cropped
    (fit=crop, the default, as test pipelines do), or both sides resized (fit=stretch); the output says
    which. Then, as in the test pipeline, it is centred on the network's input.
    --model=<file> runs a file written by export model instead of the session's.
    """
    let words = ["--model=", "fit=", "fit=crop", "fit=stretch"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let model = a.option("model")
        let fit: ImageFit = try a.choice("fit") ?? .crop
        var paths = [String]()
        while let p = a.next() { paths.append(p) }
        try a.finish()
        guard !paths.isEmpty else { throw UsageError("infer: which images? (e.g. infer cat.png)") }
        if let model { return try ExportedModel(file: model).infer(paths, fit: fit) }
        return try nb.session.infer(paths, fit: fit)
    }
}
