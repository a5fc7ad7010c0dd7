import Foundation

/// One line of progress for long work: a bar, the count, and the time left
/// at the rate so far ("decoding images [######......] 4200/10000, 3 s left").
public final class ProgressText {
    private let start = Date()
    public init() {}

    public func line(_ what: String, _ done: Int, _ total: Int) -> String {
        let width = 24, filled = total > 0 ? min(width, width * done / total) : 0
        var text = "\(what) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(total)"
        let elapsed = Date().timeIntervalSince(start)
        if done > 0, done < total, elapsed > 0.5 {
            let left = elapsed * Double(total - done) / Double(done)
            text += left < 90 ? String(format: ", %.0f s left", left.rounded(.up)) : String(format: ", %.0f min left", (left / 60).rounded(.up))
        }
        return text
    }
}
