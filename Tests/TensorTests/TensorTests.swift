import CPUFeatures
import CBLASCore
import Tensor
import TestSupport
import XCTest

final class TensorTests: XCTestCase {
    func testReshapeReusesTheBufferWhenItFits() {
        let t = Tensor(shape: [4, 8])
        let before = Tensor.allocations
        t.reshape([2, 8])
        t.reshape([4, 8])
        XCTAssertEqual(Tensor.allocations, before)
        t.reshape([5, 8])
        XCTAssertEqual(Tensor.allocations, before + 1)
        XCTAssertEqual(t.count, 40)
    }

    func testSgemmComputesARowMajorProduct() {
        let a: [Float] = [1, 2, 3, 4, 5, 6]        // 2x3
        let b: [Float] = [7, 8, 9, 10, 11, 12]     // 3x2
        var c = [Float](repeating: 1, count: 4)
        BLAS.sgemm(m: 2, n: 2, k: 3, a: a, lda: 3, b: b, ldb: 2, beta: 1, c: &c, ldc: 2)
        XCTAssertEqual(c, [59, 65, 140, 155])
        var gram = [Float](repeating: 0, count: 9)   // aᵀ·a, 3x3
        BLAS.sgemm(transposeA: true, m: 3, n: 3, k: 2, a: a, lda: 3, b: a, ldb: 3, c: &gram, ldc: 3)
        XCTAssertEqual(gram, [17, 22, 27, 22, 29, 36, 27, 36, 45])
    }

    func testIm2colAndCol2imAreAdjoint() {
        // ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for every geometry: col2im is im2col's transpose.
        for (k, s, p) in [(3, 1, 1), (3, 2, 1), (1, 2, 0), (5, 1, 2), (2, 2, 0), (3, 1, 0)] {
            let g = ConvGeometry(height: 7, width: 6, channels: 3, kernel: k, stride: s, padding: p)
            let x = randomTensor([2, 7, 6, 3], seed: 1)
            let c = randomTensor([2 * g.outHeight * g.outWidth, g.patchSize], seed: 2)
            let columns = Tensor(shape: c.shape)
            g.im2col(x.data, images: 2, into: columns.data)
            let back = Tensor(shape: x.shape)
            g.col2im(c.data, images: 2, addingInto: back.data)
            XCTAssertEqual(weightedSum(columns, c), weightedSum(x, back), accuracy: 1e-3, "k\(k) s\(s) p\(p)")
        }
    }

    func testIm2colPlacesPatchesAndPadding() {
        // 1 image 2x2, 1 channel, values 1...4; 3x3 kernel, padding 1: pixel (0,0)'s patch.
        let g = ConvGeometry(height: 2, width: 2, channels: 1, kernel: 3, stride: 1, padding: 1)
        let x = Tensor(shape: [1, 2, 2, 1], values: [1, 2, 3, 4])
        let columns = Tensor(shape: [4, 9])
        g.im2col(x.data, images: 1, into: columns.data)
        XCTAssertEqual(Array(columns.values[0..<9]), [0, 0, 0, 0, 1, 2, 0, 3, 4])
        XCTAssertEqual(Array(columns.values[27..<36]), [1, 2, 0, 3, 4, 0, 0, 0, 0])
    }
}

final class BLASCoreTests: XCTestCase {
    func testPreferredCoreReplacesOnlyWeakFallbacks() {
        func pick(_ core: String, _ avx2: Int32, _ avx512: Int32) -> String? {
            bsn_blas_preferred_core(core, avx2, avx512).map { String(cString: $0) }
        }
        XCTAssertEqual(pick("Prescott", 1, 1), "SkylakeX")
        XCTAssertEqual(pick("Prescott", 1, 0), "Haswell")
        XCTAssertEqual(pick("Sandybridge", 1, 0), "Haswell")
        XCTAssertNil(pick("Haswell", 1, 1))
        XCTAssertNil(pick("SkylakeX", 1, 1))
        XCTAssertNil(pick("Zen", 1, 0))
        XCTAssertNil(pick("Prescott", 0, 0), "an old CPU keeps its old kernels")
    }

    func testTheTestProcessItselfRunsFastKernels() throws {
        // The start-up hook runs in every binary that links the engine, this one included.
        guard bsn_cpu_has_avx2_fma() != 0 else { throw XCTSkip("this CPU has no AVX2/FMA: OpenBLAS's older kernels are the fast ones here") }
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil || BLAS.coreSwitchedFrom != nil else {
            throw XCTSkip("OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]!) chose the kernels and bsn kept them")
        }
        XCTAssertNil(bsn_blas_preferred_core(BLAS.coreName, 1, bsn_cpu_has_avx512()),
                     "OpenBLAS runs the \(BLAS.coreName) kernels on an AVX2 machine")
    }
}
