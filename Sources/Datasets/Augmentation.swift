import Foundation
import Tensor

/// How images become a network's input: the output size (images smaller than
/// it are centred on a black canvas, e.g. Part Labels' 250x250 in 256x256), a
/// random crop of a canvas padded by `cropPadding` on each side (CIFAR: pad
/// to 36x36, crop 32x32), a random horizontal flip, and bytes mapped to
/// [-1, 1]. Padding is black (-1 after normalisation); padded pixels of a
/// mask get label -1, which losses and accuracies ignore.
public struct Augmentation: Codable, Equatable, Sendable {
    public var cropPadding: Int
    public var flip: Bool
    public var height: Int, width: Int

    public init(cropPadding: Int, flip: Bool, height: Int, width: Int) {
        self.cropPadding = cropPadding
        self.flip = flip
        self.height = height
        self.width = width
    }

    /// Where one example lands: crop offsets in 0...2·cropPadding (cropPadding
    /// is the centred, unaugmented position) and whether it is mirrored.
    public struct Placement: Equatable, Sendable {
        public var offsetY: Int, offsetX: Int, flipped: Bool
    }

    /// The centred, unmirrored placement (evaluation).
    public var centred: Placement { Placement(offsetY: cropPadding, offsetX: cropPadding, flipped: false) }

    /// A random placement (training).
    public func draw(_ rng: inout RNG) -> Placement {
        let oy = cropPadding > 0 ? rng.integer(below: 2 * cropPadding + 1) : 0
        let ox = cropPadding > 0 ? rng.integer(below: 2 * cropPadding + 1) : 0
        return Placement(offsetY: oy, offsetX: ox, flipped: flip && rng.bernoulli(0.5))
    }

    /// [-1, 1] value of each byte.
    static let normalised: [Float] = (0..<256).map { Float($0) / 127.5 - 1 }

    /// Writes image `index` of `set`, placed, into `image` (height, width, C)
    /// and, for segmentation, its labels into `labels` (height, width).
    ///
    /// Output pixel (y, x) shows source pixel (y + oy − pad − cy, x' + ox − pad − cx),
    /// x' = width − 1 − x when flipped, cy/cx centre a smaller image.
    public func place(_ set: ImageSet, _ index: Int, _ p: Placement,
                      image: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>?) {
        let c = set.channels, h = set.height, w = set.width
        let shiftY = p.offsetY - cropPadding - (height - h) / 2
        let shiftX = p.offsetX - cropPadding - (width - w) / 2
        Augmentation.normalised.withUnsafeBufferPointer { table in
            set.pixels.withUnsafeBufferPointer { pixels in
                let source = pixels.baseAddress! + index * set.imageSize
                for y in 0..<height {
                    let sy = y + shiftY, row = image + y * width * c
                    guard sy >= 0 && sy < h else {
                        row.update(repeating: -1, count: width * c)
                        continue
                    }
                    let sourceRow = source + sy * w * c
                    for x in 0..<width {
                        let sx = (p.flipped ? width - 1 - x : x) + shiftX
                        let out = row + x * c
                        if sx >= 0 && sx < w {
                            for k in 0..<c { out[k] = table[Int(sourceRow[sx * c + k])] }
                        } else {
                            for k in 0..<c { out[k] = -1 }
                        }
                    }
                }
            }
        }
        guard let labels, set.isSegmentation else { return }
        set.masks.withUnsafeBufferPointer { masks in
            let source = masks.baseAddress! + index * h * w
            for y in 0..<height {
                let sy = y + shiftY
                for x in 0..<width {
                    let sx = (p.flipped ? width - 1 - x : x) + shiftX
                    labels[y * width + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? Int32(source[sy * w + sx]) : -1
                }
            }
        }
    }
}
