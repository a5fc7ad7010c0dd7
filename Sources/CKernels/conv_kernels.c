#include "CKernels.h"

#include "CPUFeatures.h"
#include <immintrin.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

int bsn_kernels_available(void) { return bsn_cpu_has_avx2_fma(); }
int bsn_kernels512_available(void) { return bsn_cpu_has_avx512f(); }

// ---- Pixel bands --------------------------------------------------------------
// Output pixels are walked in (image, row, column) order in bands of up to
// BAND pixels, which may span rows and images; each pixel's input and output
// offsets are listed once per band. Tiles then take any 6 pixels of a band,
// so small maps (2x2, 4x4) fill the register tile as well as large ones.

enum { BAND = 96, TILE = 6 };

typedef struct {
    ptrdiff_t in[BAND], out[BAND];
    int count;
} band;

// Fills `b` with pixels [first, first + n) of the job grid.
static void band_fill(band *b, long first, int n, int rows, int cols,
                      ptrdiff_t in_pixel, ptrdiff_t in_row, ptrdiff_t in_image,
                      ptrdiff_t out_pixel, ptrdiff_t out_row, ptrdiff_t out_image) {
    long per_image = (long)rows * cols;
    long img = first / per_image, rest = first % per_image;
    int row = (int)(rest / cols), col = (int)(rest % cols);
    for (int i = 0; i < n; i++) {
        b->in[i] = img * in_image + row * in_row + col * in_pixel;
        b->out[i] = img * out_image + row * out_row + col * out_pixel;
        if (++col == cols) { col = 0; if (++row == rows) { row = 0; img++; } }
    }
    b->count = n;
}

// The band of a job's output grid starting at pixel `first` (of `total`).
static void job_band(const bsn_conv_job *j, long first, long total, band *b) {
    band_fill(b, first, total - first < BAND ? (int)(total - first) : BAND, j->rows, j->cols,
              j->in_pixel_stride, j->in_row_stride, j->in_image_stride,
              j->out_pixel_stride, j->out_row_stride, j->out_image_stride);
}

// ---- Forward-style tiles ------------------------------------------------------
// R output pixels × 16 (or 8) output channels held in registers; for every tap
// and input channel: load the weight vector(s), broadcast each pixel's input
// value, fused multiply-add. R ≤ 6 keeps 12 accumulators + 2 weights + 1
// broadcast within the 16 YMM registers.

INLINE AVX2 void tile16(const int R, const float *in, const ptrdiff_t *pix, const ptrdiff_t *off, int taps,
                        int cin, const float *w, const float *bias, float *out, const ptrdiff_t *opix,
                        int add /* bit 0: add to out; bit 1: ReLU */) {
    __m256 a0[TILE], a1[TILE];
    __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    for (int r = 0; r < R; r++) { a0[r] = b0; a1[r] = b1; }
    for (int t = 0; t < taps; t++) {
        const float *x[TILE];
        for (int r = 0; r < R; r++) x[r] = in + pix[r] + off[t];
        const float *wt = w + (ptrdiff_t)t * cin * 16;
        for (int c = 0; c < cin; c++) {
            __m256 w0 = _mm256_loadu_ps(wt + c * 16), w1 = _mm256_loadu_ps(wt + c * 16 + 8);
            for (int r = 0; r < R; r++) {
                __m256 v = _mm256_broadcast_ss(x[r] + c);
                a0[r] = _mm256_fmadd_ps(v, w0, a0[r]);
                a1[r] = _mm256_fmadd_ps(v, w1, a1[r]);
            }
        }
    }
    if (add & 1) {
        for (int r = 0; r < R; r++) {
            a0[r] = _mm256_add_ps(a0[r], _mm256_loadu_ps(out + opix[r]));
            a1[r] = _mm256_add_ps(a1[r], _mm256_loadu_ps(out + opix[r] + 8));
        }
    }
    if (add & 2) {
        for (int r = 0; r < R; r++) {
            a0[r] = _mm256_max_ps(a0[r], _mm256_setzero_ps());
            a1[r] = _mm256_max_ps(a1[r], _mm256_setzero_ps());
        }
    }
    for (int r = 0; r < R; r++) {
        _mm256_storeu_ps(out + opix[r], a0[r]);
        _mm256_storeu_ps(out + opix[r] + 8, a1[r]);
    }
}

INLINE AVX2 void tile8(const int R, const float *in, const ptrdiff_t *pix, const ptrdiff_t *off, int taps,
                       int cin, const float *w, const float *bias, float *out, const ptrdiff_t *opix, int add) {
    __m256 a0[TILE];
    __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    for (int r = 0; r < R; r++) a0[r] = b0;
    for (int t = 0; t < taps; t++) {
        const float *x[TILE];
        for (int r = 0; r < R; r++) x[r] = in + pix[r] + off[t];
        const float *wt = w + (ptrdiff_t)t * cin * 8;
        for (int c = 0; c < cin; c++) {
            __m256 w0 = _mm256_loadu_ps(wt + c * 8);
            for (int r = 0; r < R; r++) a0[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x[r] + c), w0, a0[r]);
        }
    }
    if (add & 1) for (int r = 0; r < R; r++) a0[r] = _mm256_add_ps(a0[r], _mm256_loadu_ps(out + opix[r]));
    if (add & 2) for (int r = 0; r < R; r++) a0[r] = _mm256_max_ps(a0[r], _mm256_setzero_ps());
    for (int r = 0; r < R; r++) _mm256_storeu_ps(out + opix[r], a0[r]);
}

#define TILE_ARGS const float *i, const ptrdiff_t *p, const ptrdiff_t *o, int t, int c, const float *w, const float *b, float *out, const ptrdiff_t *op, int add
#define TILE_VARIANTS(name) \
    static AVX2 void name##_1(TILE_ARGS) { name(1, i, p, o, t, c, w, b, out, op, add); } \
    static AVX2 void name##_2(TILE_ARGS) { name(2, i, p, o, t, c, w, b, out, op, add); } \
    static AVX2 void name##_3(TILE_ARGS) { name(3, i, p, o, t, c, w, b, out, op, add); } \
    static AVX2 void name##_4(TILE_ARGS) { name(4, i, p, o, t, c, w, b, out, op, add); } \
    static AVX2 void name##_5(TILE_ARGS) { name(5, i, p, o, t, c, w, b, out, op, add); } \
    static AVX2 void name##_6(TILE_ARGS) { name(6, i, p, o, t, c, w, b, out, op, add); }

TILE_VARIANTS(tile16)
TILE_VARIANTS(tile8)

typedef void (*tile_fn)(TILE_ARGS);
static const tile_fn tiles16[TILE + 1] = {0, tile16_1, tile16_2, tile16_3, tile16_4, tile16_5, tile16_6};
static const tile_fn tiles8[TILE + 1] = {0, tile8_1, tile8_2, tile8_3, tile8_4, tile8_5, tile8_6};

AVX2 void bsn_conv_run(const bsn_conv_job *j) {
    const int cout = j->out_channels, cin = j->in_channels, taps = j->taps;
    const long total = (long)j->images * j->rows * j->cols;
    band b;
    for (long first = 0; first < total; first += BAND) {
        job_band(j, first, total, &b);
        for (int ob = 0; ob < cout; ob += 16) {
            const int width = cout - ob >= 16 ? 16 : 8;
            const float *w = j->packed_weights + (ptrdiff_t)ob * taps * cin;
            const float *bias = j->bias ? j->bias + ob : NULL;
            const tile_fn *fns = width == 16 ? tiles16 : tiles8;
            for (int p = 0; p < b.count; p += TILE) {
                int r = b.count - p < TILE ? b.count - p : TILE;
                fns[r](j->input, b.in + p, j->tap_offsets, taps, cin, w, bias, j->output + ob, b.out + p, (j->accumulate ? 1 : 0) | (j->relu ? 2 : 0));
            }
        }
    }
}

void bsn_pack_weights(const float *weights, int cout, int kk, int cin,
                      const int *taps, int tap_count, int transpose, float *packed) {
    bsn_pack_weights_blocked(weights, cout, kk, cin, taps, tap_count, transpose, 16, packed);
}

void bsn_pack_weights_blocked(const float *weights, int cout, int kk, int cin,
                              const int *taps, int tap_count, int transpose, int block, float *packed) {
    bsn_pack_weights_part(weights, cout, kk, cin, taps, tap_count, transpose, block, packed, 0, 1);
}

void bsn_pack_weights_part(const float *weights, int cout, int kk, int cin, const int *taps, int tap_count,
                           int transpose, int block, float *packed, int part, int parts) {
    // Job channels: in → out. Forward: (cin → cout); transposed: (cout → cin).
    const int job_in = transpose ? cout : cin, job_out = transpose ? cin : cout;
    for (int ob = part * block; ob < job_out; ob += parts * block) {
        const int width = job_out - ob >= block ? block : block / 2;
        float *block_start = packed + (ptrdiff_t)ob * tap_count * job_in;
        for (int t = 0; t < tap_count; t++) {
            float *dst = block_start + (ptrdiff_t)t * job_in * width;
            if (transpose) {
                // dst[c][j] = w[c][tap][ob + j]: runs of `width` contiguous floats.
                for (int c = 0; c < job_in; c++)
                    memcpy(dst + (ptrdiff_t)c * width, weights + ((ptrdiff_t)c * kk + taps[t]) * cin + ob, (size_t)width * sizeof(float));
            } else {
                // dst[c][j] = w[ob + j][tap][c]: a transpose of `width` weight rows.
                bsn_transpose(weights + ((ptrdiff_t)ob * kk + taps[t]) * cin, (ptrdiff_t)kk * cin, dst, width, width, cin, 0);
            }
        }
    }
}

void bsn_transpose(const float *src, ptrdiff_t src_stride, float *dst, ptrdiff_t dst_stride, int rows, int cols, int add) {
    enum { B = 16 };
    for (int r0 = 0; r0 < rows; r0 += B) {
        const int r1 = rows - r0 < B ? rows : r0 + B;
        for (int c0 = 0; c0 < cols; c0 += B) {
            const int c1 = cols - c0 < B ? cols : c0 + B;
            for (int c = c0; c < c1; c++) {
                float *d = dst + (ptrdiff_t)c * dst_stride;
                if (add) for (int r = r0; r < r1; r++) d[r] += src[(ptrdiff_t)r * src_stride + c];
                else for (int r = r0; r < r1; r++) d[r] = src[(ptrdiff_t)r * src_stride + c];
            }
        }
    }
}

// ---- Weight gradient tiles --------------------------------------------------
// R input channels × 16 (or 8) output channels in registers, accumulated over
// the pixels of one band: per pixel, load dy's vector(s) and broadcast the R
// input values.

INLINE AVX2 void grad16(const int R, const float *x, const ptrdiff_t *pix, const float *dy, const ptrdiff_t *dpix,
                        int n, float *g, int cout) {
    __m256 a0[TILE], a1[TILE];
    for (int r = 0; r < R; r++) { a0[r] = _mm256_loadu_ps(g + r * cout); a1[r] = _mm256_loadu_ps(g + r * cout + 8); }
    for (int p = 0; p < n; p++) {
        const float *d = dy + dpix[p], *v = x + pix[p];
        __m256 d0 = _mm256_loadu_ps(d), d1 = _mm256_loadu_ps(d + 8);
        for (int r = 0; r < R; r++) {
            __m256 b = _mm256_broadcast_ss(v + r);
            a0[r] = _mm256_fmadd_ps(b, d0, a0[r]);
            a1[r] = _mm256_fmadd_ps(b, d1, a1[r]);
        }
    }
    for (int r = 0; r < R; r++) { _mm256_storeu_ps(g + r * cout, a0[r]); _mm256_storeu_ps(g + r * cout + 8, a1[r]); }
}

INLINE AVX2 void grad8(const int R, const float *x, const ptrdiff_t *pix, const float *dy, const ptrdiff_t *dpix,
                       int n, float *g, int cout) {
    __m256 a0[TILE];
    for (int r = 0; r < R; r++) a0[r] = _mm256_loadu_ps(g + r * cout);
    for (int p = 0; p < n; p++) {
        const float *v = x + pix[p];
        __m256 d0 = _mm256_loadu_ps(dy + dpix[p]);
        for (int r = 0; r < R; r++) a0[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(v + r), d0, a0[r]);
    }
    for (int r = 0; r < R; r++) _mm256_storeu_ps(g + r * cout, a0[r]);
}

#define GRAD_ARGS const float *x, const ptrdiff_t *p, const float *d, const ptrdiff_t *dp, int n, float *g, int co
#define GRAD_VARIANTS(name) \
    static AVX2 void name##_1(GRAD_ARGS) { name(1, x, p, d, dp, n, g, co); } \
    static AVX2 void name##_2(GRAD_ARGS) { name(2, x, p, d, dp, n, g, co); } \
    static AVX2 void name##_3(GRAD_ARGS) { name(3, x, p, d, dp, n, g, co); } \
    static AVX2 void name##_4(GRAD_ARGS) { name(4, x, p, d, dp, n, g, co); } \
    static AVX2 void name##_5(GRAD_ARGS) { name(5, x, p, d, dp, n, g, co); } \
    static AVX2 void name##_6(GRAD_ARGS) { name(6, x, p, d, dp, n, g, co); }

GRAD_VARIANTS(grad16)
GRAD_VARIANTS(grad8)

typedef void (*grad_fn)(GRAD_ARGS);
static const grad_fn grads16[TILE + 1] = {0, grad16_1, grad16_2, grad16_3, grad16_4, grad16_5, grad16_6};
static const grad_fn grads8[TILE + 1] = {0, grad8_1, grad8_2, grad8_3, grad8_4, grad8_5, grad8_6};

AVX2 void bsn_conv_weight_gradient(const bsn_conv_job *j, const float *dy, float *gradient) {
    const int cout = j->out_channels, cin = j->in_channels;
    const long total = (long)j->images * j->rows * j->cols;
    band b;
    for (long first = 0; first < total; first += BAND) {
        job_band(j, first, total, &b);
        // Output-channel block outermost: the band's slice of dy stays in L1.
        for (int ob = 0; ob < cout; ob += 16) {
            const grad_fn *fns = cout - ob >= 16 ? grads16 : grads8;
            for (int t = 0; t < j->taps; t++) {
                const float *x = j->input + j->tap_offsets[t];
                for (int c = 0; c < cin; c += TILE) {
                    const int r = cin - c < TILE ? cin - c : TILE;
                    fns[r](x + c, b.in, dy + ob, b.out, b.count, gradient + ((ptrdiff_t)t * cin + c) * cout + ob, cout);
                }
            }
        }
    }
}

// ---- The same kernels over vector extensions, 512 and 256 bits wide ---------

#define VW 16
#define WTILE 12
#define GTILE 8
#define TARGET __attribute__((target("avx512f")))
#define SUFFIX _512
#include "wide_kernels.h"
#undef VW
#undef WTILE
#undef GTILE
#undef TARGET
#undef SUFFIX

#define VW 8
#define WTILE 6
#define GTILE 6
#define TARGET __attribute__((target("avx2,fma")))
#define SUFFIX _256
#include "wide_kernels.h"

// ---- Batch-norm loops: the widest vectors this CPU has, or 0 (the caller's own loop) -------

static int vector_level(void) {
    static int level = -1;          // a benign race: every thread computes the same value
    if (level < 0) level = bsn_cpu_has_avx512f() ? 2 : bsn_cpu_has_avx2_fma() ? 1 : 0;
    return level;
}

int bsn_bn_sums(const float *x, const float *shift, long rows, int c, float *acc) {
    switch (vector_level()) {
    case 2: bsn_bn_sums_512(x, shift, rows, c, acc); return 1;
    case 1: bsn_bn_sums_256(x, shift, rows, c, acc); return 1;
    default: return 0;
    }
}

int bsn_bn_affine(const float *x, float *y, const float *a, const float *b, long rows, int c, int flags) {
    switch (vector_level()) {
    case 2: bsn_bn_affine_512(x, y, a, b, rows, c, flags); return 1;
    case 1: bsn_bn_affine_256(x, y, a, b, rows, c, flags); return 1;
    default: return 0;
    }
}

int bsn_bn_backward_sums(const float *dy, const float *x, const float *mu, const float *inv, long rows, int c, float *acc,
                         const float *mask) {
    switch (vector_level()) {
    case 2: bsn_bn_backward_sums_512(dy, x, mu, inv, rows, c, acc, mask); return 1;
    case 1: bsn_bn_backward_sums_256(dy, x, mu, inv, rows, c, acc, mask); return 1;
    default: return 0;
    }
}

int bsn_bn_backward_dx(const float *dy, const float *x, const float *mu, const float *inv, const float *gamma,
                       const float *sum_dy, const float *sum_dy_xhat, float centre, long rows, int c, float *dx, const float *mask) {
    switch (vector_level()) {
    case 2: bsn_bn_backward_dx_512(dy, x, mu, inv, gamma, sum_dy, sum_dy_xhat, centre, rows, c, dx, mask); return 1;
    case 1: bsn_bn_backward_dx_256(dy, x, mu, inv, gamma, sum_dy, sum_dy_xhat, centre, rows, c, dx, mask); return 1;
    default: return 0;
    }
}
