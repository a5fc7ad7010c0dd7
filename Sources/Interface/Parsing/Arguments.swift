import Foundation

/// A mistake in a command line: the message says what was expected.
public struct UsageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
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
    /// The `--options` that take the next word as their value.
    private let valued: Set<String>

    /// `valued` names the `--options` whose value is the next word
    /// (`--algorithm direct`); any `--option=value` works without it.
    public init(command: String, words: [String], valued: Set<String> = []) throws {
        self.command = command
        self.valued = valued
        var p = [String](), o = [String: String](), f = Set<String>()
        var i = 0
        while i < words.count {
            let w = words[i]
            if w.hasPrefix("--") && w.count > 2 {
                let body = String(w.dropFirst(2))
                if let eq = body.firstIndex(of: "=") {
                    o[String(body[..<eq])] = String(body[body.index(after: eq)...])
                } else if valued.contains(body) {
                    guard i + 1 < words.count else { throw UsageError("\(command): --\(body) takes a value") }
                    o[body] = words[i + 1]
                    i += 1
                } else {
                    f.insert(body)
                }
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

    /// A comma-separated list of whole numbers in `range` ("1,2,4").
    public mutating func wholeList(_ keys: String..., range: ClosedRange<Int> = 1...Int.max) throws -> [Int]? {
        for k in keys { used.insert(k) }
        guard let (_, v) = lookup(keys) else { return nil }
        let list = v.split(separator: ",").compactMap { parseWhole(String($0)) }
        guard !list.isEmpty, list.count == v.split(separator: ",", omittingEmptySubsequences: false).count, list.allSatisfy(range.contains) else {
            throw UsageError("\(command): \(keys[0])= takes whole numbers in \(describe(range)) separated by commas (e.g. 1,2,4), got '\(v)'")
        }
        return list
    }

    /// A grid axis of numbers ≥ 0: a comma-separated list ("1e-7,1e-6"; k/M/G
    /// suffixes), any part of which may be a log-spaced range a..b:n (`parseGridAxis`).
    public mutating func numberList(_ keys: String...) throws -> [Double]? {
        for k in keys { used.insert(k) }
        guard let (_, v) = lookup(keys) else { return nil }
        let list: [Double]
        do { list = try parseGridAxis(v) } catch {
            throw UsageError("\(command): \(keys[0])= takes numbers ≥ 0 separated by commas, or a range a..b:n (e.g. 1e-7,1e-6 or 1e-8..1e-6:5): \(error)")
        }
        guard list.allSatisfy({ $0 >= 0 }) else {
            throw UsageError("\(command): \(keys[0])= takes numbers ≥ 0, got '\(v)'")
        }
        return list
    }

    /// Seeds: N alone is the seeds 1…N; a..b the seeds a…b; else a comma-separated list (1,5,9).
    public mutating func seedList(_ keys: String...) throws -> [UInt64]? {
        for k in keys { used.insert(k) }
        guard let (_, v) = lookup(keys) else { return nil }
        let usage = "\(command): \(keys[0])= takes a count N (the seeds 1…N), a range a..b, or seeds separated by commas (1,5,9), at most 1000 of them; got '\(v)'"
        if let n = Int(v) {
            guard (1...1000).contains(n) else { throw UsageError(usage) }
            return (1...n).map(UInt64.init)
        }
        if let dots = v.range(of: ".."), let a = UInt64(v[..<dots.lowerBound]), let b = UInt64(v[dots.upperBound...]) {
            guard a <= b, b - a < 1000 else { throw UsageError(usage) }
            return Array(a...b)
        }
        let list = v.split(separator: ",", omittingEmptySubsequences: false).compactMap { UInt64($0) }
        guard list.count >= 2, list.count <= 1000, list.count == v.split(separator: ",", omittingEmptySubsequences: false).count else { throw UsageError(usage) }
        return list
    }

    /// One of a type's named values (`mode=mask`), or nil when the option is absent.
    public mutating func choice<T: RawRepresentable & CaseIterable>(_ keys: String...) throws -> T? where T.RawValue == String {
        for k in keys { used.insert(k) }
        guard let (_, v) = lookup(keys) else { return nil }
        guard let value = T(rawValue: v) else {
            throw UsageError("\(command): \(keys[0])= takes \(T.allCases.map(\.rawValue).joined(separator: " or ")), got '\(v)'"
                             + didYouMean(v, in: T.allCases.map(\.rawValue)))
        }
        return value
    }

    /// yes/no (also true/false, on/off), or nil when the option is absent.
    public mutating func yesNo(_ keys: String...) throws -> Bool? {
        for k in keys { used.insert(k) }
        guard let (_, v) = lookup(keys) else { return nil }
        switch v {
        case "yes", "true", "on": return true
        case "no", "false", "off": return false
        default: throw UsageError("\(command): \(keys[0])= takes yes or no (on or off), got '\(v)'")
        }
    }

    private func lookup(_ keys: [String]) -> (String, String)? {
        for k in keys { if let v = options[k] { return (k, v) } }
        return nil
    }

    /// Takes every `key=value` option not taken yet (a search space's parameters), by key.
    public mutating func remainingOptions() -> [String: String] {
        var rest = [String: String]()
        for (k, v) in options where !used.contains(k) {
            rest[k] = v
            used.insert(k)
        }
        return rest
    }

    /// Reports words nobody took: unknown options (with the nearest known one) or extra words.
    public func finish(known: [String] = []) throws {
        for k in options.keys.sorted() where !used.contains(k) {
            let candidates = used.filter { !$0.hasPrefix("--") }
            let suggestion = didYouMean(k, in: Array(candidates), suffix: "=")
            throw UsageError("\(command): unknown option '\(k)='" + suggestion
                             + (candidates.isEmpty ? " (this command takes no options)"
                                : suggestion.isEmpty ? " (it takes " + candidates.sorted().map { $0 + "=" }.joined(separator: ", ") + ")" : ""))
        }
        for f in flags.sorted() where !used.contains("--" + f) {
            let known = used.filter { $0.hasPrefix("--") } + valued.map { "--" + $0 }
            let suggestion = didYouMean("--" + f, in: known)
            throw UsageError("\(command): unknown flag '--\(f)'" + suggestion
                             + (known.isEmpty ? " (this command takes no flags)" : suggestion.isEmpty ? " (it takes " + Set(known).sorted().joined(separator: ", ") + ")" : ""))
        }
        if let extra = positional.first { throw UsageError("\(command): unexpected '\(extra)'") }
    }
}

/// "1…10", or "1…" for an open range.
public func describe(_ r: ClosedRange<Int>) -> String { r.upperBound == Int.max ? "\(r.lowerBound)…" : "\(r.lowerBound)…\(r.upperBound)" }
