#ifndef BSN_CKERNELS_H
#define BSN_CKERNELS_H

// Direct convolution kernels over NHWC data with AVX2 + FMA register tiling.
// Swift's x86-64 code generation targets the baseline ISA (SSE2, no FMA) and
// cannot enable wider instructions per function, so these few hot loops are C
// with per-function target attributes, selected at run time: callers check
// bsn_kernels_available() and otherwise use im2col + sgemm.

#include <stddef.h>

/// 1 when the CPU and OS support AVX2 and FMA, so the kernels below may run
/// (bsn_cpu_has_avx2_fma of CPUFeatures).
int bsn_kernels_available(void);

/// A convolution written as "each output pixel sums taps × input channels":
///
///   out[img][row][col][o] = bias[o] + Σ_t Σ_c in[base + tap_offsets[t] + c] · w(t, c, o)
///   base = img·in_image_stride + row·in_row_stride + col·in_pixel_stride
///
/// with `input` already zero-padded so every access is in range. Forward
/// convolution, and the input gradient of stride-1 and stride-2 convolutions
/// (one job per class of input pixels sharing a position modulo the stride),
/// are all such jobs. Strides count floats.
typedef struct {
    const float *input;
    ptrdiff_t in_pixel_stride, in_row_stride, in_image_stride;
    int taps;
    const ptrdiff_t *tap_offsets;
    int in_channels;
    /// Weights packed by bsn_pack_weights: blocks of 16 output channels (the
    /// last may be 8), each [taps][in_channels][16 or 8].
    const float *packed_weights;
    const float *bias;               // NULL for none
    float *output;
    ptrdiff_t out_pixel_stride, out_row_stride, out_image_stride;
    int out_channels;                // a multiple of 8
    int images, rows, cols;          // the output grid
    int accumulate;                  // 0: overwrite the output grid; 1: add to it
    int relu;                        // 1: max(0, ·) of the result before storing
} bsn_conv_job;

/// Runs a job (overwrites the output grid, or adds to it with `accumulate`).
void bsn_conv_run(const bsn_conv_job *job);

/// Packs weights for a job. The source holds weights [cout][kk][cin] where kk
/// indexes kernel taps (ky·k + kx); taps[t] selects the source tap of job tap
/// t. When `transpose` is 0 the job maps cin → cout (forward); when 1 it maps
/// cout → cin (input gradient), i.e. the job's input channels are the
/// source's outputs. The job's output channel count must be a multiple of 8.
/// `packed` holds taps · cin · cout floats.
void bsn_pack_weights(const float *weights, int cout, int kk, int cin,
                      const int *taps, int tap_count, int transpose, float *packed);

/// bsn_pack_weights with output-channel blocks of `block` (the last may be block / 2).
void bsn_pack_weights_blocked(const float *weights, int cout, int kk, int cin,
                              const int *taps, int tap_count, int transpose, int block, float *packed);
/// dst[c · dst_stride + r] = src[r · src_stride + c] (added to dst with `add`) for r < rows, c < cols,
/// in 16x16 blocks so that both sides are read and written a cache line at a time.
void bsn_transpose(const float *src, ptrdiff_t src_stride, float *dst, ptrdiff_t dst_stride, int rows, int cols, int add);
/// Part `part` of `parts` of bsn_pack_weights_blocked: every parts-th block from the part-th (one part per thread).
void bsn_pack_weights_part(const float *weights, int cout, int kk, int cin, const int *taps, int tap_count,
                           int transpose, int block, float *packed, int part, int parts);

/// Weight gradient of a forward job, accumulated:
///
///   gradient[t][c][o] += Σ over the job's output grid of dy[pixel][o] · in[base + tap_offsets[t] + c]
///
/// `dy` has the layout of the job's output (its strides); the job's weights,
/// bias and output are not used. out_channels a multiple of 8;
/// `gradient` holds [taps][in_channels][out_channels].
void bsn_conv_weight_gradient(const bsn_conv_job *job, const float *dy, float *gradient);

/// The same jobs by kernels written once over vector extensions (wide_kernels.h):
/// _512 with 512-bit vectors (AVX-512F CPUs: bsn_kernels512_available), _256
/// the identical code in 256 bits (AVX2 + FMA). Weights packed with
/// bsn_pack_weights_blocked in blocks of 32 (_512) or 16 (_256); out_channels
/// a multiple of 16 (_512) or 8 (_256).
int bsn_kernels512_available(void);
void bsn_conv_run_512(const bsn_conv_job *job);
void bsn_conv_weight_gradient_512(const bsn_conv_job *job, const float *dy, float *gradient);
void bsn_conv_run_256(const bsn_conv_job *job);
void bsn_conv_weight_gradient_256(const bsn_conv_job *job, const float *dy, float *gradient);

/// Batch-norm loops over `rows` NHWC rows of `c` channels (BatchNorm2d), with
/// the widest vectors the CPU has; each returns 0, doing nothing, on a CPU
/// without AVX2 (the caller then runs its own loop).
/// sums: acc[j] += Σ (x − shift[j]), acc[c + j] += Σ (x − shift[j])².
int bsn_bn_sums(const float *x, const float *shift, long rows, int c, float *acc);
/// y = x · a[j] + b[j]; `flags` bit 0: added to y, bit 1: then max(0, ·).
int bsn_bn_affine(const float *x, float *y, const float *a, const float *b, long rows, int c, int flags);
/// acc[j] += Σ dy, acc[c + j] += Σ dy · (x − mu[j]) · inv[j]. With a `mask`
/// (the output of a ReLU after the normalisation; NULL for none), dy counts
/// only where the mask is positive: the ReLU's backward, fused.
int bsn_bn_backward_sums(const float *dy, const float *x, const float *mu, const float *inv, long rows, int c, float *acc,
                         const float *mask);
/// dx = gamma · inv · (dy − centre · (sum_dy + x̂ · sum_dy_xhat)), x̂ = (x − mu) · inv; dy masked as above.
int bsn_bn_backward_dx(const float *dy, const float *x, const float *mu, const float *inv, const float *gamma,
                       const float *sum_dy, const float *sum_dy_xhat, float centre, long rows, int c, float *dx,
                       const float *mask);

/// One thread's FP32 fused multiply-add rate, measured: `iterations` rounds
/// of independent FMA chains on `bits`-wide vectors (512 or 256), in flops
/// per second (an FMA is 2 flops a lane). 0 when this CPU cannot run that width.
double bsn_fma_flops_per_second(int bits, long iterations);

/// Winograd F(4x4, 3x3) of a stride-1, padding-1 3x3 convolution over NHWC
/// images (winograd_kernels.h), `input` images of out_h × out_w × in_channels
/// (the border's zeros are not stored: a tile's patch reads zeros where it
/// leaves the image). Tiles are taken `block_tiles` at a time:
/// their transformed inputs go to `v` (36 × block_tiles × in_channels
/// floats) and the 36 products to `m` (36 × block_tiles × out_channels).
/// in_channels and out_channels are multiples of the vector width (16 for
/// _512, 8 for _256).
typedef struct {
    const float *input;
    int in_channels, out_channels;
    int images, tiles_h, tiles_w;
    int out_h, out_w;
    /// bsn_winograd_weights' output, with blocks of 32 (_512) or 16 (_256).
    const float *u;
    float *v, *m;
    int block_tiles;
    const float *bias;               // NULL for none
    float *output;                   // images × out_h × out_w × out_channels
    int accumulate, relu;            // as bsn_conv_job's
} bsn_winograd_job;

void bsn_winograd_run_512(const bsn_winograd_job *job);
void bsn_winograd_run_256(const bsn_winograd_job *job);

/// The transformed weights U (36 × cin × cout floats) of weights [cout][3][3][cin]
/// for the forward job (transpose 0: cin → cout) or the input gradient's
/// (transpose 1: cout → cin, the filter turned by 180°), in the output-channel
/// blocks of the run of the same width (32 for _512, 16 for _256; the last may
/// be half). Part `part` of `parts` (threads) does every parts-th block from the part-th.
void bsn_winograd_weights_512(const float *w, int cout, int cin, int transpose, float *u, int part, int parts);
void bsn_winograd_weights_256(const float *w, int cout, int cin, int transpose, float *u, int part, int parts);

/// The weight gradient the Winograd way (Gᵀ [(A dy Aᵀ) ⊙ (Bᵀ d B)] G): adds
/// the job's 36 sums over tiles into `partial` ([36][in_channels][out_channels];
/// `dy` has the output's layout, `m` holds its transformed tiles), and
/// bsn_winograd_add_weight_gradient adds such a partial into a gradient
/// [cout][3][3][cin].
void bsn_winograd_weight_gradient_512(const bsn_winograd_job *job, const float *dy, float *partial);
void bsn_winograd_weight_gradient_256(const bsn_winograd_job *job, const float *dy, float *partial);
void bsn_winograd_add_weight_gradient_512(const float *partial, int cout, int cin, float *gradient);
void bsn_winograd_add_weight_gradient_256(const float *partial, int cout, int cin, float *gradient);

#endif
