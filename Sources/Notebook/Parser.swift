import Foundation

/// A mistake in a command line: the message says what was expected.
public struct UsageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Splits a line into words: whitespace separates, "double" or 'single'
/// quotes group, a backslash escapes the next character, and an unquoted `#`
/// starting a word begins a comment. `$name` and `${name}` are replaced by
/// variables (not inside single quotes); `~` at the start of a word is the
/// home folder.
public func tokenize(_ line: String, variables: [String: String]) throws -> [String] {
    var words = [String](), word = "", inWord = false
    var quote: Character? = nil
    var chars = Array(line)[...]
    func expand() throws {
        // Reads a variable name after '$' and appends its value.
        var name = ""
        if chars.first == "{" {
            chars = chars.dropFirst()
            while let c = chars.first, c != "}" { name.append(c); chars = chars.dropFirst() }
            guard chars.first == "}" else { throw UsageError("unclosed ${ in: \(line)") }
            chars = chars.dropFirst()
        } else {
            while let c = chars.first, c.isLetter || c.isNumber || c == "_" || c == "-" { name.append(c); chars = chars.dropFirst() }
        }
        guard !name.isEmpty else { word.append("$"); return }
        guard let value = variables[name] else {
            let defined = variables.keys.sorted().map { "$" + $0 }.joined(separator: ", ")
            throw UsageError("unknown variable $\(name) (define it with: set \(name) <value>, or bsn run … --set \(name)=<value>"
                             + (variables.isEmpty ? ")" : "; defined: \(defined))"))
        }
        word += value
    }
    while let c = chars.first {
        chars = chars.dropFirst()
        if let q = quote {
            if c == q { quote = nil }
            else if c == "\\" && q == "\"", let next = chars.first { word.append(next); chars = chars.dropFirst() }
            else if c == "$" && q == "\"" { try expand() }
            else { word.append(c) }
            continue
        }
        switch c {
        case " ", "\t", "\r", "\n":
            if inWord { words.append(word); word = ""; inWord = false }
        case "#" where !inWord:
            chars = []
        case "\"", "'":
            quote = c
            inWord = true
        case "\\":
            if let next = chars.first { word.append(next); chars = chars.dropFirst() }
            inWord = true
        case "$":
            try expand()
            inWord = true
        case "~" where !inWord && (chars.first == nil || chars.first == "/" || chars.first == " "):
            word += FileManager.default.homeDirectoryForCurrentUser.path
            inWord = true
        default:
            word.append(c)
            inWord = true
        }
    }
    if quote != nil { throw UsageError("unclosed quote in: \(line)") }
    if inWord { words.append(word) }
    return words
}

/// The words after a command name: positional words, `key=value` options and
/// `--flags`. Commands take what they understand; `finish` reports anything
/// left over as a mistake.
public struct Arguments {
    public let command: String
    public private(set) var positional: [String]
    private var options: [String: String]
    private var flags: Set<String>
    private var used = Set<String>()

    public init(command: String, words: [String]) throws {
        self.command = command
        var p = [String](), o = [String: String](), f = Set<String>()
        var i = 0
        while i < words.count {
            let w = words[i]
            if w.hasPrefix("--") && w.count > 2 {
                let body = String(w.dropFirst(2))
                if let eq = body.firstIndex(of: "=") { o[String(body[..<eq])] = String(body[body.index(after: eq)...]) } else { f.insert(body) }
            } else if let eq = w.firstIndex(of: "="), eq != w.startIndex, !w.hasPrefix("/"), !w.hasPrefix(".") {
                let key = String(w[..<eq])
                guard o[key] == nil else { throw UsageError("\(command): \(key)= given twice") }
                o[key] = String(w[w.index(after: eq)...])
            } else {
                p.append(w)
            }
            i += 1
        }
        positional = p
        options = o
        flags = f
    }

    public var isEmpty: Bool { positional.isEmpty }

    /// Takes the next positional word, or nil.
    public mutating func next() -> String? { positional.isEmpty ? nil : positional.removeFirst() }

    /// Takes the next positional word, or throws naming what was expected.
    public mutating func required(_ what: String) throws -> String {
        guard let w = next() else { throw UsageError("\(command): expected \(what)") }
        return w
    }

    public mutating func flag(_ name: String) -> Bool {
        used.insert("--" + name)
        return flags.contains(name)
    }

    public mutating func option(_ keys: String...) -> String? {
        for k in keys { used.insert(k) }
        for k in keys { if let v = options[k] { return v } }
        return nil
    }

    public mutating func int(_ keys: String..., default d: Int? = nil, range: ClosedRange<Int> = 1...Int.max) throws -> Int? {
        for k in keys { used.insert(k) }
        guard let (_, v) = lookup(keys) else { return d }
        guard let n = parseWhole(v), range.contains(n) else { throw UsageError("\(command): \(keys[0])= takes a whole number in \(describe(range)), got '\(v)'") }
        return n
    }

    public mutating func double(_ keys: String..., default d: Double? = nil) throws -> Double? {
        for k in keys { used.insert(k) }
        guard let (_, v) = lookup(keys) else { return d }
        guard let x = parseNumber(v), x.isFinite else { throw UsageError("\(command): \(keys[0])= takes a number, got '\(v)'") }
        return x
    }

    private func lookup(_ keys: [String]) -> (String, String)? {
        for k in keys { if let v = options[k] { return (k, v) } }
        return nil
    }

    /// Reports words nobody took: unknown options (with the nearest known one) or extra words.
    public func finish(known: [String] = []) throws {
        for k in options.keys.sorted() where !used.contains(k) {
            let candidates = used.filter { !$0.hasPrefix("--") }
            throw UsageError("\(command): unknown option '\(k)='" + didYouMean(k, in: Array(candidates), suffix: "=")
                             + (candidates.isEmpty ? " (this command takes no options)" : ""))
        }
        for f in flags.sorted() where !used.contains("--" + f) {
            throw UsageError("\(command): unknown flag '--\(f)'" + didYouMean("--" + f, in: used.filter { $0.hasPrefix("--") }))
        }
        if let extra = positional.first { throw UsageError("\(command): unexpected '\(extra)'") }
    }
}

func describe(_ r: ClosedRange<Int>) -> String { r.upperBound == Int.max ? "\(r.lowerBound)…" : "\(r.lowerBound)…\(r.upperBound)" }

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

/// ", did you mean 'x'?" for the closest candidate, or "".
func didYouMean(_ word: String, in candidates: [String], suffix: String = "") -> String {
    nearest(word, in: candidates).map { ", did you mean '\($0)\(suffix)'?" } ?? ""
}

/// The closest of `candidates` to `word` (edit distance at most a third of its length, at least 2).
public func nearest(_ word: String, in candidates: [String]) -> String? {
    let best = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }.min { $0.1 < $1.1 }
    guard let (name, d) = best, d <= max(2, word.count / 3) else { return nil }
    return name
}

func editDistance(_ a: String, _ b: String) -> Int {
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
