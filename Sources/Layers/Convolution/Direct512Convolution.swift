import CKernels

/// The direct scheme from kernels written once over vector extensions, in
/// 512-bit vectors: AVX-512F CPUs; channels in multiples of 16.
struct Direct512Convolution: DirectScheme {
    var name: String { "direct512" }
    var summary: String { "direct512 (AVX-512 kernels, no im2col)" }
    var isAvailable: Bool { Self.hasAVX512 }
    private static let hasAVX512 = bsn_kernels512_available() != 0
    var kernels: DirectKernels { DirectKernels(run: bsn_conv_run_512, weightGradient: bsn_conv_weight_gradient_512, block: 32) }
}
