// Winograd F(4x4, 3x3): the kernels of winograd_kernels.h at 512 and 256 bits.

#include "CKernels.h"

#include <string.h>

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("clang loop unroll(full)")
#pragma clang diagnostic ignored "-Wpass-failed"

#define VW 16
#define WROWS 12
#define GROWS 8
#define TARGET __attribute__((target("avx512f")))
#define SUFFIX _512
#include "winograd_kernels.h"
#undef VW
#undef WROWS
#undef GROWS
#undef TARGET
#undef SUFFIX
#undef NAME
#undef CAT
#undef CAT2

#define VW 8
#define WROWS 6
#define GROWS 6
#define TARGET __attribute__((target("avx2,fma")))
#define SUFFIX _256
#include "winograd_kernels.h"
