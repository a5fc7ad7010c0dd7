import Foundation

/// The one number formatter of every printer (notebook tables, pictures,
/// benchmarks): quantities with k/M/G suffixes, decimals that survive a
/// diverging value, durations.
public enum Format {
    /// A quantity for people: "1.23M", "45.6k", "512", "0.125". With `exact`,
    /// every significant digit is kept ("2.5M", "0.1"): axis ticks use it.
    public static func quantity(_ x: Double, exact: Bool = false) -> String {
        let a = abs(x)
        if exact {
            if a >= 1e9 { return String(format: "%gG", x / 1e9) }
            if a >= 1e6 { return String(format: "%gM", x / 1e6) }
            if a >= 1e4 { return String(format: "%gk", x / 1e3) }
            return String(format: "%g", (x * 1e6).rounded() / 1e6)
        }
        if a >= 1e9 { return String(format: "%.2fG", x / 1e9) }
        if a >= 1e6 { return String(format: "%.2fM", x / 1e6) }
        if a >= 1e4 { return String(format: "%.1fk", x / 1e3) }
        if a == a.rounded() || a >= 1000 { return String(format: "%.0f", x) }
        if a >= 10 { return String(format: "%.1f", x) }
        return String(format: "%.3g", x)
    }

    /// `places` decimals for ordinary values; three significant digits once a
    /// value is too large for a table column (a diverging loss).
    public static func decimal(_ x: Double, _ places: Int = 4) -> String {
        abs(x) < 1e5 || !x.isFinite ? String(format: "%.\(places)f", x) : String(format: "%.3g", x)
    }

    /// Exactly `places` decimals ("0.979"), for values of known range (accuracies, probabilities).
    public static func fixed(_ x: Double, _ places: Int) -> String { String(format: "%.\(places)f", x) }

    /// "2.5s", "3m07s", "1h05m"; "?" when unknown.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, s % 3600 / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%.1fs", seconds)
    }
}
