import Foundation

/// A part of an output as a rich display shows it: text in a fixed-width
/// font, or a table.
public enum Block: Sendable {
    case text(String)
    case table(Table)

    /// The blocks as the notebook prints them: one after another, a blank line between (or `separator`).
    public static func text(_ blocks: [Block], separator: String = "\n\n") -> String {
        blocks.map { block in
            switch block {
            case .text(let text): text
            case .table(let table): table.text
            }
        }.filter { !$0.isEmpty }.joined(separator: separator)
    }
}

/// An output whose tables a rich display (the Jupyter kernel) shows as HTML
/// tables: `data`, `summary`, `costs`, `train`, `pareto`, `sessions`, `inspect`…
/// Its `text` stays what the terminal shows.
public protocol TabularOutput: Output {
    var blocks: [Block] { get }
}

extension TabularOutput {
    /// The blocks as one HTML fragment.
    public var html: String { HTML.render(blocks) }
}

public enum HTML {
    /// `text` with &, <, > and " escaped.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Text blocks as `<pre>`, tables as `<table>`.
    public static func render(_ blocks: [Block]) -> String {
        blocks.compactMap { block -> String? in
            switch block {
            case .text(let text): text.isEmpty ? nil : "<pre>\(escape(text))</pre>"
            case .table(let table): table.html
            }
        }.joined(separator: "\n")
    }
}
