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

/// A grid axis as the user writes it: numbers separated by commas, any of
/// them a log-spaced range `a..b:n`, n values from a to b evenly spaced in
/// log scale, both ends included exactly ("1e-8..1e-6:3" is 1e-8, 1e-7, 1e-6).
/// `number` reads one value (k/M/G suffixes, a time budget's units…). Throws
/// a message saying what is wrong with the first part that does not read.
public func parseGridAxis(_ text: String, number: (String) -> Double? = parseNumber) throws -> [Double] {
    var values = [Double]()
    for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
        guard let dots = part.range(of: "..") else {
            guard let x = number(part), x.isFinite else { throw GridAxisError("'\(part)' is not a number") }
            values.append(x)
            continue
        }
        let rest = part[dots.upperBound...]
        guard let colon = rest.lastIndex(of: ":"), let a = number(String(part[..<dots.lowerBound])), let b = number(String(rest[..<colon])),
              let n = Int(rest[rest.index(after: colon)...]) else {
            throw GridAxisError("'\(part)' is not a range a..b:n (e.g. 1e-8..1e-6:5, five values from 1e-8 to 1e-6)")
        }
        guard a > 0, b > 0, a.isFinite, b.isFinite else { throw GridAxisError("'\(part)': a range is spaced in log scale, so both ends must be above 0") }
        guard (2...1000).contains(n) else { throw GridAxisError("'\(part)': a range takes 2…1000 values, got \(n)") }
        values += logSpaced(a, b, count: n)
    }
    return values
}

/// `count` values from `a` to `b` (both > 0) evenly spaced in log scale; the ends are `a` and `b` exactly.
public func logSpaced(_ a: Double, _ b: Double, count: Int) -> [Double] {
    guard count > 1 else { return [a] }
    let (la, lb) = (log(a), log(b))
    return (0..<count).map { k in
        k == 0 ? a : k == count - 1 ? b : exp(la + (lb - la) * Double(k) / Double(count - 1))
    }
}

public struct GridAxisError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
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

/// `NAME=VALUE`, as `bsn run --set` takes it: `$NAME` in the script is VALUE.
public struct Assignment: Sendable, Equatable {
    public let name: String, value: String

    public init(parsing pair: String) throws {
        guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
            throw UsageError("--set takes NAME=VALUE (e.g. --set data=$HOME/cifar-10-batches-bin), got '\(pair)'")
        }
        (name, value) = (String(pair[..<eq]), String(pair[pair.index(after: eq)...]))
    }
}
