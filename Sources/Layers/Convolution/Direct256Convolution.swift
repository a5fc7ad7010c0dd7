/// The 512-bit kernels' source compiled for 256-bit vectors (AVX2/FMA): the
/// twin that tests that shared source on every CPU. Not part of the measured choice.
struct Direct256Convolution: DirectScheme {
    var name: String { "direct256" }
    var summary: String { "direct256 (the AVX-512 kernels' source in 256 bits)" }
    var isAvailable: Bool { DirectKernels.runs256 }
    var isMeasured: Bool { false }
    var kernels: DirectKernels { .wide256 }
}
