import Foundation

/// A text table: columns of fixed width, text left-aligned and numbers
/// right-aligned. The one table formatter of the notebook and the benchmarks.
///
///     var t = Table([.left("node", 16), .right("params", 10)])
///     t.add(["A-0_0", "480"])
///     t.lines   // header, then one line per row
public struct Table: Sendable {
    public struct Column: Sendable {
        public let title: String, width: Int, alignRight: Bool
        public static func left(_ title: String, _ width: Int) -> Column { Column(title: title, width: width, alignRight: false) }
        public static func right(_ title: String, _ width: Int) -> Column { Column(title: title, width: width, alignRight: true) }
    }

    public let columns: [Column]
    public private(set) var rows: [[String]] = []
    /// Lines that are not rows (a footnote, "… 3 more"), kept in place.
    private var notes: [Int: [String]] = [:]

    public init(_ columns: [Column]) { self.columns = columns }

    public mutating func add(_ cells: [String]) {
        precondition(cells.count <= columns.count, "a row has more cells than the table has columns")
        rows.append(cells)
    }

    /// A free line after the rows added so far.
    public mutating func note(_ line: String) { notes[rows.count, default: []].append(line) }

    /// One row as text. A cell wider than its column pushes the rest right
    /// rather than being cut.
    public func line(_ cells: [String]) -> String {
        zip(columns, cells).map { c, cell in Table.pad(cell, c.width, right: c.alignRight) }.joined()
    }

    public var header: String { line(columns.map(\.title)) }

    /// The header and the rows (with their notes).
    public var lines: [String] {
        var out = [header] + (notes[0] ?? [])
        for (k, r) in rows.enumerated() { out.append(line(r)); out += notes[k + 1] ?? [] }
        return out
    }

    public var text: String { lines.joined(separator: "\n") }

    /// The table as an HTML `<table>` (the Jupyter kernel's rich output):
    /// numbers right-aligned as in the text, a note as a row across every column.
    public var html: String {
        let align = { (c: Column) in c.alignRight ? " style=\"text-align:right\"" : " style=\"text-align:left\"" }
        let noteRows = { (k: Int) in (notes[k] ?? []).map { "<tr><td colspan=\"\(columns.count)\" style=\"text-align:left\"><i>\(HTML.escape($0))</i></td></tr>" } }
        var out = ["<table>", "<thead><tr>" + columns.map { "<th\(align($0))>\(HTML.escape($0.title))</th>" }.joined() + "</tr></thead>", "<tbody>"]
        out += noteRows(0)
        for (k, r) in rows.enumerated() {
            out.append("<tr>" + zip(columns, r).map { c, cell in "<td\(align(c))>\(HTML.escape(cell.trimmingCharacters(in: .whitespaces)))</td>" }.joined() + "</tr>")
            out += noteRows(k + 1)
        }
        return (out + ["</tbody>", "</table>"]).joined(separator: "\n")
    }

    /// `text` padded with spaces to `width`, on the right (left-aligned) or on the left.
    public static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let n = text.count
        guard n < width else { return text }
        let fill = String(repeating: " ", count: width - n)
        return right ? fill + text : text + fill
    }
}
