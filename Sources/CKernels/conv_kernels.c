#include "CKernels.h"

#include <cpuid.h>
#include <immintrin.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

int bsn_kernels_available(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 12)) || !(c & (1u << 27))) return 0;        // FMA, OSXSAVE
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) != 0x6) return 0;                             // YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 5)) != 0;                                 // AVX2
}

int bsn_cpu_has_avx512f(void) {
    unsigned int a, b, c, d;
    if (!bsn_kernels_available()) return 0;
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE0) != 0xE0) return 0;                           // opmask, ZMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 16)) != 0;                                // AVX-512 F
}

// ---- Forward-style tiles ---------------------------------------------------
// R output pixels × 16 (or 8) output channels held in registers; for every tap
// and input channel: load the weight vector(s), broadcast each pixel's input
// value, fused multiply-add. R ≤ 6 keeps 12 accumulators + 2 weights + 1
// broadcast within the 16 YMM registers.

INLINE AVX2 void tile16(const int R, const float *in, ptrdiff_t ps, const ptrdiff_t *off, int taps,
                        int cin, const float *w, const float *bias, float *out, ptrdiff_t ops) {
    __m256 a0[6], a1[6];
    __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int r = 0; r < R; r++) { a0[r] = b0; a1[r] = b1; }
    for (int t = 0; t < taps; t++) {
        const float *x = in + off[t];
        const float *wt = w + (ptrdiff_t)t * cin * 16;
        for (int c = 0; c < cin; c++) {
            __m256 w0 = _mm256_loadu_ps(wt + c * 16), w1 = _mm256_loadu_ps(wt + c * 16 + 8);
            for (int r = 0; r < R; r++) {
                __m256 v = _mm256_broadcast_ss(x + r * ps + c);
                a0[r] = _mm256_fmadd_ps(v, w0, a0[r]);
                a1[r] = _mm256_fmadd_ps(v, w1, a1[r]);
            }
        }
    }
    for (int r = 0; r < R; r++) {
        _mm256_storeu_ps(out + r * ops, a0[r]);
        _mm256_storeu_ps(out + r * ops + 8, a1[r]);
    }
}

INLINE AVX2 void tile8(const int R, const float *in, ptrdiff_t ps, const ptrdiff_t *off, int taps,
                       int cin, const float *w, const float *bias, float *out, ptrdiff_t ops) {
    __m256 a0[6];
    __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    for (int r = 0; r < R; r++) a0[r] = b0;
    for (int t = 0; t < taps; t++) {
        const float *x = in + off[t];
        const float *wt = w + (ptrdiff_t)t * cin * 8;
        for (int c = 0; c < cin; c++) {
            __m256 w0 = _mm256_loadu_ps(wt + c * 8);
            for (int r = 0; r < R; r++)
                a0[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + r * ps + c), w0, a0[r]);
        }
    }
    for (int r = 0; r < R; r++) _mm256_storeu_ps(out + r * ops, a0[r]);
}

#define TILE_VARIANTS(name) \
    static AVX2 void name##_1(const float *i, ptrdiff_t p, const ptrdiff_t *o, int t, int c, const float *w, const float *b, float *out, ptrdiff_t op) { name(1, i, p, o, t, c, w, b, out, op); } \
    static AVX2 void name##_2(const float *i, ptrdiff_t p, const ptrdiff_t *o, int t, int c, const float *w, const float *b, float *out, ptrdiff_t op) { name(2, i, p, o, t, c, w, b, out, op); } \
    static AVX2 void name##_3(const float *i, ptrdiff_t p, const ptrdiff_t *o, int t, int c, const float *w, const float *b, float *out, ptrdiff_t op) { name(3, i, p, o, t, c, w, b, out, op); } \
    static AVX2 void name##_4(const float *i, ptrdiff_t p, const ptrdiff_t *o, int t, int c, const float *w, const float *b, float *out, ptrdiff_t op) { name(4, i, p, o, t, c, w, b, out, op); } \
    static AVX2 void name##_5(const float *i, ptrdiff_t p, const ptrdiff_t *o, int t, int c, const float *w, const float *b, float *out, ptrdiff_t op) { name(5, i, p, o, t, c, w, b, out, op); } \
    static AVX2 void name##_6(const float *i, ptrdiff_t p, const ptrdiff_t *o, int t, int c, const float *w, const float *b, float *out, ptrdiff_t op) { name(6, i, p, o, t, c, w, b, out, op); }

TILE_VARIANTS(tile16)
TILE_VARIANTS(tile8)

typedef void (*tile_fn)(const float *, ptrdiff_t, const ptrdiff_t *, int, int, const float *, const float *, float *, ptrdiff_t);
static const tile_fn tiles16[7] = {0, tile16_1, tile16_2, tile16_3, tile16_4, tile16_5, tile16_6};
static const tile_fn tiles8[7] = {0, tile8_1, tile8_2, tile8_3, tile8_4, tile8_5, tile8_6};

AVX2 void bsn_conv_run(const bsn_conv_job *j) {
    const int cout = j->out_channels, cin = j->in_channels, taps = j->taps;
    for (int img = 0; img < j->images; img++) {
        for (int row = 0; row < j->rows; row++) {
            const float *in_row = j->input + img * j->in_image_stride + row * j->in_row_stride;
            float *out_row = j->output + img * j->out_image_stride + row * j->out_row_stride;
            for (int ob = 0; ob < cout; ob += 16) {
                const int width = cout - ob >= 16 ? 16 : 8;
                const float *w = j->packed_weights + (ptrdiff_t)ob * taps * cin;
                const float *bias = j->bias ? j->bias + ob : NULL;
                const tile_fn *fns = width == 16 ? tiles16 : tiles8;
                for (int col = 0; col < j->cols; col += 6) {
                    int r = j->cols - col < 6 ? j->cols - col : 6;
                    fns[r](in_row + col * j->in_pixel_stride, j->in_pixel_stride, j->tap_offsets, taps, cin,
                           w, bias, out_row + col * j->out_pixel_stride + ob, j->out_pixel_stride);
                }
            }
        }
    }
}

void bsn_pack_weights(const float *weights, int cout, int kk, int cin,
                      const int *taps, int tap_count, int transpose, float *packed) {
    // Job channels: in → out. Forward: (cin → cout); transposed: (cout → cin).
    const int job_in = transpose ? cout : cin, job_out = transpose ? cin : cout;
    for (int ob = 0; ob < job_out; ob += 16) {
        const int width = job_out - ob >= 16 ? 16 : 8;
        float *block = packed + (ptrdiff_t)ob * tap_count * job_in;
        for (int t = 0; t < tap_count; t++) {
            for (int c = 0; c < job_in; c++) {
                float *dst = block + ((ptrdiff_t)t * job_in + c) * width;
                for (int j = 0; j < width; j++) {
                    int o = ob + j;
                    // source index [cout][kk][cin]
                    ptrdiff_t src = transpose ? ((ptrdiff_t)c * kk + taps[t]) * cin + o
                                              : ((ptrdiff_t)o * kk + taps[t]) * cin + c;
                    dst[j] = weights[src];
                }
            }
        }
    }
}

// ---- Weight gradient tiles --------------------------------------------------
// R input channels × 16 (or 8) output channels in registers, accumulated over
// the pixels of one output row: per pixel, load dy's vector(s) and broadcast
// the R input values.

INLINE AVX2 void grad16(const int R, const float *x, ptrdiff_t ps, const float *dy, ptrdiff_t dps,
                        int cols, float *g, int cout) {
    __m256 a0[6], a1[6];
    for (int r = 0; r < R; r++) { a0[r] = _mm256_loadu_ps(g + r * cout); a1[r] = _mm256_loadu_ps(g + r * cout + 8); }
    for (int p = 0; p < cols; p++) {
        __m256 d0 = _mm256_loadu_ps(dy + p * dps), d1 = _mm256_loadu_ps(dy + p * dps + 8);
        for (int r = 0; r < R; r++) {
            __m256 v = _mm256_broadcast_ss(x + p * ps + r);
            a0[r] = _mm256_fmadd_ps(v, d0, a0[r]);
            a1[r] = _mm256_fmadd_ps(v, d1, a1[r]);
        }
    }
    for (int r = 0; r < R; r++) { _mm256_storeu_ps(g + r * cout, a0[r]); _mm256_storeu_ps(g + r * cout + 8, a1[r]); }
}

INLINE AVX2 void grad8(const int R, const float *x, ptrdiff_t ps, const float *dy, ptrdiff_t dps,
                       int cols, float *g, int cout) {
    __m256 a0[6];
    for (int r = 0; r < R; r++) a0[r] = _mm256_loadu_ps(g + r * cout);
    for (int p = 0; p < cols; p++) {
        __m256 d0 = _mm256_loadu_ps(dy + p * dps);
        for (int r = 0; r < R; r++) a0[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + p * ps + r), d0, a0[r]);
    }
    for (int r = 0; r < R; r++) _mm256_storeu_ps(g + r * cout, a0[r]);
}

#define GRAD_VARIANTS(name) \
    static AVX2 void name##_1(const float *x, ptrdiff_t p, const float *d, ptrdiff_t dp, int n, float *g, int co) { name(1, x, p, d, dp, n, g, co); } \
    static AVX2 void name##_2(const float *x, ptrdiff_t p, const float *d, ptrdiff_t dp, int n, float *g, int co) { name(2, x, p, d, dp, n, g, co); } \
    static AVX2 void name##_3(const float *x, ptrdiff_t p, const float *d, ptrdiff_t dp, int n, float *g, int co) { name(3, x, p, d, dp, n, g, co); } \
    static AVX2 void name##_4(const float *x, ptrdiff_t p, const float *d, ptrdiff_t dp, int n, float *g, int co) { name(4, x, p, d, dp, n, g, co); } \
    static AVX2 void name##_5(const float *x, ptrdiff_t p, const float *d, ptrdiff_t dp, int n, float *g, int co) { name(5, x, p, d, dp, n, g, co); } \
    static AVX2 void name##_6(const float *x, ptrdiff_t p, const float *d, ptrdiff_t dp, int n, float *g, int co) { name(6, x, p, d, dp, n, g, co); }

GRAD_VARIANTS(grad16)
GRAD_VARIANTS(grad8)

typedef void (*grad_fn)(const float *, ptrdiff_t, const float *, ptrdiff_t, int, float *, int);
static const grad_fn grads16[7] = {0, grad16_1, grad16_2, grad16_3, grad16_4, grad16_5, grad16_6};
static const grad_fn grads8[7] = {0, grad8_1, grad8_2, grad8_3, grad8_4, grad8_5, grad8_6};

AVX2 void bsn_conv_weight_gradient(const bsn_conv_weight_gradient_job *j) {
    const int cout = j->out_channels, cin = j->in_channels;
    for (int img = 0; img < j->images; img++) {
        for (int row = 0; row < j->rows; row++) {
            const float *in_row = j->input + img * j->in_image_stride + row * j->in_row_stride;
            const float *dy_row = j->dy + img * j->dy_image_stride + row * j->dy_row_stride;
            for (int t = 0; t < j->taps; t++) {
                const float *x = in_row + j->tap_offsets[t];
                for (int c = 0; c < cin; c += 6) {
                    const int r = cin - c < 6 ? cin - c : 6;
                    float *g = j->gradient + ((ptrdiff_t)t * cin + c) * cout;
                    for (int ob = 0; ob < cout; ob += 16) {
                        const grad_fn *fns = cout - ob >= 16 ? grads16 : grads8;
                        fns[r](x + c, j->in_pixel_stride, dy_row + ob, j->dy_pixel_stride, j->cols, g + ob, cout);
                    }
                }
            }
        }
    }
}
