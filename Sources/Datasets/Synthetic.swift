import Foundation
import Interface
import Tensor

/// Embedded datasets generated from a seed: no download, the same images for
/// the same seed on every machine. Image i of a split is drawn from its own
/// generator (seed, split, i), so changing one split's size leaves the others'
/// images unchanged.
public enum Synthetic {
    /// The most images a synthetic split may have.
    public static let maxImages = 100_000_000

    /// The split sizes and seed every synthetic set takes: train= val= test= seed=.
    struct Sizes {
        var train: Int, validation: Int, test: Int, seed: UInt64
        init(_ a: inout Arguments, train: Int, validation: Int, test: Int) throws {
            self.train = try a.int("train", default: train)!
            self.validation = try a.int("val", "validation", default: validation, range: 0...Int.max)!
            self.test = try a.int("test", default: test, range: 0...Int.max)!
            seed = UInt64(try a.int("seed", default: 1, range: 0...Int.max)!)
        }
    }

    static func bounds(train: Int, validation: Int, test: Int) -> [(key: String, value: Int, bounds: ClosedRange<Int>)] {
        [("trainSize", train, 1...maxImages), ("validationSize", validation, 0...maxImages), ("testSize", test, 0...maxImages)]
    }

    /// Refuses split sizes outside their bounds, or whose images do not fit in memory, before generating any.
    static func checkSizes(_ name: String, _ bounds: [(key: String, value: Int, bounds: ClosedRange<Int>)], bytesPerImage: Int, options: String) throws {
        let option = ["trainSize": "train=", "validationSize": "val=", "testSize": "test=", "side": "size="]
        for b in bounds where !b.bounds.contains(b.value) {
            if b.key == "trainSize" && b.value < 1 { throw DataError("\(name): the training set needs at least one image (train=\(b.value))") }
            throw DataError("\(name): \(option[b.key] ?? b.key) must be \(b.bounds.lowerBound)…\(b.bounds.upperBound)\(b.key == "side" ? "" : " images"), not \(b.value)")
        }
        let count = bounds.filter { $0.key.hasSuffix("Size") }.reduce(0) { $0 + $1.value }
        let sizes = bounds.filter { $0.key.hasSuffix("Size") }.map { "\(option[$0.key]!)\($0.value)" }.joined(separator: " ")
        try Memory.check(Double(count) * Double(bytesPerImage), "\(name) " + sizes + options, of: "images")
    }

    /// The generator of image `index` of split `split` (0 train, 1 validation, 2 test).
    static func generator(seed: UInt64, split: Int, index: Int) -> RNG {
        RNG(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(split) << 56 ^ UInt64(index) &* 0xD1B5_4A32_D192_ED03)
    }

    // MARK: shapes

    public static let shapeNames = ["circle", "square", "triangle", "diamond", "plus",
                                    "ring", "cross", "frame", "half-disc", "equals"]

    /// 10 classes of coloured shapes (random position, size, small rotation,
    /// colour unrelated to the class) on textured backgrounds, 32x32 RGB.
    /// `cancel` is checked every 64 images: cancelling stops with `DataError.interrupted`.
    public static func shapes(count: Int, split: Int, seed: UInt64, cancel: Cancellation = .never) throws -> ImageSet {
        let side = 32
        var set = ImageSet(height: side, width: side, channels: 3)
        set.reserve(count)
        var image = [Float](repeating: 0, count: side * side * 3)
        for i in 0..<count {
            if i % 64 == 63, cancel.isCancelled { throw DataError.interrupted }
            var rng = generator(seed: seed, split: split, index: i)
            let label = i % 10                           // balanced classes, order shuffled by the loader
            let background = texture(&image, side: side, rng: &rng)
            let colour = contrasting(background, rng: &rng)
            let cx = rng.uniform(10, 22), cy = rng.uniform(10, 22), r = rng.uniform(6, 11)
            let angle = rng.uniform(-0.3, 0.3), c = cos(angle), s = sin(angle)
            for y in 0..<side {
                for x in 0..<side {
                    var covered = 0
                    for sub in 0..<4 {                   // 2x2 samples per pixel: anti-aliased edges
                        let px = Float(x) + 0.25 + 0.5 * Float(sub & 1) - cx, py = Float(y) + 0.25 + 0.5 * Float(sub >> 1) - cy
                        let u = (c * px + s * py) / r, v = (-s * px + c * py) / r
                        if inside(shape: label, u, v) { covered += 1 }
                    }
                    guard covered > 0 else { continue }
                    let a = Float(covered) / 4, p = 3 * (y * side + x)
                    for k in 0..<3 { image[p + k] = (1 - a) * image[p + k] + a * colour[k] }
                }
            }
            addNoise(&image, amplitude: 12, rng: &rng)
            set.append(pixels: image.map(byte), label: Int32(label), id: "shapes#\(split):\(i)")
        }
        return set
    }

    /// Whether object-space point (u, v) (unit radius, v down) is in the shape.
    static func inside(shape: Int, _ u: Float, _ v: Float) -> Bool {
        let au = abs(u), av = abs(v), rr = u * u + v * v
        switch shape {
        case 0: return rr <= 1
        case 1: return max(au, av) <= 0.8
        case 2: return v <= 0.7 && au <= (v + 0.9) * 0.6
        case 3: return au + av <= 1
        case 4: return (au <= 0.3 && av <= 1) || (av <= 0.3 && au <= 1)
        case 5: return rr <= 1 && rr >= 0.4
        case 6:
            let p = abs(u + v) * 0.7071, q = abs(u - v) * 0.7071
            return (p <= 0.25 && q <= 1) || (q <= 0.25 && p <= 1)
        case 7: return max(au, av) <= 0.85 && max(au, av) >= 0.5
        case 8: return rr <= 1 && v >= -0.1
        default: return au <= 1 && av >= 0.2 && av <= 0.6
        }
    }

    // MARK: faces

    public static let faceClassNames = ["background", "hair", "skin"]

    /// 3-class segmentation of face-like drawings: a skin-coloured face and
    /// neck with eyes and mouth (skin), hair of several styles and colours,
    /// textured background. side x side RGB, masks background 0, hair 1, skin 2.
    public static func faces(count: Int, split: Int, seed: UInt64, side: Int, cancel: Cancellation = .never) throws -> ImageSet {
        var set = ImageSet(height: side, width: side, channels: 3, task: .segmentation)
        set.reserve(count)
        var image = [Float](repeating: 0, count: side * side * 3)
        var mask = [UInt8](repeating: 0, count: side * side)
        let n = Float(side)
        for i in 0..<count {
            if i % 64 == 63, cancel.isCancelled { throw DataError.interrupted }
            var rng = generator(seed: seed, split: split, index: i)
            _ = texture(&image, side: side, rng: &rng)
            let t = rng.uniform()
            let skin: [Float] = [240 - 130 * t, 200 - 130 * t, 170 - 120 * t].map { $0 + rng.uniform(-12, 12) }
            let hairColours: [[Float]] = [[30, 25, 20], [90, 60, 35], [200, 170, 100], [150, 60, 30], [170, 170, 170]]
            let hair = hairColours[rng.integer(below: hairColours.count)].map { $0 + rng.uniform(-15, 15) }
            let cx = n * rng.uniform(0.42, 0.58), cy = n * rng.uniform(0.45, 0.55)
            let a = n * rng.uniform(0.18, 0.26), b = a * rng.uniform(1.2, 1.4)
            let hairline = cy - b * rng.uniform(0.2, 0.6)          // hair above this line inside the head
            let long = rng.bernoulli(0.4)                          // long hair falls beside the face
            let volume = rng.uniform(1.08, 1.22)
            let eyeY = cy - b * 0.1, eyeDX = a * 0.4, mouthY = cy + b * 0.45
            for y in 0..<side {
                for x in 0..<side {
                    let px = Float(x) + 0.5, py = Float(y) + 0.5
                    let du = (px - cx) / a, dv = (py - cy) / b
                    let inFace = du * du + dv * dv <= 1
                    let hu = (px - cx) / (a * volume), hv = (py - (cy - 0.08 * b)) / (b * volume)
                    let inHead = hu * hu + hv * hv <= 1
                    let neck = abs(px - cx) <= 0.45 * a && py >= cy + 0.6 * b
                    var label: UInt8 = 0
                    if inFace && py >= hairline { label = 2 }
                    else if inHead && (py < hairline + 0.15 * b || long && py < cy + 0.5 * b) { label = 1 }
                    else if inFace || neck { label = 2 }
                    if long && label == 0 && abs(px - cx) <= a * volume && py >= cy && py <= cy + b * 1.1 && !neck { label = 1 }
                    mask[y * side + x] = label
                    let p = 3 * (y * side + x)
                    switch label {
                    case 1:
                        let streak: Float = sin(px * 1.7 + py * 0.3) * 10
                        for k in 0..<3 { image[p + k] = hair[k] + streak }
                    case 2:
                        var c = skin
                        let ex = abs(px - cx) - eyeDX, ey = py - eyeY
                        if ex * ex + 2.5 * ey * ey <= a * a * 0.012 { c = [40, 35, 30] }            // eyes
                        if abs(py - mouthY) <= max(1, 0.04 * b) && abs(px - cx) <= 0.3 * a { c = [170, 70, 70] }  // mouth
                        for k in 0..<3 { image[p + k] = c[k] }
                    default: break
                    }
                }
            }
            addNoise(&image, amplitude: 10, rng: &rng)
            set.append(pixels: image.map(byte), mask: mask, id: "faces#\(split):\(i)")
        }
        return set
    }

    // MARK: drawing helpers

    /// A random background: base colour, a linear gradient or stripes; returns its mean colour.
    static func texture(_ image: inout [Float], side: Int, rng: inout RNG) -> [Float] {
        let base = (0..<3).map { _ in rng.uniform(20, 235) }
        let other = base.map { max(0, min(255, $0 + rng.uniform(-70, 70))) }
        let angle = rng.uniform(0, 2 * .pi), dx = cos(angle), dy = sin(angle)
        let stripes = rng.bernoulli(0.5), frequency = rng.uniform(0.3, 1.2), phase = rng.uniform(0, 6.3)
        for y in 0..<side {
            for x in 0..<side {
                let along = (Float(x) * dx + Float(y) * dy) / Float(side)
                let t = stripes ? 0.5 + 0.5 * sin(along * Float(side) * frequency + phase) : along + 0.5
                let w = max(0, min(1, t)), p = 3 * (y * side + x)
                for k in 0..<3 { image[p + k] = (1 - w) * base[k] + w * other[k] }
            }
        }
        return zip(base, other).map { ($0 + $1) / 2 }
    }

    /// A colour at least some distance from `background`.
    static func contrasting(_ background: [Float], rng: inout RNG) -> [Float] {
        var best = [Float](), bestDistance: Float = -1
        for _ in 0..<8 {
            let c = (0..<3).map { _ in rng.uniform(0, 255) }
            let d = zip(c, background).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            if d > bestDistance { (best, bestDistance) = (c, d) }
            if d >= 150 { break }
        }
        return best
    }

    static func addNoise(_ image: inout [Float], amplitude: Float, rng: inout RNG) {
        for k in image.indices { image[k] += rng.uniform(-amplitude, amplitude) }
    }

    static func byte(_ v: Float) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
}
