import Datasets
import Foundation
import Interface
import Session

struct LoadCommand: Command {
    let name = "load"
    let group = CommandGroup.data
    let effect: CommandEffect = .changesState
    var usage: String { "load <dataset> [options]   (" + DatasetSources.catalogue.words.joined(separator: ", ") + ")" }
    let summary = "loads a dataset (the official files, or an embedded synthetic set)"
    let example = "load cifar10 ~/data/cifar-10-batches-bin val=5000"
    var details: String { DatasetSources.catalogue.help(width: 60) }
    var words: [String] { DatasetSources.catalogue.words + DatasetSources.catalogue.completions }

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let word = try a.required("a dataset: " + DatasetSources.catalogue.words.joined(separator: ", "))
        let source = try DatasetSources.parse(word, &a)
        try a.finish()
        let bar = ProgressText()
        return try nb.session.load(source, progress: { done, total in nb.console.progress(bar.line("decoding images", done, total)) },
                                   cancel: nb.freshCancellation)
    }
}

struct DataCommand: Command {
    let name = "data"
    let group = CommandGroup.data
    let effect: CommandEffect = .reads
    let usage = "data [--json]"
    let summary = "the loaded dataset: splits, image shape, classes and their balance, pipeline"
    let example = "data"
    let words = ["--json"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        try a.finish()
        return try nb.session.dataSummary()
    }
}
