import Foundation

/// A colour with straight (not premultiplied) alpha, components in 0…1.
public struct Colour: Equatable, Sendable {
    public var r: Float, g: Float, b: Float, a: Float
    public init(_ r: Float, _ g: Float, _ b: Float, _ a: Float = 1) { (self.r, self.g, self.b, self.a) = (r, g, b, a) }
    /// 0xRRGGBB
    public init(hex: UInt32, alpha: Float = 1) {
        self.init(Float((hex >> 16) & 255) / 255, Float((hex >> 8) & 255) / 255, Float(hex & 255) / 255, alpha)
    }
    public func with(alpha: Float) -> Colour { Colour(r, g, b, alpha) }
    public static let black = Colour(0, 0, 0), white = Colour(1, 1, 1)
    public static let grey = Colour(hex: 0x8C8C8C), lightGrey = Colour(hex: 0xDDDDDD), ink = Colour(hex: 0x222222)
    /// Bytes (RGB) of this colour.
    public var bytes: [UInt8] { [r, g, b].map { UInt8(max(0, min(255, ($0 * 255).rounded()))) } }
}

public struct Point: Equatable, Sendable {
    public var x: Double, y: Double
    public init(_ x: Double, _ y: Double) { (self.x, self.y) = (x, y) }
}

/// A small raster canvas of our own: anti-aliased strokes (lines, curves,
/// polylines), filled and stroked circles and rectangles, arrows, filled
/// polygons, bitmap text at two sizes, and images; everything alpha-blended
/// over an opaque background. Coordinates are pixels, (0, 0) the top-left
/// corner of the top-left pixel; pixel (i, j) has its centre at (i + ½, j + ½).
public final class Canvas {
    public let width: Int, height: Int
    private var rgb: [Float]

    public init(width: Int, height: Int, background: Colour = .white) {
        precondition(width > 0 && height > 0)
        self.width = width
        self.height = height
        rgb = [Float](repeating: 0, count: width * height * 3)
        for p in 0..<(width * height) { (rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]) = (background.r, background.g, background.b) }
    }

    /// Mixes `colour` into pixel (x, y) with weight coverage · alpha.
    @inline(__always)
    public func blend(_ x: Int, _ y: Int, _ colour: Colour, coverage: Float = 1) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let a = max(0, min(1, coverage)) * colour.a
        guard a > 0 else { return }
        let i = 3 * (y * width + x)
        rgb[i] += (colour.r - rgb[i]) * a
        rgb[i + 1] += (colour.g - rgb[i + 1]) * a
        rgb[i + 2] += (colour.b - rgb[i + 2]) * a
    }

    /// The colour at pixel (x, y) (tests).
    public func pixel(_ x: Int, _ y: Int) -> Colour {
        let i = 3 * (y * width + x)
        return Colour(rgb[i], rgb[i + 1], rgb[i + 2])
    }

    public var image: RGBAImage {
        var bytes = [UInt8](repeating: 255, count: width * height * 4)
        for p in 0..<(width * height) {
            for k in 0..<3 { bytes[4 * p + k] = UInt8(max(0, min(255, (rgb[3 * p + k] * 255).rounded()))) }
        }
        return RGBAImage(width: width, height: height, pixels: bytes)
    }

    // MARK: shapes

    /// Fills a rectangle; partly covered edge pixels are blended by the covered fraction.
    public func fill(x: Double, y: Double, width w: Double, height h: Double, _ colour: Colour) {
        guard x.isFinite, y.isFinite, w.isFinite, h.isFinite else { return }
        let x0 = max(0, pixelIndex(floor(x))), x1 = min(width - 1, pixelIndex(ceil(x + w)) - 1)
        let y0 = max(0, pixelIndex(floor(y))), y1 = min(height - 1, pixelIndex(ceil(y + h)) - 1)
        guard x0 <= x1, y0 <= y1 else { return }
        for j in y0...y1 {
            let cy = min(Double(j + 1), y + h) - max(Double(j), y)
            for i in x0...x1 {
                let cx = min(Double(i + 1), x + w) - max(Double(i), x)
                blend(i, j, colour, coverage: Float(cx * cy))
            }
        }
    }

    /// The outline of a rectangle, `lineWidth` wide, inside its bounds.
    public func strokeRect(x: Double, y: Double, width w: Double, height h: Double, _ colour: Colour, lineWidth: Double = 1) {
        fill(x: x, y: y, width: w, height: lineWidth, colour)
        fill(x: x, y: y + h - lineWidth, width: w, height: lineWidth, colour)
        fill(x: x, y: y + lineWidth, width: lineWidth, height: h - 2 * lineWidth, colour)
        fill(x: x + w - lineWidth, y: y + lineWidth, width: lineWidth, height: h - 2 * lineWidth, colour)
    }

    /// A disc (fill) and/or a ring (stroke) centred at `c`.
    public func circle(_ c: Point, radius r: Double, fill: Colour? = nil, stroke: Colour? = nil, lineWidth: Double = 1) {
        guard c.x.isFinite, c.y.isFinite, r.isFinite else { return }
        let reach = r + lineWidth + 1
        let x0 = max(0, pixelIndex(c.x - reach)), x1 = min(width - 1, pixelIndex(c.x + reach))
        let y0 = max(0, pixelIndex(c.y - reach)), y1 = min(height - 1, pixelIndex(c.y + reach))
        guard x0 <= x1, y0 <= y1 else { return }
        for j in y0...y1 {
            for i in x0...x1 {
                let d = hypot(Double(i) + 0.5 - c.x, Double(j) + 0.5 - c.y)
                if let fill { blend(i, j, fill, coverage: Float(r + 0.5 - d)) }
                if let stroke { blend(i, j, stroke, coverage: Float(lineWidth / 2 + 0.5 - abs(d - r))) }
            }
        }
    }

    /// An anti-aliased polyline of this width with round joins and caps,
    /// blended once (overlapping segments do not darken).
    public func stroke(_ points: [Point], width lineWidth: Double, _ colour: Colour) {
        guard points.count >= 2, points.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { return }
        let half = lineWidth / 2
        let xs = points.map(\.x), ys = points.map(\.y)
        let x0 = max(0, pixelIndex(xs.min()! - half - 1)), x1 = min(width - 1, pixelIndex(xs.max()! + half + 1))
        let y0 = max(0, pixelIndex(ys.min()! - half - 1)), y1 = min(height - 1, pixelIndex(ys.max()! + half + 1))
        guard x0 <= x1, y0 <= y1 else { return }
        let w = x1 - x0 + 1
        var coverage = [Float](repeating: 0, count: w * (y1 - y0 + 1))
        for s in 0..<(points.count - 1) {
            let a = points[s], b = points[s + 1]
            let sx0 = max(x0, pixelIndex(min(a.x, b.x) - half - 1)), sx1 = min(x1, pixelIndex(max(a.x, b.x) + half + 1))
            let sy0 = max(y0, pixelIndex(min(a.y, b.y) - half - 1)), sy1 = min(y1, pixelIndex(max(a.y, b.y) + half + 1))
            guard sx0 <= sx1, sy0 <= sy1 else { continue }
            let dx = b.x - a.x, dy = b.y - a.y, length2 = dx * dx + dy * dy
            for j in sy0...sy1 {
                for i in sx0...sx1 {
                    let px = Double(i) + 0.5, py = Double(j) + 0.5
                    let t = length2 == 0 ? 0 : max(0, min(1, ((px - a.x) * dx + (py - a.y) * dy) / length2))
                    let d = hypot(px - (a.x + t * dx), py - (a.y + t * dy))
                    // Thin lines keep their weight: coverage scales with the width below one pixel.
                    let c = Float(min(1, lineWidth) * max(0, min(1, max(half, 0.5) + 0.5 - d)))
                    let k = (j - y0) * w + (i - x0)
                    if c > coverage[k] { coverage[k] = c }
                }
            }
        }
        for j in y0...y1 { for i in x0...x1 { blend(i, j, colour, coverage: coverage[(j - y0) * w + (i - x0)]) } }
    }

    public func line(_ a: Point, _ b: Point, width lineWidth: Double = 1, _ colour: Colour) {
        stroke([a, b], width: lineWidth, colour)
    }

    /// A cubic Bézier curve from `a` to `b` with control points `c1`, `c2`.
    public func curve(_ a: Point, _ c1: Point, _ c2: Point, _ b: Point, width lineWidth: Double = 1, _ colour: Colour) {
        stroke(Canvas.bezier(a, c1, c2, b), width: lineWidth, colour)
    }

    static func bezier(_ a: Point, _ c1: Point, _ c2: Point, _ b: Point) -> [Point] {
        let length = hypot(c1.x - a.x, c1.y - a.y) + hypot(c2.x - c1.x, c2.y - c1.y) + hypot(b.x - c2.x, b.y - c2.y)
        let n = max(4, min(200, pixelIndex(length / 4)))
        return (0...n).map { k in
            let t = Double(k) / Double(n), u = 1 - t
            return Point(u * u * u * a.x + 3 * u * u * t * c1.x + 3 * u * t * t * c2.x + t * t * t * b.x,
                         u * u * u * a.y + 3 * u * u * t * c1.y + 3 * u * t * t * c2.y + t * t * t * b.y)
        }
    }

    /// A filled polygon (4x4 samples per pixel).
    public func polygon(_ points: [Point], _ colour: Colour) {
        guard points.count >= 3, points.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { return }
        let x0 = max(0, pixelIndex(points.map(\.x).min()!)), x1 = min(width - 1, pixelIndex(points.map(\.x).max()!))
        let y0 = max(0, pixelIndex(points.map(\.y).min()!)), y1 = min(height - 1, pixelIndex(points.map(\.y).max()!))
        guard x0 <= x1, y0 <= y1 else { return }
        func inside(_ x: Double, _ y: Double) -> Bool {
            var odd = false
            var j = points.count - 1
            for i in 0..<points.count {
                let a = points[i], b = points[j]
                if (a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x { odd.toggle() }
                j = i
            }
            return odd
        }
        for j in y0...y1 {
            for i in x0...x1 {
                var hits = 0
                for s in 0..<16 where inside(Double(i) + (Double(s % 4) + 0.5) / 4, Double(j) + (Double(s / 4) + 0.5) / 4) { hits += 1 }
                blend(i, j, colour, coverage: Float(hits) / 16)
            }
        }
    }

    /// Copies an RGB byte image (h, w, 3), each pixel drawn as a scale x scale block.
    public func image(_ pixels: [UInt8], width w: Int, height h: Int, x: Int, y: Int, scale: Int = 1, alpha: Float = 1) {
        for j in 0..<(h * scale) {
            for i in 0..<(w * scale) {
                let p = 3 * ((j / scale) * w + i / scale)
                blend(x + i, y + j, Colour(Float(pixels[p]) / 255, Float(pixels[p + 1]) / 255, Float(pixels[p + 2]) / 255, alpha))
            }
        }
    }
}

/// A coordinate as a pixel index: truncated like `Int(_:)`, but NaN and ±inf
/// (from a user's NaN reaching a view) become far-off pixels instead of a trap.
func pixelIndex(_ v: Double) -> Int {
    v.isNaN ? -1_000_000_000 : Int(max(-1e9, min(1e9, v)))
}
