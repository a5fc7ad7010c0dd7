import Layers
import Tensor
import TestSupport
import XCTest

/// Every algorithm against a naive convolution computed in Float64, with
/// oneDNN's benchdnn tolerances for Winograd: a normalised error
/// ‖y − y_ref‖ / ‖y_ref‖ of at most 2e-5 for the forward pass and the input
/// gradient, and 2e-5 · (batch·H·W / 8)^0.4 for the accumulated weight gradient.
final class ConvolutionAccuracyTests: XCTestCase {
    /// (batch, height, width, in, out, kernel, stride, padding, upsampled): with `upsampled`
    /// the input is a nearest-neighbour 2x upsampling of a map half its size, as the CNF's up edges feed their convolution.
    static let shapes = [
        (4, 32, 32, 16, 16, 3, 1, 1, false), (2, 16, 16, 32, 64, 3, 1, 1, false), (8, 8, 8, 64, 64, 3, 1, 1, false),
        (16, 4, 4, 32, 32, 3, 1, 1, false), (3, 7, 9, 16, 32, 3, 1, 1, false), (2, 10, 6, 24, 8, 3, 1, 1, false),
        (4, 16, 16, 32, 32, 3, 2, 1, false), (8, 2, 2, 32, 32, 3, 1, 1, false), (2, 8, 8, 16, 16, 1, 1, 0, false),
        (2, 32, 32, 16, 16, 3, 1, 1, true), (4, 16, 16, 64, 64, 3, 1, 1, true), (8, 8, 8, 32, 32, 3, 1, 1, true),
        (16, 4, 4, 16, 16, 3, 1, 1, true), (64, 2, 2, 64, 64, 3, 1, 1, true), (64, 1, 1, 32, 32, 3, 1, 1, false),
    ]

    /// ‖a − b‖ / ‖b‖, with b in Float64.
    private func normalisedError(_ a: Tensor, _ b: [Double]) -> Double {
        var difference = 0.0, norm = 0.0
        for i in 0..<b.count {
            difference += (Double(a[i]) - b[i]) * (Double(a[i]) - b[i])
            norm += b[i] * b[i]
        }
        return (difference / max(norm, 1e-300)).squareRoot()
    }

    func testEveryAlgorithmIsWithinBenchdnnTolerancesOfAFloat64Reference() throws {
        let algorithms = ConvolutionAlgorithms.available
        var worst = [String: (forward: Double, input: Double, weight: Double)]()
        for (i, (n, h, w, cin, cout, k, s, p, upsampled)) in Self.shapes.enumerated() {
            var rng = RNG(seed: UInt64(30 + i))
            let x = Tensor(shape: [n, h, w, cin])
            if upsampled {
                let half = randomTensor([n, h / 2, w / 2, cin], seed: UInt64(i))
                for b in 0..<n { for y in 0..<h { for xx in 0..<w { for c in 0..<cin {
                    x[((b * h + y) * w + xx) * cin + c] = half[((b * (h / 2) + y / 2) * (w / 2) + xx / 2) * cin + c]
                } } } }
            } else {
                rng.fillUniform(x, -1, 1)
            }
            let reference = Conv2d(cin, cout, kernel: k, stride: s, padding: p, rng: &rng, context: makeContext())
            rng.fillUniform(reference.bias!.value, -0.5, 0.5)
            let (ho, wo) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1)
            let dy = randomTensor([n, ho, wo, cout], seed: UInt64(60 + i))
            let (y64, dx64, dw64) = Self.reference(x, dy, reference)
            let weightTolerance = 2e-5 * pow(Double(n * ho * wo) / 8, 0.4)
            for algorithm in algorithms {
                let conv = Conv2d(cin, cout, kernel: k, stride: s, padding: p, rng: &rng, context: makeContext())
                conv.weight.value.data.update(from: reference.weight.value.data, count: reference.weight.value.count)
                conv.bias!.value.data.update(from: reference.bias!.value.data, count: cout)
                conv.algorithm = algorithm
                let what = "\(conv.algorithmSummary(height: h, width: w)) on \(n)x\(h)x\(w) \(cin)>\(cout) k\(k) s\(s)\(upsampled ? " upsampled" : "")"
                let y = try conv.forward(x, training: true)
                let forward = normalisedError(y, y64)
                XCTAssertLessThanOrEqual(forward, 2e-5, "forward, \(what)")
                let dx = try conv.backward(dy)
                let input = normalisedError(dx, dx64), weight = normalisedError(conv.weight.gradient, dw64)
                XCTAssertLessThanOrEqual(input, 2e-5, "input gradient, \(what)")
                XCTAssertLessThanOrEqual(weight, weightTolerance, "weight gradient, \(what)")
                let was = worst[algorithm.name] ?? (0, 0, 0)
                worst[algorithm.name] = (max(was.forward, forward), max(was.input, input), max(was.weight, weight))
            }
        }
        for (name, e) in worst.sorted(by: { $0.key < $1.key }) {
            print(String(format: "ConvolutionAccuracyTests: %@ worst normalised error: forward %.2e, input gradient %.2e, weight gradient %.2e", name, e.forward, e.input, e.weight))
        }
    }

    /// y, dx and dW of the convolution in Float64.
    static func reference(_ x: Tensor, _ dy: Tensor, _ conv: Conv2d) -> ([Double], [Double], [Double]) {
        let (n, h, w, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (k, s, p, cout) = (conv.kernel, conv.stride, conv.padding, conv.outChannels)
        let (ho, wo) = (dy.shape[1], dy.shape[2])
        let xs = x.values.map(Double.init), ws = conv.weight.value.values.map(Double.init), gs = dy.values.map(Double.init)
        var y = [Double](repeating: 0, count: n * ho * wo * cout), dx = [Double](repeating: 0, count: xs.count), dw = [Double](repeating: 0, count: ws.count)
        for b in 0..<n { for oy in 0..<ho { for ox in 0..<wo { for o in 0..<cout {
            let out = ((b * ho + oy) * wo + ox) * cout + o, g = gs[out]
            var acc = Double(conv.bias!.value[o])
            for ky in 0..<k { for kx in 0..<k {
                let iy = oy * s - p + ky, ix = ox * s - p + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                let xi = ((b * h + iy) * w + ix) * cin, wi = ((o * k + ky) * k + kx) * cin
                for c in 0..<cin {
                    acc += xs[xi + c] * ws[wi + c]
                    dx[xi + c] += g * ws[wi + c]
                    dw[wi + c] += g * xs[xi + c]
                }
            } }
            y[out] = acc
        } } } }
        return (y, dx, dw)
    }
}
