import Files
import Foundation
import Interface
import SuperNet
import TensorBoardProto

/// A TensorBoard run that training writes as it goes (`set tensorboard
/// <folder>`): the folder `<folder>/<session name>/`, which `tensorboard
/// --logdir <folder>` shows as one run.
///
/// Events are kept in memory and written as a new event file at the end of
/// each epoch, at most a minute apart, and when training ends (interrupted
/// too). Each file is written whole and atomically, like every file bsn
/// writes, so a reader or a crash never sees half a record: TensorBoard reads
/// a run's files in the order of their names, which the sequence number in
/// them keeps.
///
/// Scalars, by step: train/loss, train/accuracy, train/learning_rate,
/// cost/sampled, cost/deterministic, gates/entropy (the step metrics); at
/// each epoch's last step: val/accuracy (segmentation: val/pixel_accuracy and
/// val/mean_iou), cost/expected, and the super network's graph as an image.
public final class TensorBoardRun {
    public let folder: URL
    private var pending = [Tensorboard_Event]()
    private var sequence = 0
    private let stamp: Int
    private var lastWrite = Date()

    /// The longest time events wait in memory, in seconds.
    static let flushInterval = 60.0

    /// Creates the run's folder (and `root` if needed).
    public init(root: String, run: String) throws {
        folder = URL(fileURLWithPath: root).appendingPathComponent(run)
        try Self.check(root: root, written: root)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw SessionError("tensorboard: cannot create the folder \(folder.path) (\(error.localizedDescription))")
        }
        stamp = Int(Date().timeIntervalSince1970)
    }

    /// Refuses a logs folder training could not write: something that exists
    /// and is not a folder, a symbolic link included (bsn never writes through
    /// one). `set tensorboard` checks it too, so that `train` does not refuse
    /// it later, after the user has left.
    public static func check(root: String, written: String) throws {
        var info = stat()
        guard lstat(root, &info) == 0 else { return }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return
        case S_IFLNK: throw SessionError("tensorboard: \(written) is a symbolic link; bsn writes logs only into a real folder (give the folder it points to)")
        default: throw SessionError("tensorboard: \(written) exists and is not a folder")
        }
    }

    /// A step's metrics, as scalars at that step.
    public func add(_ m: StepMetrics) {
        scalars(step: m.step, [("train/loss", m.loss), ("train/accuracy", m.accuracy), ("train/learning_rate", Double(m.learningRate)),
                               ("cost/sampled", m.sampledCost), ("cost/deterministic", m.deterministicCost), ("gates/entropy", m.gateEntropy)])
    }

    /// An epoch's evaluation and expected cost at its last step, and the graph picture (PNG).
    public func add(_ e: EpochMetrics, step: Int, segmentation: Bool, graph: (png: Data, width: Int, height: Int)?) {
        var values = [(String, Double)]()
        if let v = e.validationAccuracy { values.append((segmentation ? "val/pixel_accuracy" : "val/accuracy", v)) }
        if let v = e.validationMeanIoU { values.append(("val/mean_iou", v)) }
        if let v = e.expectedCost { values.append(("cost/expected", v)) }
        scalars(step: step, values)
        if let graph {
            var image = Tensorboard_Summary.Image()
            (image.height, image.width, image.colorspace, image.encodedImageString) = (Int32(graph.height), Int32(graph.width), 4, graph.png)
            var value = Tensorboard_Summary.Value()
            value.tag = "architecture/graph"
            value.image = image
            append(step: step, [value])
        }
    }

    private func scalars(step: Int, _ values: [(String, Double)]) {
        append(step: step, values.map { Self.scalar($0, $1) })
    }

    /// A scalar summary value (TensorBoard keeps 32-bit floats).
    static func scalar(_ tag: String, _ x: Double) -> Tensorboard_Summary.Value {
        var value = Tensorboard_Summary.Value()
        value.tag = tag
        value.simpleValue = Float(x)
        return value
    }

    /// An event of these summary values at `step`, written at the next flush.
    func append(step: Int, _ values: [Tensorboard_Summary.Value]) {
        guard !values.isEmpty else { return }
        var event = Tensorboard_Event()
        event.wallTime = Date().timeIntervalSince1970
        event.step = Int64(step)
        event.summary.value = values
        pending.append(event)
    }

    /// Whether events have waited longer than `flushInterval`.
    public var due: Bool { !pending.isEmpty && Date().timeIntervalSince(lastWrite) >= Self.flushInterval }

    /// Writes the events kept so far as the run's next event file.
    public func flush() throws {
        guard !pending.isEmpty else { return }
        var version = Tensorboard_Event()
        version.wallTime = pending[0].wallTime
        version.fileVersion = "brain.Event:2"
        let bytes = try EventRecords.encode([version] + pending)
        // events.out.tfevents.<run start>.<sequence>.<host>.bsn: in order by name; a name taken (another run in the same second) is skipped.
        var path: String
        repeat {
            path = folder.appendingPathComponent(String(format: "events.out.tfevents.%010d.%06d.%@.bsn", stamp, sequence, Self.host)).path
            sequence += 1
        } while FileManager.default.fileExists(atPath: path)
        do { try AtomicFile.write(bytes, to: path) } catch { throw SessionError("tensorboard: \(error)") }
        pending.removeAll()
        lastWrite = Date()
    }

    private static let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init)?
        .filter { $0.isLetter || $0.isNumber || $0 == "-" } ?? "host"
}
