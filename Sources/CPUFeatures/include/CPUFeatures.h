#ifndef BSN_CPU_FEATURES_H
#define BSN_CPU_FEATURES_H

// What this CPU (and the operating system, which must save the wider
// registers) can run: one detection for C (OpenBLAS kernel selection, the
// direct convolution kernels) and Swift (the convolution algorithm).

/// AVX2 and FMA, with YMM state saved by the OS.
int bsn_cpu_has_avx2_fma(void);
/// The above and AVX-512 F, with opmask and ZMM state saved.
int bsn_cpu_has_avx512f(void);
/// AVX-512 F, DQ, BW and VL: what OpenBLAS's SkylakeX kernels need.
int bsn_cpu_has_avx512(void);

#endif
