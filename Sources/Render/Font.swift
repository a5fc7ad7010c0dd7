import Foundation

/// An embedded 5x7 bitmap font for printable ASCII (digits, letters,
/// punctuation), drawn at two sizes: small (1 pixel per dot, 6x10 cells) and
/// large (2x2 pixels per dot, 12x20 cells). Other characters draw as '?'.
public enum TextSize: Sendable {
    case small, large
    var scale: Int { self == .small ? 1 : 2 }
    public var advance: Int { 6 * scale }
    public var lineHeight: Int { 10 * scale }
    /// Height of a capital letter.
    public var capHeight: Int { 7 * scale }
}

public enum TextAnchor: Sendable { case left, centre, right }

enum Font {
    /// Rows top to bottom; bit 4 is the leftmost dot. Characters 32…126.
    /// Seven rows down to the baseline; g, j, p, q, y have two more below it.
    static let glyphs: [[UInt8]] = [
        [0, 0, 0, 0, 0, 0, 0], [4, 4, 4, 4, 4, 0, 4], [10, 10, 0, 0, 0, 0, 0], [10, 10, 31, 10, 31, 10, 10],
        [4, 15, 20, 14, 5, 30, 4], [24, 25, 2, 4, 8, 19, 3], [12, 18, 20, 8, 21, 18, 13], [4, 4, 0, 0, 0, 0, 0],
        [2, 4, 8, 8, 8, 4, 2], [8, 4, 2, 2, 2, 4, 8], [0, 4, 21, 14, 21, 4, 0], [0, 4, 4, 31, 4, 4, 0],
        [0, 0, 0, 0, 12, 4, 8], [0, 0, 0, 31, 0, 0, 0], [0, 0, 0, 0, 0, 12, 12], [0, 1, 2, 4, 8, 16, 0],
        [14, 17, 19, 21, 25, 17, 14], [4, 12, 4, 4, 4, 4, 14], [14, 17, 1, 2, 4, 8, 31], [31, 2, 4, 2, 1, 17, 14],
        [2, 6, 10, 18, 31, 2, 2], [31, 16, 30, 1, 1, 17, 14], [6, 8, 16, 30, 17, 17, 14], [31, 1, 2, 4, 8, 8, 8],
        [14, 17, 17, 14, 17, 17, 14], [14, 17, 17, 15, 1, 2, 12], [0, 12, 12, 0, 12, 12, 0], [0, 12, 12, 0, 12, 4, 8],
        [2, 4, 8, 16, 8, 4, 2], [0, 0, 31, 0, 31, 0, 0], [8, 4, 2, 1, 2, 4, 8], [14, 17, 1, 2, 4, 0, 4],
        [14, 17, 1, 13, 21, 21, 14], [14, 17, 17, 17, 31, 17, 17], [30, 17, 17, 30, 17, 17, 30], [14, 17, 16, 16, 16, 17, 14],
        [28, 18, 17, 17, 17, 18, 28], [31, 16, 16, 30, 16, 16, 31], [31, 16, 16, 30, 16, 16, 16], [14, 17, 16, 23, 17, 17, 15],
        [17, 17, 17, 31, 17, 17, 17], [14, 4, 4, 4, 4, 4, 14], [7, 2, 2, 2, 2, 18, 12], [17, 18, 20, 24, 20, 18, 17],
        [16, 16, 16, 16, 16, 16, 31], [17, 27, 21, 21, 17, 17, 17], [17, 17, 25, 21, 19, 17, 17], [14, 17, 17, 17, 17, 17, 14],
        [30, 17, 17, 30, 16, 16, 16], [14, 17, 17, 17, 21, 18, 13], [30, 17, 17, 30, 20, 18, 17], [15, 16, 16, 14, 1, 1, 30],
        [31, 4, 4, 4, 4, 4, 4], [17, 17, 17, 17, 17, 17, 14], [17, 17, 17, 17, 17, 10, 4], [17, 17, 17, 21, 21, 21, 10],
        [17, 17, 10, 4, 10, 17, 17], [17, 17, 17, 10, 4, 4, 4], [31, 1, 2, 4, 8, 16, 31], [14, 8, 8, 8, 8, 8, 14],
        [0, 16, 8, 4, 2, 1, 0], [14, 2, 2, 2, 2, 2, 14], [4, 10, 17, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 31],
        [8, 4, 2, 0, 0, 0, 0], [0, 0, 14, 1, 15, 17, 15], [16, 16, 22, 25, 17, 17, 30], [0, 0, 14, 16, 16, 17, 14],
        [1, 1, 13, 19, 17, 17, 15], [0, 0, 14, 17, 31, 16, 14], [6, 9, 8, 28, 8, 8, 8], [0, 0, 15, 17, 17, 17, 15, 1, 14],
        [16, 16, 22, 25, 17, 17, 17], [4, 0, 12, 4, 4, 4, 14], [2, 0, 6, 2, 2, 2, 2, 18, 12], [16, 16, 18, 20, 24, 20, 18],
        [12, 4, 4, 4, 4, 4, 14], [0, 0, 26, 21, 21, 17, 17], [0, 0, 22, 25, 17, 17, 17], [0, 0, 14, 17, 17, 17, 14],
        [0, 0, 30, 17, 17, 17, 30, 16, 16], [0, 0, 15, 17, 17, 17, 15, 1, 1], [0, 0, 22, 25, 16, 16, 16], [0, 0, 14, 16, 14, 1, 30],
        [8, 8, 28, 8, 8, 9, 6], [0, 0, 17, 17, 17, 19, 13], [0, 0, 17, 17, 17, 10, 4], [0, 0, 17, 17, 21, 21, 10],
        [0, 0, 17, 10, 4, 10, 17], [0, 0, 17, 17, 17, 17, 15, 1, 14], [0, 0, 31, 2, 4, 8, 31], [2, 4, 4, 8, 4, 4, 2],
        [4, 4, 4, 4, 4, 4, 4], [8, 4, 4, 2, 4, 4, 8], [0, 0, 8, 21, 2, 0, 0],
    ]

    static func glyph(_ c: Character) -> [UInt8] {
        guard let v = c.asciiValue, v >= 32, v <= 126 else { return glyphs[Int(("?" as Character).asciiValue!) - 32] }
        return glyphs[Int(v) - 32]
    }
}

extension Canvas {
    /// Width in pixels of `text` at `size` (one line).
    public static func textWidth(_ text: String, size: TextSize = .small) -> Int {
        max(0, text.count * size.advance - size.scale)
    }

    /// Draws a title: large when it fits in `maxWidth`, else small.
    public func title(_ text: String, x: Double, y: Double, maxWidth: Double) {
        let fits = Double(Canvas.textWidth(text, size: .large)) <= maxWidth
        self.text(text, x: x, y: fits ? y : y + 4, size: fits ? .large : .small)
    }

    /// Draws one line of text; `y` is the top of the capital letters.
    public func text(_ text: String, x: Double, y: Double, size: TextSize = .small, _ colour: Colour = .ink, anchor: TextAnchor = .left) {
        let w = Double(Canvas.textWidth(text, size: size))
        var left = pixelIndex((anchor == .left ? x : anchor == .centre ? x - w / 2 : x - w).rounded())
        let top = pixelIndex(y.rounded()), s = size.scale
        for c in text {
            let rows = Font.glyph(c)
            for (r, bits) in rows.enumerated() {
                for col in 0..<5 where bits & (16 >> col) != 0 {
                    for dy in 0..<s { for dx in 0..<s { blend(left + col * s + dx, top + r * s + dy, colour) } }
                }
            }
            left += size.advance
        }
    }

    /// Text rotated a quarter turn anticlockwise (vertical axis labels), centred on (x, y).
    public func verticalText(_ text: String, x: Double, y: Double, size: TextSize = .small, _ colour: Colour = .ink) {
        let w = Canvas.textWidth(text, size: size), s = size.scale
        var offset = 0
        for c in text {
            let rows = Font.glyph(c)
            for (r, bits) in rows.enumerated() {
                for col in 0..<5 where bits & (16 >> col) != 0 {
                    for dy in 0..<s { for dx in 0..<s {
                        // (col, r) in the glyph → (r, −col) on the canvas.
                        blend(pixelIndex(x) - 7 * s / 2 + r * s + dy, pixelIndex(y) + w / 2 - offset - col * s - dx, colour)
                    } }
                }
            }
            offset += size.advance
        }
    }
}
