import Foundation

/// A number, with k/M/G suffixes ("5M" = 5e6) and exponents.
public func parseNumber(_ text: String) -> Double? {
    let t = text.trimmingCharacters(in: .whitespaces)
    let suffixes: [Character: Double] = ["k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9]
    if let last = t.last, let m = suffixes[last], let x = Double(t.dropLast()) { return x * m }
    return Double(t)
}

/// A whole number, written plainly or as `parseNumber` reads it ("10M", "1e6", "2.5k"); nil if it is not whole or not an Int.
public func parseWhole(_ text: String) -> Int? {
    if let n = Int(text) { return n }
    guard let x = parseNumber(text), x.isFinite, x == x.rounded(), abs(x) < 9.2e18 else { return nil }
    return Int(x)
}

/// Comma-separated numbers as `parseNumber` reads them ("2M,4M,8M"); nil if any is not a finite number.
public func parseNumberList(_ text: String) -> [Double]? {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { parseNumber(String($0)) }
    guard !parts.isEmpty, parts.allSatisfy({ $0?.isFinite == true }) else { return nil }
    return parts.map { $0! }
}

/// A duration in milliseconds: "30ms", "0.03s", "500us" (or "500µs"), or a number (milliseconds, k/M/G suffixes as `parseNumber`).
public func parseMilliseconds(_ text: String) -> Double? {
    let t = text.trimmingCharacters(in: .whitespaces)
    for (suffix, scale) in [("ms", 1.0), ("us", 1e-3), ("µs", 1e-3), ("s", 1e3)] where t.hasSuffix(suffix) {
        return Double(t.dropLast(suffix.count)).map { $0 * scale }
    }
    return parseNumber(t)
}

/// What a time budget written with a k, M or G suffix is read as, when it is: one warning line.
public func timeSuffixWarning(_ text: String) -> String? {
    guard let last = text.last, "kKMG".contains(last), let ms = parseNumber(text) else { return nil }
    return "'\(text)' is read as \(Format.quantity(ms)) ms (\(Format.duration(ms / 1000))): time budgets are milliseconds; write 30ms, 0.03s or 500us"
}
