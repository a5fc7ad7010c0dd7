import Foundation

/// How an image of any size becomes a dataset image of `target` size, as
/// torchvision's Resize + CenterCrop do: scaled so that it covers the target
/// (for a square target, the shorter side becomes the target's side and the
/// longer one is truncated to an integer), then the centre cropped (offsets
/// rounded half to even, as Python's round).
public struct Fit: Equatable, Sendable {
    /// The original image's size.
    public let width: Int, height: Int
    /// The size after resizing, before the crop; the crop's top-left corner.
    public let resizedWidth: Int, resizedHeight: Int, cropX: Int, cropY: Int
    public let target: ImageSize

    public init(width: Int, height: Int, to target: ImageSize) {
        (self.width, self.height, self.target) = (width, height, target)
        let scale = max(Double(target.width) / Double(width), Double(target.height) / Double(height))
        resizedWidth = max(target.width, Int(Double(width) * scale))
        resizedHeight = max(target.height, Int(Double(height) * scale))
        cropX = Int((Double(resizedWidth - target.width) / 2).rounded(.toNearestOrEven))
        cropY = Int((Double(resizedHeight - target.height) / 2).rounded(.toNearestOrEven))
    }

    /// The image is already the target: nothing to do.
    public var isIdentity: Bool { width == target.width && height == target.height }

    /// `image` (the original, or a JPEG decoded at a reduced scale of it)
    /// resampled to the target: a triangle filter whose support widens with
    /// the reduction (PIL's antialiased bilinear); an exact copy at scale 1.
    public func image(_ image: RGBImage) -> RGBImage {
        if image.width == target.width && image.height == target.height && isIdentity { return image }
        // Already at the resized size (a JPEG decoded at 1/2, 1/4 or 1/8 scale): the filter reads one pixel with weight 1, a crop.
        if image.width == resizedWidth && image.height == resizedHeight { return crop(image) }
        let columns = Taps(source: image.width, resized: resizedWidth, first: cropX, count: target.width)
        let rows = Taps(source: image.height, resized: resizedHeight, first: cropY, count: target.height)
        let tw = target.width, th = target.height
        // Horizontal pass over the source rows the vertical taps read: (rows, tw, 3) floats.
        let firstRow = rows.start.first!, lastRow = rows.start.last! + rows.length.last!
        var horizontal = [Float](repeating: 0, count: (lastRow - firstRow) * tw * 3)
        image.pixels.withUnsafeBufferPointer { src in
            horizontal.withUnsafeMutableBufferPointer { out in
                for y in firstRow..<lastRow {
                    let row = src.baseAddress! + y * image.width * 3, o = out.baseAddress! + (y - firstRow) * tw * 3
                    for x in 0..<tw {
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        let s = columns.start[x], base = columns.offset[x]
                        for t in 0..<columns.length[x] {
                            let w = columns.weights[base + t], p = row + (s + t) * 3
                            r += w * Float(p[0]); g += w * Float(p[1]); b += w * Float(p[2])
                        }
                        o[3 * x] = r; o[3 * x + 1] = g; o[3 * x + 2] = b
                    }
                }
            }
        }
        var pixels = [UInt8](repeating: 0, count: th * tw * 3)
        for y in 0..<th {
            let s = rows.start[y] - firstRow, base = rows.offset[y]
            for k in 0..<tw * 3 {
                var v: Float = 0
                for t in 0..<rows.length[y] { v += rows.weights[base + t] * horizontal[(s + t) * tw * 3 + k] }
                pixels[y * tw * 3 + k] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        return RGBImage(width: tw, height: th, pixels: pixels)
    }

    private func crop(_ image: RGBImage) -> RGBImage {
        let rowBytes = target.width * 3
        var pixels = [UInt8](repeating: 0, count: target.height * rowBytes)
        image.pixels.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { out in
                for y in 0..<target.height {
                    (out.baseAddress! + y * rowBytes).update(from: src.baseAddress! + ((y + cropY) * image.width + cropX) * 3, count: rowBytes)
                }
            }
        }
        return RGBImage(width: target.width, height: target.height, pixels: pixels)
    }

    /// A mask (height, width) of class values at the original size, resized by
    /// nearest neighbour with the same geometry.
    public func mask(_ values: [UInt8]) -> [UInt8] {
        if isIdentity { return values }
        let xs = (0..<target.width).map { x in min(width - 1, Int((Double(x + cropX) + 0.5) * Double(width) / Double(resizedWidth))) }
        var out = [UInt8](repeating: 0, count: target.width * target.height)
        for y in 0..<target.height {
            let sy = min(height - 1, Int((Double(y + cropY) + 0.5) * Double(height) / Double(resizedHeight)))
            for x in 0..<target.width { out[y * target.width + x] = values[sy * width + xs[x]] }
        }
        return out
    }

    /// The filter of one axis: for each output pixel, the first source pixel
    /// it reads, how many, and their weights (summing to 1).
    struct Taps {
        var start = [Int](), length = [Int](), offset = [Int](), weights = [Float]()

        init(source: Int, resized: Int, first: Int, count: Int) {
            let scale = Double(source) / Double(resized), support = max(scale, 1)
            start.reserveCapacity(count)
            length.reserveCapacity(count)
            offset.reserveCapacity(count)
            for o in first..<first + count {
                let centre = (Double(o) + 0.5) * scale
                func weight(_ i: Int) -> Double { max(0, 1 - abs(Double(i) + 0.5 - centre) / support) }
                var lo = max(0, Int((centre - support).rounded(.down))), hi = min(source, Int((centre + support).rounded(.up)))
                // Drop zero-weight ends so an unscaled axis reads exactly one pixel with weight 1.
                while lo < hi - 1 && weight(lo) == 0 { lo += 1 }
                while hi > lo + 1 && weight(hi - 1) == 0 { hi -= 1 }
                var total = 0.0
                for i in lo..<hi { total += weight(i) }
                start.append(lo)
                length.append(hi - lo)
                offset.append(weights.count)
                for i in lo..<hi { weights.append(Float(total > 0 ? weight(i) / total : 1 / Double(hi - lo))) }
            }
        }
    }
}
