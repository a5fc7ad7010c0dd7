import Layers
import Tensor
import TestSupport
import XCTest

/// Direct convolution over NHWC, written independently of im2col: the reference.
private func directConvolution(_ x: Tensor, _ conv: Conv2d) -> Tensor {
    let (n, h, w, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (k, s, p, cout) = (conv.kernel, conv.stride, conv.padding, conv.outChannels)
    let ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1
    let y = Tensor(shape: [n, ho, wo, cout])
    for b in 0..<n { for oy in 0..<ho { for ox in 0..<wo { for o in 0..<cout {
        var acc = Double(conv.bias?.value[o] ?? 0)
        for ky in 0..<k { for kx in 0..<k {
            let iy = oy * s - p + ky, ix = ox * s - p + kx
            guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
            for c in 0..<cin {
                acc += Double(x[((b * h + iy) * w + ix) * cin + c]) * Double(conv.weight.value[((o * k + ky) * k + kx) * cin + c])
            }
        } }
        y[((b * ho + oy) * wo + ox) * cout + o] = Float(acc)
    } } } }
    return y
}

/// The direct convolution's backward: dx, dW, db for output gradient dy.
private func directConvolutionBackward(_ x: Tensor, _ dy: Tensor, _ conv: Conv2d) -> (Tensor, Tensor, Tensor) {
    let (n, h, w, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (k, s, p, cout) = (conv.kernel, conv.stride, conv.padding, conv.outChannels)
    let (ho, wo) = (dy.shape[1], dy.shape[2])
    let dx = Tensor(shape: x.shape), dw = Tensor(shape: conv.weight.value.shape), db = Tensor(shape: [cout])
    for b in 0..<n { for oy in 0..<ho { for ox in 0..<wo { for o in 0..<cout {
        let g = dy[((b * ho + oy) * wo + ox) * cout + o]
        db[o] += g
        for ky in 0..<k { for kx in 0..<k {
            let iy = oy * s - p + ky, ix = ox * s - p + kx
            guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
            for c in 0..<cin {
                let xi = ((b * h + iy) * w + ix) * cin + c, wi = ((o * k + ky) * k + kx) * cin + c
                dx[xi] += g * conv.weight.value[wi]
                dw[wi] += g * x[xi]
            }
        } }
    } } } }
    return (dx, dw, db)
}

final class ConvolutionTests: XCTestCase {
    // (batch, height, width, in, out, kernel, stride, padding, bias)
    let shapes = [
        (2, 8, 8, 3, 5, 3, 1, 1, true), (3, 9, 7, 4, 6, 3, 2, 1, false), (2, 6, 6, 5, 4, 1, 1, 0, true),
        (2, 8, 8, 3, 4, 1, 2, 0, true), (1, 7, 7, 2, 3, 5, 1, 2, true), (2, 5, 5, 3, 2, 3, 1, 0, false),
        (5, 1, 1, 4, 4, 3, 1, 1, true), (4, 2, 2, 3, 3, 3, 2, 1, true), (2, 6, 6, 2, 3, 2, 2, 0, true),
    ]

    // Shapes the direct kernels take (channels in multiples of 8), with
    // 16- and 8-wide channel blocks, odd sizes, every tile width 1...6.
    let kernelShapes = [
        (2, 8, 8, 8, 16, 3, 1, 1, true), (3, 9, 7, 16, 8, 3, 2, 1, true), (2, 7, 13, 24, 24, 3, 1, 1, false),
        (2, 6, 6, 8, 8, 1, 2, 0, true), (1, 9, 9, 8, 16, 5, 1, 2, true), (2, 5, 5, 16, 8, 3, 1, 0, false),
        (5, 1, 1, 8, 8, 3, 1, 1, true), (4, 2, 2, 16, 16, 3, 2, 1, true), (2, 7, 7, 8, 16, 2, 2, 0, true),
        (1, 11, 11, 8, 40, 3, 2, 1, true), (2, 4, 4, 3, 16, 3, 1, 1, true), (2, 5, 5, 8, 5, 3, 2, 1, true),
        (2, 8, 8, 8, 16, 3, 4, 1, true), (2, 9, 9, 16, 8, 1, 4, 0, false),     // stride 4 (ResNet Fabric shortcuts)
        // Channels in multiples of 16 (the 512-bit kernels): 32- and 16-wide blocks, tails of the 12-pixel tile.
        (2, 9, 7, 16, 48, 3, 1, 1, true), (3, 5, 5, 32, 16, 3, 2, 1, false), (1, 13, 11, 16, 32, 3, 1, 1, true),
        (4, 2, 2, 32, 32, 3, 2, 1, true), (2, 7, 7, 16, 16, 5, 1, 2, true), (5, 1, 1, 16, 16, 3, 1, 1, true),
        (2, 8, 8, 48, 32, 3, 4, 1, false),
        // Stride-1 3x3 on maps of 4x4 and more (Winograd's 4x4 tiles: whole, cut at the right and bottom, one image or many).
        (3, 4, 4, 16, 16, 3, 1, 1, true), (2, 6, 10, 16, 32, 3, 1, 1, true), (1, 13, 5, 32, 16, 3, 1, 1, false),
        (9, 4, 8, 8, 24, 3, 1, 1, true), (2, 16, 16, 32, 32, 3, 1, 1, true),
        // Maps of at most 2x2 (the dense algorithms: every image's whole map one row), odd channel counts too.
        (7, 2, 2, 8, 8, 3, 1, 1, true), (6, 2, 1, 16, 24, 3, 1, 1, false), (13, 1, 1, 32, 16, 3, 1, 1, true),
        (3, 2, 2, 16, 8, 2, 1, 0, true), (5, 2, 2, 12, 20, 3, 1, 1, true), (30, 2, 2, 16, 32, 3, 1, 1, true),
    ]

    /// Every registered algorithm this CPU can run; the others are named as skipped.
    private var algorithms: [any ConvolutionAlgorithm] {
        for a in ConvolutionAlgorithms.all where !a.isAvailable {
            print("ConvolutionTests: skipping \(a.name): this CPU lacks its instruction set (\(a.summary))")
        }
        return ConvolutionAlgorithms.available
    }

    /// Shapes where an algorithm computes a pass itself (no fallback to gemm): each is tested on some, for every pass.
    func testEveryAlgorithmComputesSomeShapeOnItsOwn() {
        for algorithm in algorithms {
            for pass in ConvolutionPass.allCases {
                let own = (shapes + kernelShapes).filter { (_, h, w, cin, cout, k, s, p, _) in
                    algorithm.supports(pass, ConvolutionShape(ConvGeometry(height: h, width: w, channels: cin, kernel: k, stride: s, padding: p), outChannels: cout))
                }
                XCTAssertGreaterThan(own.count, 2, "\(algorithm.name) computes the \(pass.rawValue) of too few test shapes")
            }
        }
    }

    func testConv2dMatchesDirectConvolutionForwardAndBackward() throws {
        for algorithm in algorithms {
            try compareWithDirectConvolution(shapes + kernelShapes, algorithm: algorithm)
        }
    }

    func testEveryAlgorithmAgreesWithGemm() throws {
        // gemm first: the reference the others are compared with.
        let algorithms = [ConvolutionAlgorithms.gemm] + algorithms.filter { $0.name != "gemm" }
        guard algorithms.count > 1 else { throw XCTSkip("only gemm runs on this CPU: there is nothing to compare it with") }
        for (i, (n, h, w, cin, cout, k, s, p, bias)) in kernelShapes.enumerated() {
            var results = [[Float]]()
            for algorithm in algorithms {
                var rng = RNG(seed: UInt64(i))
                let conv = Conv2d(cin, cout, kernel: k, stride: s, padding: p, bias: bias, rng: &rng, context: makeContext())
                conv.algorithm = algorithm
                let x = randomTensor([n, h, w, cin], seed: UInt64(i))
                let y = try conv.forward(x, training: true)
                let dx = try conv.backward(randomTensor(y.shape, seed: 9))
                results.append(y.values + dx.values + conv.weight.gradient.values)
            }
            for (k, other) in results.enumerated().dropFirst() {
                XCTAssertEqual(results[0].count, other.count)
                for (a, b) in zip(results[0], other) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(a)), "\(algorithms[k].name) against gemm, shape \(i)") }
            }
        }
    }

    func testForwardAddingToATensorAddsTheResult() throws {
        let algorithms = algorithms
        for (i, (n, h, w, cin, cout, k, s, p, bias)) in kernelShapes.enumerated() {
            for algorithm in algorithms {
                var rng = RNG(seed: UInt64(i))
                let conv = Conv2d(cin, cout, kernel: k, stride: s, padding: p, bias: bias, rng: &rng, context: makeContext())
                conv.algorithm = algorithm
                let x = randomTensor([n, h, w, cin], seed: UInt64(i))
                let b = bias ? conv.bias!.value.data : nil
                let result = try conv.forward(x, weights: conv.weight.value.data, bias: b)
                let y = result.values, target = randomTensor(result.shape, seed: 50)
                let before = target.values
                let returned = try conv.forward(x, weights: conv.weight.value.data, bias: b, addingTo: target)
                XCTAssertTrue(returned === target)
                for (j, v) in target.values.enumerated() {
                    XCTAssertEqual(v, before[j] + y[j], accuracy: 1e-4 * max(1, abs(v)), "\(algorithm.name) shape \(i)")
                }
                XCTAssertThrowsError(try conv.forward(x, weights: conv.weight.value.data, bias: b, addingTo: Tensor(shape: [1, 1, 1, 1])))
                let rectified = try conv.forward(x, weights: conv.weight.value.data, bias: b, addingTo: nil, relu: true).values
                XCTAssertEqual(rectified, y.map { max(0, $0) }, "\(algorithm.name) shape \(i) with ReLU")
                // Written over the target (not added), then rectified after the addition when accumulating.
                let over = randomTensor(result.shape, seed: 51)
                XCTAssertEqual(try conv.forward(x, weights: conv.weight.value.data, bias: b, addingTo: over, accumulate: false).values, y)
                let sum = randomTensor(result.shape, seed: 52), start = sum.values
                let rectifiedSum = try conv.forward(x, weights: conv.weight.value.data, bias: b, addingTo: sum, relu: true).values
                for (j, v) in rectifiedSum.enumerated() {
                    XCTAssertEqual(v, max(0, start[j] + y[j]), accuracy: 1e-4 * max(1, abs(v)), "\(algorithm.name) shape \(i) sum + ReLU")
                }
            }
        }
    }

    private func compareWithDirectConvolution(_ shapes: [(Int, Int, Int, Int, Int, Int, Int, Int, Bool)], algorithm: any ConvolutionAlgorithm, threads: Int = 2) throws {
        for (i, (n, h, w, cin, cout, k, s, p, bias)) in shapes.enumerated() {
            var rng = RNG(seed: UInt64(i))
            let conv = Conv2d(cin, cout, kernel: k, stride: s, padding: p, bias: bias, rng: &rng, context: makeContext(threads: threads))
            conv.algorithm = algorithm
            if let b = conv.bias { rng.fillUniform(b.value, -1, 1) }
            let x = randomTensor([n, h, w, cin], seed: UInt64(100 + i))
            let y = try conv.forward(x, training: true)
            assertClose(y, directConvolution(x, conv), "\(algorithm.name) forward \(i)")
            let dy = randomTensor(y.shape, seed: UInt64(200 + i))
            for p in conv.parameters { p.zeroGradient() }
            let dx = try conv.backward(dy)
            let (rdx, rdw, rdb) = directConvolutionBackward(x, dy, conv)
            assertClose(dx, rdx, "\(algorithm.name) dx \(i)")
            assertClose(conv.weight.gradient, rdw, "\(algorithm.name) dW \(i)")
            if let b = conv.bias { assertClose(b.gradient, rdb, "\(algorithm.name) db \(i)") }
        }
    }

    func testConv2dMatchesDirectConvolutionOnOneAndThreeThreads() throws {
        for algorithm in algorithms {
            try compareWithDirectConvolution(shapes + kernelShapes, algorithm: algorithm, threads: 1)
            try compareWithDirectConvolution(shapes + kernelShapes, algorithm: algorithm, threads: 3)
        }
    }

    func testConv2dGradientsMatchFiniteDifferences() throws {
        for (n, h, w, cin, cout, k, s, p) in [(2, 6, 6, 3, 4, 3, 2, 1), (2, 5, 5, 2, 3, 3, 1, 1), (3, 4, 4, 3, 2, 1, 1, 0),
                                              (2, 5, 5, 8, 8, 3, 2, 1), (2, 4, 4, 8, 16, 3, 1, 1)] {
            var rng = RNG(seed: 5)
            let conv = Conv2d(cin, cout, kernel: k, stride: s, padding: p, rng: &rng, context: makeContext())
            try checkLayerGradients(conv, input: randomTensor([n, h, w, cin], seed: 6), training: true)
        }
    }

    func testConv2dRejectsWrongChannelsWithAClearMessage() {
        var rng = RNG(seed: 1)
        let conv = Conv2d(3, 4, rng: &rng, context: makeContext())
        XCTAssertThrowsError(try conv.forward(Tensor(shape: [1, 4, 4, 5]), training: true)) { error in
            XCTAssertEqual("\(error)", "Conv2d: expected 3 input channels, got 5 (shape [1, 4, 4, 5])")
        }
        XCTAssertThrowsError(try conv.forward(Tensor(shape: [4, 4, 3]), training: true))
        XCTAssertThrowsError(try Conv2d(3, 4, kernel: 5, padding: 0, rng: &rng, context: makeContext()).forward(Tensor(shape: [1, 3, 3, 3]), training: true))
    }

    func testConv2dWeightsFollowHeInitialisation() {
        var rng = RNG(seed: 11)
        let conv = Conv2d(64, 64, kernel: 3, rng: &rng, context: makeContext())
        let v = conv.weight.value.values.map(Double.init)
        let mean = v.reduce(0, +) / Double(v.count)
        let std = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.002)
        XCTAssertEqual(std, (2.0 / (64 * 9)).squareRoot(), accuracy: 0.002)
    }
}

/// What each algorithm says a pass takes of the workspace is what it takes.
final class ConvolutionWorkspaceTests: XCTestCase {
    func testEveryAlgorithmStatesTheWorkspaceItsPassesUse() throws {
        // One chunk on one thread: the images of a pass are one chunk when their rows fit rowsPerChunk.
        let shapes = [(2, 8, 8, 16, 16, 3, 1, 1), (3, 9, 9, 16, 32, 3, 2, 1), (2, 6, 6, 32, 16, 1, 1, 0), (4, 4, 4, 16, 16, 3, 1, 1)]
        for algorithm in ConvolutionAlgorithms.available {
            for (n, h, w, cin, cout, k, s, p) in shapes {
                let g = ConvGeometry(height: h, width: w, channels: cin, kernel: k, stride: s, padding: p)
                let shape = ConvolutionShape(g, outChannels: cout)
                guard algorithm.supports(.forward, shape) else { continue }
                var rng = RNG(seed: 1)
                let context = makeContext(threads: 1)
                let conv = Conv2d(cin, cout, kernel: k, stride: s, padding: p, rng: &rng, context: context)
                conv.algorithm = algorithm
                let y = try conv.forward(randomTensor([n, h, w, cin], seed: 2), training: true)
                let what = "\(algorithm.name) \(h)x\(w) \(cin)>\(cout) k\(k) s\(s)"
                XCTAssertEqual(context.workspace.floats, algorithm.workspace(.forward, shape, images: n), "forward: \(what)")
                _ = try conv.backward(randomTensor(y.shape, seed: 3))
                // The layer's own per-worker partial sums (weights and bias) besides what the algorithm states.
                // A pass the algorithm does not compute is gemm's.
                let stated = ConvolutionPass.allCases.map { (algorithm.supports($0, shape) ? algorithm : ConvolutionAlgorithms.gemm).workspace($0, shape, images: n) }
                    .reduce(0, +) + algorithm.partialFloats(shape) + cout
                XCTAssertLessThanOrEqual(context.workspace.floats, stated, "forward + backward: \(what)")
            }
        }
    }
}
