import Foundation
import Interface
import Session
import SuperNet

/// Training as a rich front end shows it (the Jupyter kernel): one display,
/// updated in place, with the epoch table so far, the step in progress
/// (loss, accuracy, cost, ETA) and, from the first epoch on, the curves of
/// `render history`, redrawn after each epoch. Step updates come at most
/// twice a second; epoch updates always.
final class LiveTraining {
    private let nb: Notebook, listener: NotebookListener, key: String
    private var columns = TrainingReport.Columns(costName: "flops", searching: true, segmentation: false)
    private var table = TrainingReport.table(TrainingReport.Columns(costName: "flops", searching: true, segmentation: false))
    private var status = "starting", curves = ""
    private var lastUpdate = Date.distantPast
    /// The width of the curves' picture, in pixels.
    static let plotWidth = 720

    init(_ nb: Notebook, _ listener: NotebookListener) {
        self.nb = nb
        self.listener = listener
        key = "train-\(nb.nextCell - 1)"
    }

    var observer: TrainingObserver {
        var observer = TrainingObserver()
        observer.begin = { [self] c in
            columns = c
            table = TrainingReport.table(c)
            publish()
        }
        observer.step = { [self] m, done, steps, elapsed in
            let eta = elapsed / Double(done) * Double(steps - done)
            status = String(format: "step %d/%d  loss %@  acc %.3f  %@ %@  ETA %@", done, steps, Format.decimal(m.loss), m.accuracy, columns.costName,
                            Format.quantity(columns.searching ? m.sampledCost : m.deterministicCost), Format.duration(eta))
            if done == steps || Date().timeIntervalSince(lastUpdate) >= 0.5 { publish() }
        }
        observer.validation = { [self] done, total in
            status = "validating \(done)/\(total) batches"
            if Date().timeIntervalSince(lastUpdate) >= 0.5 { publish() }
        }
        observer.epoch = { [self] row in
            table.add(row.cells(columns))
            // The curves as `render history` draws them, small, in the display itself (no file is written).
            if let png = try? nb.session.pictureData(.history, width: Self.plotWidth) {
                curves = "<img src=\"data:image/png;base64,\(png.base64EncodedString())\" width=\"\(Self.plotWidth)\"/>"
            }
            publish()
        }
        return observer
    }

    private func publish() {
        lastUpdate = Date()
        listener.live(LiveDisplay(key: key, text: table.text + "\n" + status,
                                  html: table.html + "\n<pre>\(HTML.escape(status))</pre>" + (curves.isEmpty ? "" : "\n" + curves)))
    }
}
