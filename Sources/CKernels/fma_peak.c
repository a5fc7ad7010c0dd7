// The FP32 fused multiply-add peak of one thread, measured: independent FMA
// chains on vector registers, many more than the FMA latency × units needs,
// so that nothing but the FMA units limits the loop. The figure is the
// hardware's, whatever kernels OpenBLAS was told to use.

#include "CKernels.h"

#include "CPUFeatures.h"
#include <time.h>


static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

// One width: VW floats a vector, under TARGET. Returns flops per second over
// `iterations` rounds of CHAINS FMAs. CHAINS covers FMA latency (4) × units (2)
// with room to spare, and leaves the constants in registers: 16 of AVX-512's
// 32, 12 of AVX2's 16 (16 chains there would spill and halve the rate). The chains converge (a < 1), so no value
// overflows or becomes denormal; the sum is returned through `sink` so the
// loop is not removed.
#define PROBE(NAME, VW, CHAINS, TARGET)                                                                                 \
    typedef float NAME##_vf __attribute__((vector_size(VW * 4)));                                             \
    __attribute__((target(TARGET), noinline)) static double NAME(long iterations, float *sink) {              \
        NAME##_vf acc[CHAINS];                                                                                \
        const NAME##_vf a = (NAME##_vf){0} + 0.999999f, b = (NAME##_vf){0} + 1e-7f;                           \
        for (int i = 0; i < CHAINS; i++) acc[i] = (NAME##_vf){0} + (float)i;                                  \
        const double start = seconds_now();                                                                   \
        for (long n = 0; n < iterations; n++) {                                                               \
            _Pragma("clang loop unroll(full)") for (int i = 0; i < CHAINS; i++)                               \
                acc[i] = __builtin_elementwise_fma(acc[i], a, b);                                             \
        }                                                                                                     \
        const double elapsed = seconds_now() - start;                                                         \
        NAME##_vf total = (NAME##_vf){0};                                                                     \
        for (int i = 0; i < CHAINS; i++) total += acc[i];                                                     \
        float s = 0;                                                                                          \
        for (int i = 0; i < VW; i++) s += total[i];                                                           \
        *sink = s;                                                                                            \
        return elapsed > 0 ? 2.0 * VW * CHAINS * (double)iterations / elapsed : 0;                            \
    }

PROBE(probe512, 16, 16, "avx512f")
PROBE(probe256, 8, 12, "avx2,fma")

double bsn_fma_flops_per_second(int bits, long iterations) {
    float sink = 0;
    if (bits == 512 && bsn_cpu_has_avx512f()) return probe512(iterations, &sink);
    if (bits == 256 && bsn_cpu_has_avx2_fma()) return probe256(iterations, &sink);
    return 0;
}
