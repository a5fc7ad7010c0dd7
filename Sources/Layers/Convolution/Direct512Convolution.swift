/// The direct scheme from kernels written once over vector extensions, in
/// 512-bit vectors: AVX-512F CPUs; channels in multiples of 16.
struct Direct512Convolution: DirectScheme {
    var name: String { "direct512" }
    var summary: String { "direct512 (AVX-512 kernels, no im2col)" }
    var isAvailable: Bool { DirectKernels.runs512 }
    var kernels: DirectKernels { .wide512 }
}
