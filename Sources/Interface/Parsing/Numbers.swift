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
