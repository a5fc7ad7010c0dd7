import Foundation

/// A picture as the escape sequences that show it inside a terminal, under
/// the notebook cell that drew it. Three protocols, as the terminals document them:
/// - kitty graphics (kitty, WezTerm, Konsole, Ghostty): `ESC _G f=100,a=T,c=<columns>,m=…; <base64 PNG chunk> ESC \`,
///   in chunks of at most 4096 base64 bytes;
/// - the iTerm2 inline image (iTerm2, WezTerm, mintty): `ESC ]1337;File=inline=1;width=<columns>;…:<base64> BEL`;
/// - sixel (xterm -ti vt340, foot, mlterm): six-pixel bands of palette colours.
public enum TerminalImage {
    public enum Kind: String, Sendable, CaseIterable {
        case kitty, iterm2, sixel
    }

    /// The sequence that shows the PNG file at `path`, `columns` character cells wide.
    public static func encode(file path: String, columns: Int, as kind: Kind) throws -> String {
        if kind == .sixel {
            // About 8 pixels per cell.
            return sixel(try PNG.read(path), maxWidth: max(80, columns * 8))
        }
        guard let png = FileManager.default.contents(atPath: path) else { throw RenderError("\(path): cannot read the picture") }
        switch kind {
        case .kitty: return kitty(png, columns: columns)
        case .iterm2:
            return "\u{1B}]1337;File=inline=1;size=\(png.count);width=\(columns);preserveAspectRatio=1:" + png.base64EncodedString() + "\u{07}\n"
        case .sixel: return ""
        }
    }

    static func kitty(_ png: Data, columns: Int) -> String {
        let payload = Array(png.base64EncodedString().utf8)
        var out = "", offset = 0
        repeat {
            let end = min(offset + 4096, payload.count), more = end < payload.count ? 1 : 0
            let control = offset == 0 ? "f=100,a=T,c=\(columns),m=\(more)" : "m=\(more)"
            out += "\u{1B}_G\(control);" + String(decoding: payload[offset..<end], as: UTF8.self) + "\u{1B}\\"
            offset = end
        } while offset < payload.count
        return out + "\n"
    }

    /// Sixel: the image scaled to at most `maxWidth` pixels, composited on
    /// white, in a 6×6×6 colour cube (216 registers), one band of six rows at a time.
    public static func sixel(_ image: RGBAImage, maxWidth: Int) -> String {
        let scale = min(1, Double(maxWidth) / Double(max(image.width, 1)))
        let w = max(1, Int(Double(image.width) * scale)), h = max(1, Int(Double(image.height) * scale))
        // Nearest-neighbour sampling, then the colour cube index of each pixel.
        var index = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h {
            let sy = min(image.height - 1, Int(Double(y) / scale))
            for x in 0..<w {
                let sx = min(image.width - 1, Int(Double(x) / scale)), p = 4 * (sy * image.width + sx)
                let a = Int(image.pixels[p + 3])
                func level(_ c: UInt8) -> Int { ((Int(c) * a + 255 * (255 - a)) / 255 * 5 + 127) / 255 }
                index[y * w + x] = UInt8(level(image.pixels[p]) * 36 + level(image.pixels[p + 1]) * 6 + level(image.pixels[p + 2]))
            }
        }
        var out = "\u{1B}Pq\"1;1;\(w);\(h)"
        for c in 0..<216 { out += "#\(c);2;\(c / 36 * 20);\(c / 6 % 6 * 20);\(c % 6 * 20)" }
        for band in stride(from: 0, to: h, by: 6) {
            var used = Set<UInt8>()
            for y in band..<min(band + 6, h) { for x in 0..<w { used.insert(index[y * w + x]) } }
            for (k, colour) in used.sorted().enumerated() {
                out += (k > 0 ? "$" : "") + "#\(colour)"
                var run: Character = "?", count = 0
                func flush() {
                    guard count > 0 else { return }
                    out += count > 3 ? "!\(count)\(run)" : String(repeating: run, count: count)
                }
                for x in 0..<w {
                    var bits = 0
                    for dy in 0..<6 where band + dy < h && index[(band + dy) * w + x] == colour { bits |= 1 << dy }
                    let ch = Character(UnicodeScalar(63 + bits)!)
                    if ch == run { count += 1 } else { flush(); run = ch; count = 1 }
                }
                flush()
            }
            out += "-"
        }
        return out + "\u{1B}\\\n"
    }
}
