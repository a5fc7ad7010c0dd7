import Datasets
import Foundation
import Interface
import Session

struct LoadCommand: Command {
    let name = "load"
    let usage = "load cifar10|cifar100|partlabels <folder> | load shapes|faces [options]"
    let summary = "loads a dataset (the official files, or an embedded synthetic set)"
    let example = "load cifar10 ~/data/cifar-10-batches-bin val=5000"
    let details = """
    cifar10 <folder>      the official binary version (cifar-10-batches-bin); val= validation images (5000)
    cifar100 <folder>     cifar-100-binary; labels=fine|coarse (fine); val= (5000)
    partlabels <folder>   LFW Part Labels root; onerror=stop|skip for missing or damaged images (stop)
    shapes                10 classes of shapes, 32x32; train= val= test= (5000 1000 1000) seed= (1)
    faces                 hair/skin/background segmentation; size= (64) train= val= test= (1000 200 200) seed=
    """
    let words = ["cifar10", "cifar100", "partlabels", "shapes", "faces", "val=", "labels=", "onerror=", "train=", "test=", "seed=", "size="]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        let kindName = try a.required("a dataset: cifar10, cifar100, partlabels, shapes or faces")
        guard let kind = DatasetKind(rawValue: kindName.lowercased()) else {
            throw UsageError("load: unknown dataset '\(kindName)'" + didYouMean(kindName, in: DatasetKind.allCases.map(\.rawValue))
                             + " (cifar10, cifar100, partlabels, shapes, faces)")
        }
        var spec = DatasetSpec(kind: kind)
        if kind.isSynthetic {
            spec.trainSize = try a.int("train", default: spec.trainSize)!
            spec.validationSize = try a.int("val", "validation", default: spec.validationSize, range: 0...Int.max)!
            spec.testSize = try a.int("test", default: spec.testSize, range: 0...Int.max)!
            spec.seed = UInt64(try a.int("seed", default: Int(spec.seed), range: 0...Int.max)!)
            if kind == .faces { spec.side = try a.int("size", default: spec.side, range: 16...512)! }
        } else {
            spec.path = try a.required("the dataset's folder")
            if kind == .cifar10 || kind == .cifar100 { spec.validation = try a.int("val", "validation", default: 5000, range: 0...Int.max)! }
            if kind == .cifar100, let labels = a.option("labels") {
                guard ["fine", "coarse"].contains(labels) else { throw UsageError("load: labels= takes fine or coarse, got '\(labels)'") }
                spec.coarseLabels = labels == "coarse"
            }
            if kind == .partlabels, let policy: DamagedFilePolicy = try a.choice("onerror") { spec.onDamagedFile = policy }
        }
        try a.finish()
        return try nb.session.load(spec, progress: { done, total in nb.console.progress("decoding images \(done)/\(total)") },
                                   cancel: nb.freshCancellation)
    }
}

struct DataCommand: Command {
    let name = "data"
    let usage = "data [--json]"
    let summary = "the loaded dataset: splits, image shape, classes and their balance, pipeline"
    let example = "data"
    let words = ["--json"]

    func run(_ a: inout Arguments, _ nb: Notebook) throws -> any Output {
        try a.finish()
        return try nb.session.dataSummary()
    }
}
