/// The geometry of a square-kernel convolution over NHWC images, and the
/// im2col / col2im transforms that turn it into one matrix product.
///
/// A column matrix has one row per output pixel (n, oy, ox) and
/// K = kernel·kernel·channels columns ordered (ky, kx, c): row r holds the
/// input patch under output pixel r, zeros where it falls in the padding.
public struct ConvGeometry: Equatable, Sendable {
    public let height: Int, width: Int, channels: Int
    public let kernel: Int, stride: Int, padding: Int

    public init(height: Int, width: Int, channels: Int, kernel: Int, stride: Int, padding: Int) {
        (self.height, self.width, self.channels) = (height, width, channels)
        (self.kernel, self.stride, self.padding) = (kernel, stride, padding)
    }

    public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Columns of the column matrix: kernel·kernel·channels.
    public var patchSize: Int { kernel * kernel * channels }
    /// True when the column matrix is the input itself (1x1, stride 1, no padding).
    public var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }

    /// Fills `columns` (images·outHeight·outWidth rows × patchSize) from
    /// `images` consecutive NHWC images starting at `input`.
    public func im2col(_ input: UnsafePointer<Float>, images: Int, into columns: UnsafeMutablePointer<Float>) {
        let c = channels, k = kernel, rowLength = patchSize
        let imageSize = height * width * c
        var row = columns
        for n in 0..<images {
            let image = input + n * imageSize
            for oy in 0..<outHeight {
                let y0 = oy * stride - padding
                for ox in 0..<outWidth {
                    let x0 = ox * stride - padding
                    var out = row
                    for ky in 0..<k {
                        let y = y0 + ky
                        if y < 0 || y >= height {
                            out.update(repeating: 0, count: k * c)
                            out += k * c
                            continue
                        }
                        let line = image + y * width * c
                        // Copy the run of kernel taps that lie inside the image in one go.
                        let first = max(0, -x0), last = min(k, width - x0)
                        if first > 0 { out.update(repeating: 0, count: first * c) }
                        if last > first {
                            (out + first * c).update(from: line + (x0 + first) * c, count: (last - first) * c)
                        }
                        if last < k { (out + max(last, first) * c).update(repeating: 0, count: (k - max(last, first)) * c) }
                        out += k * c
                    }
                    row += rowLength
                }
            }
        }
    }

    /// Adds the column-matrix gradient back onto the NHWC input gradient (the
    /// adjoint of `im2col`). `output` must hold `images` images; it is added to,
    /// not overwritten.
    public func col2im(_ columns: UnsafePointer<Float>, images: Int, addingInto output: UnsafeMutablePointer<Float>) {
        let c = channels, k = kernel, rowLength = patchSize
        let imageSize = height * width * c
        var row = columns
        for n in 0..<images {
            let image = output + n * imageSize
            for oy in 0..<outHeight {
                let y0 = oy * stride - padding
                for ox in 0..<outWidth {
                    let x0 = ox * stride - padding
                    let first = max(0, -x0), last = min(k, width - x0)
                    if last > first {
                        for ky in 0..<k {
                            let y = y0 + ky
                            if y < 0 || y >= height { continue }
                            let source = row + (ky * k + first) * c
                            let target = image + (y * width + x0 + first) * c
                            addVectors(target, source, count: (last - first) * c)
                        }
                    }
                    row += rowLength
                }
            }
        }
    }
}

/// target[i] += source[i] for i in 0..<count.
@inline(__always)
public func addVectors(_ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        let t = UnsafeMutableRawPointer(target + i), s = UnsafeRawPointer(source + i)
        t.storeBytes(of: t.loadUnaligned(as: SIMD8<Float>.self) + s.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        i += 8
    }
    while i < count { target[i] += source[i]; i += 1 }
}
