// The direct convolution kernels written once over GCC/Clang vector
// extensions, instantiated by wide_kernels.c for a vector width VW (floats)
// under a target attribute TARGET, with function names suffixed SUFFIX:
//   VW 16, target("avx512f")   → bsn_conv_run_512 … (AVX-512F CPUs)
//   VW 8,  target("avx2,fma")  → bsn_conv_run_256 … (the same code in 256 bits,
//                                 so it is tested on every AVX2 CPU)
// Layouts and job semantics are those of CKernels.h; the output-channel
// blocks are 2·VW wide (the last may be VW), so out_channels must be a
// multiple of VW.
//
// A tile holds R output pixels × 2·VW output channels in 2R vector
// accumulators. With 32 registers (AVX-512) R = 12 leaves room for the two
// weight vectors and a broadcast; with 16 (AVX2) R = 6. The weight gradient's
// tiles hold GTILE input channels: 8 (AVX-512), so that channel counts in
// multiples of 8 never need a partial tile, or 6 (AVX2).

// The loops over a tile's pixels (or channels) must unroll, so that the
// accumulators live in registers.
#define UNROLL _Pragma("clang loop unroll(full)")
// (The partial tiles, whose pixel count is only known at run time, stay loops.)
#pragma clang diagnostic ignored "-Wpass-failed"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define NAME(base) CAT(base, SUFFIX)

typedef float NAME(vf) __attribute__((vector_size(VW * 4)));
#define vf NAME(vf)

INLINE TARGET vf NAME(load)(const float *p) { vf v; __builtin_memcpy(&v, p, sizeof v); return v; }
INLINE TARGET void NAME(store)(float *p, vf v) { __builtin_memcpy(p, &v, sizeof v); }
// A scalar times a vector broadcasts the scalar (one vbroadcastss), so the tiles write `x * w`.
// max(v, 0) that keeps a NaN (as Elementwise.relu does), so a diverging step shows in its loss.
typedef int NAME(vi) __attribute__((vector_size(VW * 4)));
INLINE TARGET vf NAME(relu)(vf v) { return (vf)((NAME(vi))v & ~(NAME(vi))(v < (vf){0})); }
#define LOAD NAME(load)
#define STORE NAME(store)


// ---- Forward-style tiles: out[pixel][block] = bias + Σ_t Σ_c in[pixel + tap t][c] · w[t][c][block]

INLINE TARGET void NAME(tile2)(const int R, const float *in, const ptrdiff_t *pix, const ptrdiff_t *off, int taps,
                               int cin, const float *w, const float *bias, float *out, const ptrdiff_t *opix, int flags) {
    vf a0[WTILE], a1[WTILE];
    const vf b0 = bias ? LOAD(bias) : (vf){0}, b1 = bias ? LOAD(bias + VW) : (vf){0};
    UNROLL for (int r = 0; r < R; r++) { a0[r] = b0; a1[r] = b1; }
    for (int t = 0; t < taps; t++) {
        const float *x[WTILE];
        UNROLL for (int r = 0; r < R; r++) x[r] = in + pix[r] + off[t];
        const float *wt = w + (ptrdiff_t)t * cin * 2 * VW;
        for (int c = 0; c < cin; c++) {
            const vf w0 = LOAD(wt + c * 2 * VW), w1 = LOAD(wt + c * 2 * VW + VW);
            UNROLL for (int r = 0; r < R; r++) {
                const float v = x[r][c];
                a0[r] += v * w0;
                a1[r] += v * w1;
            }
        }
    }
    UNROLL for (int r = 0; r < R; r++) {
        if (flags & 1) { a0[r] += LOAD(out + opix[r]); a1[r] += LOAD(out + opix[r] + VW); }
        if (flags & 2) { a0[r] = NAME(relu)(a0[r]); a1[r] = NAME(relu)(a1[r]); }
        STORE(out + opix[r], a0[r]);
        STORE(out + opix[r] + VW, a1[r]);
    }
}

INLINE TARGET void NAME(tile1)(const int R, const float *in, const ptrdiff_t *pix, const ptrdiff_t *off, int taps,
                               int cin, const float *w, const float *bias, float *out, const ptrdiff_t *opix, int flags) {
    vf a0[WTILE];
    const vf b0 = bias ? LOAD(bias) : (vf){0};
    UNROLL for (int r = 0; r < R; r++) a0[r] = b0;
    for (int t = 0; t < taps; t++) {
        const float *x[WTILE];
        UNROLL for (int r = 0; r < R; r++) x[r] = in + pix[r] + off[t];
        const float *wt = w + (ptrdiff_t)t * cin * VW;
        for (int c = 0; c < cin; c++) {
            const vf w0 = LOAD(wt + c * VW);
            UNROLL for (int r = 0; r < R; r++) a0[r] += x[r][c] * w0;
        }
    }
    UNROLL for (int r = 0; r < R; r++) {
        if (flags & 1) a0[r] += LOAD(out + opix[r]);
        if (flags & 2) a0[r] = NAME(relu)(a0[r]);
        STORE(out + opix[r], a0[r]);
    }
}

// Whole-tile versions with R a compile-time constant (the inner loops unroll), and the partial one.
static TARGET void NAME(full2)(TILE_ARGS) { NAME(tile2)(WTILE, i, p, o, t, c, w, b, out, op, add); }
static TARGET void NAME(full1)(TILE_ARGS) { NAME(tile1)(WTILE, i, p, o, t, c, w, b, out, op, add); }
// A partial tile (fewer than WTILE pixels: a band's end, a small batch) with its pixel count a constant too,
// so its accumulators stay in registers: a switch over the counts below WTILE.
#define PART_CASE(n, tile) case n: if (n < WTILE) NAME(tile)(n, i, p, o, t, c, w, b, out, op, add); break;
#define PART_CASES(tile) PART_CASE(1, tile) PART_CASE(2, tile) PART_CASE(3, tile) PART_CASE(4, tile) PART_CASE(5, tile) \
    PART_CASE(6, tile) PART_CASE(7, tile) PART_CASE(8, tile) PART_CASE(9, tile) PART_CASE(10, tile) PART_CASE(11, tile)
static TARGET void NAME(part2)(const int R, TILE_ARGS) { switch (R) { PART_CASES(tile2) default: NAME(tile2)(R, i, p, o, t, c, w, b, out, op, add); } }
static TARGET void NAME(part1)(const int R, TILE_ARGS) { switch (R) { PART_CASES(tile1) default: NAME(tile1)(R, i, p, o, t, c, w, b, out, op, add); } }
#undef PART_CASES
#undef PART_CASE

TARGET void NAME(bsn_conv_run)(const bsn_conv_job *j) {
    const int cout = j->out_channels, cin = j->in_channels, taps = j->taps;
    const long total = (long)j->images * j->rows * j->cols;
    const int flags = (j->accumulate ? 1 : 0) | (j->relu ? 2 : 0);
    band b;
    for (long first = 0; first < total; first += BAND) {
        job_band(j, first, total, &b);
        for (int ob = 0; ob < cout; ob += 2 * VW) {
            const int two = cout - ob >= 2 * VW;
            const float *w = j->packed_weights + (ptrdiff_t)ob * taps * cin;
            const float *bias = j->bias ? j->bias + ob : NULL;
            for (int p = 0; p < b.count; p += WTILE) {
                const int r = b.count - p < WTILE ? b.count - p : WTILE;
                if (r == WTILE) (two ? NAME(full2) : NAME(full1))(j->input, b.in + p, j->tap_offsets, taps, cin, w, bias, j->output + ob, b.out + p, flags);
                else (two ? NAME(part2) : NAME(part1))(r, j->input, b.in + p, j->tap_offsets, taps, cin, w, bias, j->output + ob, b.out + p, flags);
            }
        }
    }
}

// ---- Weight gradient: g[t][c][block] += Σ_pixels in[pixel + tap t][c] · dy[pixel][block], R input channels at a time

INLINE TARGET void NAME(grad2)(const int R, const float *x, const ptrdiff_t *pix, const float *dy, const ptrdiff_t *dpix,
                               int n, float *g, int cout) {
    vf a0[GTILE], a1[GTILE];
    UNROLL for (int r = 0; r < R; r++) { a0[r] = LOAD(g + r * cout); a1[r] = LOAD(g + r * cout + VW); }
    for (int p = 0; p < n; p++) {
        const float *d = dy + dpix[p], *v = x + pix[p];
        const vf d0 = LOAD(d), d1 = LOAD(d + VW);
        UNROLL for (int r = 0; r < R; r++) {
            const float s = v[r];
            a0[r] += s * d0;
            a1[r] += s * d1;
        }
    }
    UNROLL for (int r = 0; r < R; r++) { STORE(g + r * cout, a0[r]); STORE(g + r * cout + VW, a1[r]); }
}

INLINE TARGET void NAME(grad1)(const int R, const float *x, const ptrdiff_t *pix, const float *dy, const ptrdiff_t *dpix,
                               int n, float *g, int cout) {
    vf a0[GTILE];
    UNROLL for (int r = 0; r < R; r++) a0[r] = LOAD(g + r * cout);
    for (int p = 0; p < n; p++) {
        const float *v = x + pix[p];
        const vf d0 = LOAD(dy + dpix[p]);
        UNROLL for (int r = 0; r < R; r++) a0[r] += v[r] * d0;
    }
    UNROLL for (int r = 0; r < R; r++) STORE(g + r * cout, a0[r]);
}

static TARGET void NAME(gfull2)(GRAD_ARGS) { NAME(grad2)(GTILE, x, p, d, dp, n, g, co); }
static TARGET void NAME(gfull1)(GRAD_ARGS) { NAME(grad1)(GTILE, x, p, d, dp, n, g, co); }
static TARGET void NAME(gpart2)(const int R, GRAD_ARGS) { NAME(grad2)(R, x, p, d, dp, n, g, co); }
static TARGET void NAME(gpart1)(const int R, GRAD_ARGS) { NAME(grad1)(R, x, p, d, dp, n, g, co); }

TARGET void NAME(bsn_conv_weight_gradient)(const bsn_conv_job *j, const float *dy, float *gradient) {
    const int cout = j->out_channels, cin = j->in_channels;
    const long total = (long)j->images * j->rows * j->cols;
    band b;
    for (long first = 0; first < total; first += BAND) {
        job_band(j, first, total, &b);
        for (int ob = 0; ob < cout; ob += 2 * VW) {
            const int two = cout - ob >= 2 * VW;
            for (int t = 0; t < j->taps; t++) {
                const float *x = j->input + j->tap_offsets[t];
                for (int c = 0; c < cin; c += GTILE) {
                    const int r = cin - c < GTILE ? cin - c : GTILE;
                    float *g = gradient + ((ptrdiff_t)t * cin + c) * cout + ob;
                    if (r == GTILE) (two ? NAME(gfull2) : NAME(gfull1))(x + c, b.in, dy + ob, b.out, b.count, g, cout);
                    else (two ? NAME(gpart2) : NAME(gpart1))(r, x + c, b.in, dy + ob, b.out, b.count, g, cout);
                }
            }
        }
    }
}

#include "norm_kernels.h"

#undef vf
#undef LOAD
#undef STORE
