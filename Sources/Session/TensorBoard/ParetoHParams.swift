import Foundation
import Interface
import SwiftProtobuf
import TensorBoardProto

/// `pareto tensorboard=<folder>`: the models of a sweep as TensorBoard's
/// HParams table, one row per model. Each child's run folder
/// (`<folder>/<child>`, where its training curves are when the sweep had
/// `tensorboard=`) gets its hyper-parameters (model, kind, budget, λ, seed)
/// as a session start and its results as scalars at its last step:
/// pareto/val_<metric>, pareto/test_<metric> (measured for the front),
/// pareto/<cost> and pareto/on_front (1 on the front, 0 off it). The
/// parent's run folder gets the experiment: the table's columns.
extension Session {
    /// Writes the report's models (each seed's child when a setting has several) as an HParams table under `root`; returns the runs written.
    @discardableResult
    public func writeHParams(_ report: ParetoReport, to root: String) throws -> Int {
        let rows = report.seedRows.isEmpty ? report.rows : report.seedRows
        let measure = report.metric == .accuracy ? "accuracy" : "mean_iou"
        let metrics = ["pareto/val_\(measure)", "pareto/test_\(measure)", "pareto/\(report.costName)", "pareto/on_front"]
        let folder = try Self.tensorboardFolder(root)

        var experiment = Tensorboard_Hparams_Experiment()
        experiment.description_p = "the models of the sweep of '\(report.parent)': \(report.split) \(report.metric) against \(report.costName)"
        experiment.timeCreatedSecs = Date().timeIntervalSince1970
        experiment.hparamInfos = [("model", Tensorboard_Hparams_DataType.string), ("kind", .string), ("budget", .float64), ("lambda", .float64),
                                  ("seed", .float64)].map { name, type in
            var info = Tensorboard_Hparams_HParamInfo()
            (info.name, info.type) = (name, type)
            return info
        }
        experiment.metricInfos = metrics.map { tag in
            var info = Tensorboard_Hparams_MetricInfo()
            info.name.tag = tag
            return info
        }
        var data = Tensorboard_Hparams_HParamsPluginData()
        data.experiment = experiment
        let parent = try TensorBoardRun(root: folder, run: report.parent)
        parent.append(step: 0, [try Self.hparamsValue("_hparams_/experiment", data)])
        try parent.flush()

        for row in rows {
            var start = Tensorboard_Hparams_SessionStartInfo()
            start.startTimeSecs = Date().timeIntervalSince1970
            start.hparams["model"] = Google_Protobuf_Value(stringValue: row.model)
            start.hparams["kind"] = Google_Protobuf_Value(stringValue: row.kind.rawValue)
            if let budget = row.budget { start.hparams["budget"] = Google_Protobuf_Value(numberValue: budget) }
            if let lambda = row.lambda { start.hparams["lambda"] = Google_Protobuf_Value(numberValue: lambda) }
            if let seed = row.seed { start.hparams["seed"] = Google_Protobuf_Value(numberValue: Double(seed)) }
            var end = Tensorboard_Hparams_SessionEndInfo()
            (end.status, end.endTimeSecs) = (.success, Date().timeIntervalSince1970)
            var startData = Tensorboard_Hparams_HParamsPluginData(), endData = Tensorboard_Hparams_HParamsPluginData()
            startData.sessionStartInfo = start
            endData.sessionEndInfo = end

            let run = try TensorBoardRun(root: folder, run: row.session)
            run.append(step: 0, [try Self.hparamsValue("_hparams_/session_start_info", startData)])
            let results = zip(metrics, [row.validationAccuracy, row.testAccuracy, row.cost, row.onFront ? 1 : 0]).compactMap { tag, value in
                value.map { TensorBoardRun.scalar(tag, $0) }
            }
            run.append(step: row.steps, results)
            run.append(step: row.steps, [try Self.hparamsValue("_hparams_/session_end_info", endData)])
            try run.flush()
        }
        return rows.count
    }

    /// A summary value of the HParams plugin: its data as the metadata's content, an empty float tensor as its value.
    private static func hparamsValue(_ tag: String, _ data: Tensorboard_Hparams_HParamsPluginData) throws -> Tensorboard_Summary.Value {
        var value = Tensorboard_Summary.Value()
        value.tag = tag
        value.metadata.pluginData.pluginName = "hparams"
        value.metadata.pluginData.content = try data.serializedBytes()
        var tensor = Tensorboard_TensorProto()
        tensor.dtype = .dtFloat
        tensor.tensorShape.dim = [Tensorboard_TensorShapeProto.Dim()]
        value.tensor = tensor
        return value
    }
}
