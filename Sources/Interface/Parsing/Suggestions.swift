import Foundation

/// ", did you mean 'x'?" for the closest candidate, or "".
public func didYouMean(_ word: String, in candidates: [String], suffix: String = "") -> String {
    nearest(word, in: candidates).map { ", did you mean '\($0)\(suffix)'?" } ?? ""
}

/// The closest of `candidates` to `word` (edit distance at most a third of its length, at least 2).
public func nearest(_ word: String, in candidates: [String]) -> String? {
    let best = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }.min { $0.1 < $1.1 }
    guard let (name, d) = best, d <= max(2, word.count / 3) else { return nil }
    return name
}

public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var previous = row[0]
        row[0] = i
        for j in 1...max(b.count, 1) where !b.isEmpty {
            let old = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = old
        }
    }
    return a.isEmpty ? b.count : row[b.count]
}
