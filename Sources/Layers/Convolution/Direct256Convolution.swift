import CKernels

/// The 512-bit kernels' source compiled for 256-bit vectors (AVX2/FMA): the
/// twin that tests that shared source on every CPU. Not part of the measured choice.
struct Direct256Convolution: DirectScheme {
    var name: String { "direct256" }
    var summary: String { "direct256 (the AVX-512 kernels' source in 256 bits)" }
    var isAvailable: Bool { Self.hasAVX2 }
    var isMeasured: Bool { false }
    private static let hasAVX2 = bsn_kernels_available() != 0
    var kernels: DirectKernels { DirectKernels(run: bsn_conv_run_256, weightGradient: bsn_conv_weight_gradient_256, block: 16) }
}
