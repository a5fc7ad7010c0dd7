// Winograd F(4x4, 3x3): the weight transform, and the kernels of
// winograd_kernels.h at 512 and 256 bits.

#include "CKernels.h"

#include <string.h>

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("clang loop unroll(full)")
#pragma clang diagnostic ignored "-Wpass-failed"

// U[ξ] = (G g Gᵀ)[ξ] for every pair of the job's channels, packed for bsn_conv_run
// with one tap: per ξ, blocks of `block` job output channels (the last may be
// block / 2), each [job input channel][block].
void bsn_winograd_weights(const float *w, int cout, int cin, int transpose, int block, float *u) {
    static const float G[6][3] = {
        {1.0f / 4, 0, 0},
        {-1.0f / 6, -1.0f / 6, -1.0f / 6},
        {-1.0f / 6, 1.0f / 6, -1.0f / 6},
        {1.0f / 24, 1.0f / 12, 1.0f / 6},
        {1.0f / 24, -1.0f / 12, 1.0f / 6},
        {0, 0, 1},
    };
    const int jin = transpose ? cout : cin, jout = transpose ? cin : cout;
    const ptrdiff_t per_xi = (ptrdiff_t)jin * jout;
    for (int ob = 0; ob < jout; ob += block) {
        const int bw = jout - ob >= block ? block : block / 2;
        for (int o = ob; o < ob + bw; o++) {
            for (int i = 0; i < jin; i++) {
                // The job's filter from job input i to job output o: the forward filter,
                // or for the input gradient the forward filter from o to i turned by 180°.
                float g[3][3];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++)
                        g[ky][kx] = transpose ? w[(((ptrdiff_t)i * 3 + 2 - ky) * 3 + 2 - kx) * cin + o]
                                              : w[(((ptrdiff_t)o * 3 + ky) * 3 + kx) * cin + i];
                float gg[6][3];                                   // G g
                for (int a = 0; a < 6; a++)
                    for (int kx = 0; kx < 3; kx++) gg[a][kx] = G[a][0] * g[0][kx] + G[a][1] * g[1][kx] + G[a][2] * g[2][kx];
                float *target = u + (ptrdiff_t)ob * jin + (ptrdiff_t)i * bw + (o - ob);
                for (int a = 0; a < 6; a++)
                    for (int b = 0; b < 6; b++)
                        target[(a * 6 + b) * per_xi] = gg[a][0] * G[b][0] + gg[a][1] * G[b][1] + gg[a][2] * G[b][2];
            }
        }
    }
}

#define VW 16
#define TARGET __attribute__((target("avx512f")))
#define SUFFIX _512
#include "winograd_kernels.h"
#undef VW
#undef TARGET
#undef SUFFIX
#undef NAME
#undef CAT
#undef CAT2

#define VW 8
#define TARGET __attribute__((target("avx2,fma")))
#define SUFFIX _256
#include "winograd_kernels.h"
