import Tensor

/// im2col + one sgemm per chunk of images (no im2col at all for 1x1 stride
/// 1): computes every shape, so every other algorithm falls back to it.
///
///     y[r, o] = Σ_j col[r, j] · weight[o, j] + bias[o]     (col: im2col of x)
public struct GemmConvolution: ConvolutionAlgorithm {
    public init() {}
    public var name: String { "gemm" }
    public var summary: String { "im2col + OpenBLAS sgemm" }
    public var isAvailable: Bool { true }
    public var isMeasured: Bool { true }
    public func supports(_ pass: ConvolutionPass, _ shape: ConvolutionShape) -> Bool { true }

    public func workspace(_ pass: ConvolutionPass, _ shape: ConvolutionShape, images: Int) -> Int {
        // The column matrix of a chunk (forward, weight gradient) or its gradient (input gradient).
        let g = shape.geometry
        return g.isPointwise ? 0 : images * g.outHeight * g.outWidth * g.patchSize
    }

    public func plan(_ shape: ConvolutionShape) -> any ConvolutionPlan { Plan(shape) }

    final class Plan: ConvolutionPlan {
        let g: ConvGeometry, cout: Int
        init(_ shape: ConvolutionShape) { (g, cout) = (shape.geometry, shape.outChannels) }
        var rowsPerImage: Int { g.outHeight * g.outWidth }
        var imageSize: Int { g.height * g.width * g.channels }

        /// The column matrix of a chunk (the input itself for a pointwise convolution).
        private func columns(_ x: UnsafePointer<Float>, first: Int, count: Int, worker: Int, workspace: Workspace) -> UnsafePointer<Float> {
            let chunk = x + first * imageSize
            guard !g.isPointwise else { return chunk }
            let buffer = workspace.buffer(worker: worker, slot: ConvSlot.columns, count: count * rowsPerImage * g.patchSize)
            g.im2col(chunk, images: count, into: buffer)
            return UnsafePointer(buffer)
        }

        func forward(x: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
                     accumulate: Bool, relu: Bool, first: Int, count: Int, worker: Int, workspace: Workspace) {
            let rows = count * rowsPerImage, k = g.patchSize
            let out = y + first * rowsPerImage * cout
            let col = columns(x, first: first, count: count, worker: worker, workspace: workspace)
            if let bias {
                for r in 0..<rows { (out + r * cout).update(from: bias, count: cout) }
            }
            BLAS.sgemm(transposeB: true, m: rows, n: cout, k: k, a: col, lda: k,
                       b: weights, ldb: k, beta: bias == nil ? 0 : 1, c: out, ldc: cout)
        }

        func inputGradient(dy: UnsafePointer<Float>, weights: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                           first: Int, count: Int, worker: Int, workspace: Workspace) {
            let rows = count * rowsPerImage, k = g.patchSize, cin = g.channels
            let dyChunk = dy + first * rowsPerImage * cout, dxChunk = dx + first * imageSize
            if g.isPointwise {
                // dx (rows × Cin) = dy (rows × Cout) · W (Cout × Cin)
                BLAS.sgemm(m: rows, n: cin, k: cout, a: dyChunk, lda: cout, b: weights, ldb: k, c: dxChunk, ldc: cin)
            } else {
                let dcol = workspace.buffer(worker: worker, slot: ConvSlot.columnGradient, count: rows * k)
                BLAS.sgemm(m: rows, n: k, k: cout, a: dyChunk, lda: cout, b: weights, ldb: k, c: dcol, ldc: k)
                dxChunk.update(repeating: 0, count: count * imageSize)
                g.col2im(dcol, images: count, addingInto: dxChunk)
            }
        }

        func weightGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, partial: UnsafeMutablePointer<Float>,
                            first: Int, count: Int, worker: Int, workspace: Workspace) {
            let rows = count * rowsPerImage, k = g.patchSize
            let col = columns(x, first: first, count: count, worker: worker, workspace: workspace)
            // dW (Cout × K) += dyᵀ (Cout × rows) · col (rows × K)
            BLAS.sgemm(transposeA: true, m: cout, n: k, k: rows, a: dy + first * rowsPerImage * cout, lda: cout,
                       b: col, ldb: k, beta: 1, c: partial, ldc: k)
        }

        func addWeightGradient(_ partial: UnsafePointer<Float>, into gradient: UnsafeMutablePointer<Float>) {
            addVectors(gradient, partial, count: cout * g.patchSize)
        }
    }
}
