import Foundation

/// Colour maps: `viridis` (perceptually uniform, for probabilities and other
/// values in 0…1) and `qualitative` (distinct colours for classes and series;
/// the first three follow Part Labels' masks: blue background, red hair,
/// green skin).
public enum ColourMap {
    static let viridisStops: [UInt32] = [0x440154, 0x482475, 0x414487, 0x355F8D, 0x2A788E, 0x21918C,
                                         0x22A884, 0x44BF70, 0x7AD151, 0xBDDF26, 0xFDE725]

    public static func viridis(_ t: Double) -> Colour {
        let x = max(0, min(1, t.isFinite ? t : 0)) * Double(viridisStops.count - 1)
        let i = min(Int(x), viridisStops.count - 2), f = Float(x - Double(i))
        let a = Colour(hex: viridisStops[i]), b = Colour(hex: viridisStops[i + 1])
        return Colour(a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f)
    }

    static let qualitativeColours: [UInt32] = [0x4E79A7, 0xE15759, 0x59A14F, 0xF28E2B, 0xB07AA1,
                                               0x76B7B2, 0xEDC948, 0xFF9DA7, 0x9C755F, 0xBAB0AC]

    public static func qualitative(_ k: Int) -> Colour { Colour(hex: qualitativeColours[((k % 10) + 10) % 10]) }
}
