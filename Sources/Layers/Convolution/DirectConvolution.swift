import CKernels

/// Hand-tiled AVX2/FMA kernels of the direct scheme; channels in multiples of 8.
struct DirectConvolution: DirectScheme {
    var name: String { "direct" }
    var summary: String { "direct (AVX2/FMA kernels, no im2col)" }
    var isAvailable: Bool { Self.hasAVX2 }
    private static let hasAVX2 = bsn_kernels_available() != 0     // CPUID once, not at every convolution
    var kernels: DirectKernels { DirectKernels(run: bsn_conv_run, weightGradient: bsn_conv_weight_gradient, block: 16) }
}
