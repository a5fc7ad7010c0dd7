import Foundation

/// An integer expression of a search-space file: numbers, parameters and
/// loop variables by name, `+ - * / %` (integer division, rounding toward
/// zero) and `<<` (a doubling: `16 << g`), parentheses, `min(a, b, …)` and `max(a, b, …)`, comparisons
/// (`< <= == != >= >`) and `and`, `or`, `not` (1 or 0), and `c ? a : b`.
/// Precedence, lowest first: `?:`, `or`, `and`, `not`, comparisons, `+ -`,
/// `<< * / %`, unary minus.
///
///     "2 * C"    "W - 1"    "k < S - 1 ? 2 : 1"    "max(0, k - 1)"
public struct SpaceExpression: Equatable, Sendable, CustomStringConvertible {
    public indirect enum Term: Equatable, Sendable {
        case number(Int)
        case name(String)
        case negate(Term), not(Term)
        case binary(String, Term, Term)
        case call(String, [Term])
        case choice(Term, Term, Term)
    }

    public let term: Term
    public let description: String

    /// Longer or deeper expressions are refused (a damaged file; recursion stays shallow).
    public static let maxLength = 1000, maxDepth = 64

    public init(parsing text: String) throws(SpaceExpressionError) {
        guard text.count <= Self.maxLength else {
            throw SpaceExpressionError("an expression of \(text.count) characters; at most \(Self.maxLength)")
        }
        var parser = Parser(text)
        term = try parser.expression()
        guard parser.atEnd else { throw SpaceExpressionError("'\(text)': unexpected '\(parser.rest)'") }
        description = text
    }

    /// The names it reads (parameters and loop variables).
    public var names: Set<String> { Self.names(term) }

    public func evaluate(_ values: [String: Int]) throws(SpaceExpressionError) -> Int {
        try Self.evaluate(term, values, description)
    }

    private static func names(_ t: Term) -> Set<String> {
        switch t {
        case .number: return []
        case .name(let n): return [n]
        case .negate(let a), .not(let a): return names(a)
        case .binary(_, let a, let b): return names(a).union(names(b))
        case .call(_, let args): return args.reduce(into: Set()) { $0.formUnion(names($1)) }
        case .choice(let c, let a, let b): return names(c).union(names(a)).union(names(b))
        }
    }

    private static func evaluate(_ t: Term, _ values: [String: Int], _ text: String) throws(SpaceExpressionError) -> Int {
        func value(_ t: Term) throws(SpaceExpressionError) -> Int { try evaluate(t, values, text) }
        switch t {
        case .number(let n): return n
        case .name(let n):
            guard let v = values[n] else { throw SpaceExpressionError("'\(text)': '\(n)' is not set (no parameter or loop variable of that name)") }
            return v
        case .negate(let a):
            let (v, overflow) = Int(0).subtractingReportingOverflow(try value(a))
            if overflow { throw SpaceExpressionError("'\(text)': too large") }
            return v
        case .not(let a): return try value(a) == 0 ? 1 : 0
        case .choice(let c, let a, let b): return try value(c) != 0 ? try value(a) : try value(b)
        case .call(let f, let args):
            let vs = try args.map { (a: Term) throws(SpaceExpressionError) -> Int in try value(a) }
            return f == "min" ? vs.min()! : vs.max()!
        case .binary(let op, let a, let b):
            // Short-circuit: the right side is read only when it decides.
            if op == "and" { return try value(a) == 0 ? 0 : try value(b) != 0 ? 1 : 0 }
            if op == "or" { return try value(a) != 0 ? 1 : try value(b) != 0 ? 1 : 0 }
            let x = try value(a), y = try value(b)
            let result: (Int, Bool)
            switch op {
            case "+": result = x.addingReportingOverflow(y)
            case "-": result = x.subtractingReportingOverflow(y)
            case "*": result = x.multipliedReportingOverflow(by: y)
            case "<<":
                guard (0..<62).contains(y) else { throw SpaceExpressionError("'\(text)': shift by \(y) (0…61)") }
                result = x.multipliedReportingOverflow(by: 1 << y)
            case "/", "%":
                guard y != 0 else { throw SpaceExpressionError("'\(text)': division by zero") }
                result = op == "/" ? x.dividedReportingOverflow(by: y) : x.remainderReportingOverflow(dividingBy: y)
            case "<": return x < y ? 1 : 0
            case "<=": return x <= y ? 1 : 0
            case ">": return x > y ? 1 : 0
            case ">=": return x >= y ? 1 : 0
            case "==": return x == y ? 1 : 0
            default: return x != y ? 1 : 0
            }
            if result.1 { throw SpaceExpressionError("'\(text)': too large") }
            return result.0
        }
    }

    /// Recursive descent over the characters; one function per precedence level.
    private struct Parser {
        let chars: [Character]
        var at = 0, depth = 0
        init(_ text: String) { chars = Array(text) }

        /// Counts one more level of nesting (parentheses, `?`, `-`, `not`), refused past `maxDepth`.
        mutating func nest() throws(SpaceExpressionError) {
            depth += 1
            guard depth <= SpaceExpression.maxDepth else {
                let shown = chars.count > 40 ? String(chars.prefix(40)) + "…" : String(chars)
                throw SpaceExpressionError("'\(shown)': nested more than \(SpaceExpression.maxDepth) deep")
            }
        }

        var atEnd: Bool { mutating get { skipSpaces(); return at == chars.count } }
        var rest: String { String(chars[at...]) }

        mutating func skipSpaces() { while at < chars.count, chars[at].isWhitespace { at += 1 } }

        mutating func take(_ token: String) -> Bool {
            skipSpaces()
            let t = Array(token)
            guard at + t.count <= chars.count, Array(chars[at..<at + t.count]) == t else { return false }
            // A word operator must not run into a name ("order" is not "or" + "der").
            if token.first!.isLetter, at + t.count < chars.count, chars[at + t.count].isLetter || chars[at + t.count].isNumber || chars[at + t.count] == "_" {
                return false
            }
            at += t.count
            return true
        }

        mutating func expression() throws(SpaceExpressionError) -> Term {
            try nest()
            defer { depth -= 1 }
            let condition = try or()
            guard take("?") else { return condition }
            let yes = try expression()
            guard take(":") else { throw SpaceExpressionError("'\(String(chars))': '?' without its ':'") }
            return .choice(condition, yes, try expression())
        }

        mutating func or() throws(SpaceExpressionError) -> Term {
            var t = try and()
            while take("or") { t = .binary("or", t, try and()) }
            return t
        }

        mutating func and() throws(SpaceExpressionError) -> Term {
            var t = try not()
            while take("and") { t = .binary("and", t, try not()) }
            return t
        }

        mutating func not() throws(SpaceExpressionError) -> Term {
            guard take("not") else { return try comparison() }
            try nest()
            defer { depth -= 1 }
            return .not(try not())
        }

        mutating func comparison() throws(SpaceExpressionError) -> Term {
            let t = try sum()
            for op in ["<=", ">=", "==", "!=", "<", ">"] where take(op) { return .binary(op, t, try sum()) }
            return t
        }

        mutating func sum() throws(SpaceExpressionError) -> Term {
            var t = try product()
            while true {
                if take("+") { t = .binary("+", t, try product()) } else if take("-") { t = .binary("-", t, try product()) } else { return t }
            }
        }

        mutating func product() throws(SpaceExpressionError) -> Term {
            var t = try unary()
            while true {
                if take("<<") { t = .binary("<<", t, try unary()) } else if take("*") { t = .binary("*", t, try unary()) } else if take("/") { t = .binary("/", t, try unary()) }
                else if take("%") { t = .binary("%", t, try unary()) } else { return t }
            }
        }

        mutating func unary() throws(SpaceExpressionError) -> Term {
            guard take("-") else { return try atom() }
            try nest()
            defer { depth -= 1 }
            return .negate(try unary())
        }

        mutating func atom() throws(SpaceExpressionError) -> Term {
            skipSpaces()
            let text = String(chars)
            guard at < chars.count else { throw SpaceExpressionError("'\(text)': ends where a value was expected") }
            if take("(") {
                let t = try expression()
                guard take(")") else { throw SpaceExpressionError("'\(text)': '(' without its ')'") }
                return t
            }
            let start = at
            if chars[at].isNumber {
                while at < chars.count, chars[at].isNumber { at += 1 }
                guard let n = Int(String(chars[start..<at])) else { throw SpaceExpressionError("'\(text)': \(String(chars[start..<at])) is too large") }
                return .number(n)
            }
            guard chars[at].isLetter || chars[at] == "_" else { throw SpaceExpressionError("'\(text)': unexpected '\(chars[at])'") }
            while at < chars.count, chars[at].isLetter || chars[at].isNumber || chars[at] == "_" { at += 1 }
            let word = String(chars[start..<at])
            if word == "min" || word == "max" {
                guard take("(") else { throw SpaceExpressionError("'\(text)': \(word) takes its values in parentheses: \(word)(a, b)") }
                var args = [try expression()]
                while take(",") { args.append(try expression()) }
                guard take(")") else { throw SpaceExpressionError("'\(text)': \(word)( without its ')'") }
                return .call(word, args)
            }
            if ["and", "or", "not"].contains(word) { throw SpaceExpressionError("'\(text)': '\(word)' where a value was expected") }
            return .name(word)
        }
    }
}

/// A text with `{expression}` parts, for names: "A-{l}_{k + 1}" → "A-2_3".
public struct SpaceTemplate: Equatable, Sendable {
    public enum Part: Equatable, Sendable { case text(String), value(SpaceExpression) }
    public let parts: [Part]

    public init(parsing text: String) throws(SpaceExpressionError) {
        var parts = [Part](), literal = "", rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            literal += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else { throw SpaceExpressionError("'\(text)': '{' without its '}'") }
            if !literal.isEmpty { parts.append(.text(literal)); literal = "" }
            parts.append(.value(try SpaceExpression(parsing: String(rest[rest.index(after: open)..<close]))))
            rest = rest[rest.index(after: close)...]
        }
        literal += rest
        if literal.contains("}") { throw SpaceExpressionError("'\(text)': '}' without its '{'") }
        if !literal.isEmpty { parts.append(.text(literal)) }
        self.parts = parts
    }

    public func evaluate(_ values: [String: Int]) throws(SpaceExpressionError) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .text(let t): out += t
            case .value(let e): out += String(try e.evaluate(values))
            }
        }
        return out
    }
}

/// A problem in an expression; the file's reader adds the file and line.
public struct SpaceExpressionError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
