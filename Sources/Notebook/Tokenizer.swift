import Foundation
import Interface

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
