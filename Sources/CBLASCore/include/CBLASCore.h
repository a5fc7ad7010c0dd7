#ifndef BSN_CBLASCORE_H
#define BSN_CBLASCORE_H

#include <stddef.h>
#include <stdint.h>

// ---- BLAS kernel selection (blas_core.c) ------------------------------------
// Debian's OpenBLAS may not recognise a recent CPU and fall back to its old
// SSE3 "Prescott" kernels (5x slower). A constructor in blas_core.c checks, at
// process start, whether the detected core is weaker than what the CPU
// supports and, if OPENBLAS_CORETYPE is unset, re-executes the process with it
// set (OpenBLAS reads it only when the library loads). A value the user set is
// never overridden.

// (CPU detection: CPUFeatures.h.)
/// The OpenBLAS core to force for a library that detected `detected`, or NULL
/// when the detected core is already right for a CPU with these features.
const char *bsn_blas_preferred_core(const char *detected, int has_avx2_fma, int has_avx512);

#endif
