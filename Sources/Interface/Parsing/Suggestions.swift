import Foundation

/// ", did you mean 'x'?" for the closest candidate, or "".
public func didYouMean(_ word: String, in candidates: [String], suffix: String = "") -> String {
    nearest(word, in: candidates).map { ", did you mean '\($0)\(suffix)'?" } ?? ""
}

/// The longest word a suggestion is looked for (in bytes): nobody mistypes a
/// name of 65 characters, and the edit distance of a megabyte-long word would take seconds.
public let longestSuggestedWord = 64

/// The closest of `candidates` to `word` (edit distance at most a third of its length, at least 2).
public func nearest(_ word: String, in candidates: [String]) -> String? {
    guard word.utf8.count <= longestSuggestedWord else { return nil }
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

/// A word as a message shows it: at most `limit` characters, then "…" (a
/// pasted megabyte is not repeated back whole).
public func shown(_ word: some StringProtocol, limit: Int = 40) -> String {
    word.count > limit ? String(word.prefix(limit)) + "…" : String(word)
}

/// `text` with every word of more than 200 characters (a run without a
/// space) shown by its first 40 and "… (N characters)": a message that
/// quotes a pasted megabyte does not repeat it.
public func shortenedWords(_ text: String) -> String {
    guard text.utf8.count > 200 else { return text }
    return text.split(separator: " ", omittingEmptySubsequences: false).map { word in
        word.utf8.count > 200 ? String(word.prefix(40)) + "… (\(word.count) characters)" : String(word)
    }.joined(separator: " ")
}

/// The lines of a text, whatever ends them: "\n", "\r\n" (a script saved on
/// Windows) or a lone "\r". Swift's `split(separator: "\n")` sees "\r\n"
/// as one character that is not "\n" and would join such lines into one.
public func splitLines(_ text: String) -> [Substring] {
    var out = [Substring](), start = text.startIndex
    var i = text.unicodeScalars.startIndex
    let scalars = text.unicodeScalars
    while i < scalars.endIndex {
        let c = scalars[i]
        if c == "\n" || c == "\r" {
            out.append(text[start..<i])
            var next = scalars.index(after: i)
            if c == "\r", next < scalars.endIndex, scalars[next] == "\n" { next = scalars.index(after: next) }
            start = next
            i = next
        } else {
            i = scalars.index(after: i)
        }
    }
    out.append(text[start...])
    return out
}
