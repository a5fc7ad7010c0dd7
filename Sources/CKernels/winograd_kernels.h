// Winograd F(4x4, 3x3) convolution (Lavin & Gray 2016) written once over
// vector extensions, instantiated by winograd.c for a vector width VW
// (floats) under TARGET, names suffixed SUFFIX, as wide_kernels.h is:
//   VW 16, avx512f → bsn_winograd_run_512 …;  VW 8, avx2+fma → … _256.
//
// Each 4x4 output tile is Aᵀ [U ⊙ V] A, with V = Bᵀ d B the 6x6 input patch
// transformed and U = G g Gᵀ the 3x3 filter transformed. Over a block of
// tiles, the 36 products U ⊙ V summed over input channels are 36 matrix
// products (tiles × Cin) · (Cin × Cout): 36 products per tile and channel
// pair instead of 16 · 9 = 144 (4x fewer multiplications). They are
// register-tiled as the direct kernels are (WROWS tiles × 2·VW output
// channels; the weight gradient's sums GROWS input channels × 2·VW), with the
// block's fixed row strides in place of per-pixel offsets.
// Transforms work on VW channels at a time (NHWC: channels are contiguous).

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define NAME(base) CAT(base, SUFFIX)

typedef float NAME(wvf) __attribute__((vector_size(VW * 4)));
typedef int NAME(wvi) __attribute__((vector_size(VW * 4)));
#define wvf NAME(wvf)

INLINE TARGET wvf NAME(wload)(const float *p) { wvf v; __builtin_memcpy(&v, p, sizeof v); return v; }
INLINE TARGET void NAME(wstore)(float *p, wvf v) { __builtin_memcpy(p, &v, sizeof v); }

// Bᵀ x for one line of six (rows or columns of a patch).
#define BT(x, r)                                                       \
    do {                                                               \
        r[0] = 4.0f * x[0] - 5.0f * x[2] + x[4];                             \
        r[1] = -4.0f * (x[1] + x[2]) + x[3] + x[4];                       \
        r[2] = 4.0f * (x[1] - x[2]) - x[3] + x[4];                        \
        r[3] = 2.0f * (x[3] - x[1]) - x[2] + x[4];                        \
        r[4] = 2.0f * (x[1] - x[3]) - x[2] + x[4];                        \
        r[5] = 4.0f * x[1] - 5.0f * x[3] + x[5];                             \
    } while (0)

// Aᵀ x: six transformed values to four outputs.
#define AT(x, r)                                                       \
    do {                                                               \
        const wvf s12 = x[1] + x[2], d12 = x[1] - x[2];                \
        const wvf s34 = x[3] + x[4], d34 = x[3] - x[4];                \
        r[0] = x[0] + s12 + s34;                                       \
        r[1] = d12 + 2.0f * d34;                                          \
        r[2] = s12 + 4.0f * s34;                                          \
        r[3] = d12 + 8.0f * d34 + x[5];                                   \
    } while (0)

// Where tile `tile` of the job's grid (image, tile row, tile column) lies: its
// image, its first output row and column, and how many of its 4x4 outputs fall in the map.
INLINE void NAME(locate)(const bsn_winograd_job *j, long tile, int *image, int *y, int *x, int *rows, int *cols) {
    const int per_image = j->tiles_h * j->tiles_w, rest = (int)(tile % per_image);
    *image = (int)(tile / per_image);
    *y = 4 * (rest / j->tiles_w);
    *x = 4 * (rest % j->tiles_w);
    *rows = j->out_h - *y < 4 ? j->out_h - *y : 4;
    *cols = j->out_w - *x < 4 ? j->out_w - *x : 4;
}

// V[ξ][t][c] for tiles [first, first + count) of the job's grid (image, tile
// row, tile column). A tile's 6x6 patch starts one row and column before its
// outputs; where it leaves the image (padding 1, and past the last row or
// column) it reads zeros.
static TARGET void NAME(wino_input)(const bsn_winograd_job *j, long first, int count) {
    const int c = j->in_channels, h = j->out_h, w = j->out_w;
    const ptrdiff_t xi = (ptrdiff_t)count * c, row = (ptrdiff_t)w * c;
    for (int t = 0; t < count; t++) {
        int img, y0, x0, rows, cols;
        NAME(locate)(j, first + t, &img, &y0, &x0, &rows, &cols);
        y0 -= 1, x0 -= 1;                                      // the patch starts a row and a column before the outputs
        const int inside = y0 >= 0 && x0 >= 0 && y0 + 6 <= h && x0 + 6 <= w;
        const float *p = j->input + (((ptrdiff_t)img * h + y0) * w + x0) * c;
        float *v = j->v + (ptrdiff_t)t * c;
        for (int cv = 0; cv < c; cv += VW) {
            wvf rows[6][6];
            for (int i = 0; i < 6; i++) {
                wvf x[6];
                if (inside) {
                    UNROLL for (int k = 0; k < 6; k++) x[k] = NAME(wload)(p + i * row + k * c + cv);
                } else {
                    const int in_row = y0 + i >= 0 && y0 + i < h;
                    UNROLL for (int k = 0; k < 6; k++)
                        x[k] = in_row && x0 + k >= 0 && x0 + k < w ? NAME(wload)(p + i * row + k * c + cv) : (wvf){0};
                }
                BT(x, rows[i]);                               // d B, row i
            }
            UNROLL for (int k = 0; k < 6; k++) {
                wvf x[6], r[6];
                UNROLL for (int i = 0; i < 6; i++) x[i] = rows[i][k];
                BT(x, r);                                     // Bᵀ (d B), column k
                UNROLL for (int i = 0; i < 6; i++) NAME(wstore)(v + (i * 6 + k) * xi + cv, r[i]);
            }
        }
    }
}

// One output pixel: value + bias, added to what is there, ReLU, as the job says.
INLINE TARGET void NAME(wino_put)(const bsn_winograd_job *j, float *out, wvf value) {
    if (j->accumulate) value += NAME(wload)(out);
    if (j->relu) value = (wvf)((NAME(wvi))value & ~(NAME(wvi))(value < (wvf){0}));   // max(v, 0) keeping a NaN
    NAME(wstore)(out, value);
}

// y (4x4 per tile, the valid part) = Aᵀ M A + bias, added to y, ReLU, as the job says.
static TARGET void NAME(wino_output)(const bsn_winograd_job *j, long first, int count) {
    const int c = j->out_channels;
    const ptrdiff_t xi = (ptrdiff_t)count * c;
    for (int t = 0; t < count; t++) {
        int img, y0, x0, rows, cols;
        NAME(locate)(j, first + t, &img, &y0, &x0, &rows, &cols);
        float *y = j->output + (((ptrdiff_t)img * j->out_h + y0) * j->out_w + x0) * c;
        const float *m = j->m + (ptrdiff_t)t * c;
        for (int cv = 0; cv < c; cv += VW) {
            wvf half[4][6];                                   // Aᵀ M, row by row
            UNROLL for (int k = 0; k < 6; k++) {
                wvf x[6], r[4];
                UNROLL for (int i = 0; i < 6; i++) x[i] = NAME(wload)(m + (i * 6 + k) * xi + cv);
                AT(x, r);
                UNROLL for (int i = 0; i < 4; i++) half[i][k] = r[i];
            }
            const wvf b = j->bias ? NAME(wload)(j->bias + cv) : (wvf){0};
            if (rows == 4 && cols == 4) {                     // a whole tile: unrolled
                UNROLL for (int i = 0; i < 4; i++) {
                    wvf r[4];
                    AT(half[i], r);
                    UNROLL for (int k = 0; k < 4; k++) NAME(wino_put)(j, y + ((ptrdiff_t)i * j->out_w + k) * c + cv, r[k] + b);
                }
                continue;
            }
            for (int i = 0; i < rows; i++) {
                wvf r[4];
                AT(half[i], r);
                for (int k = 0; k < cols; k++) NAME(wino_put)(j, y + ((ptrdiff_t)i * j->out_w + k) * c + cv, r[k] + b);
            }
        }
    }
}

// VW floats at `p`, `stride` apart.
INLINE TARGET wvf NAME(wgather)(const float *p, ptrdiff_t stride) {
    if (stride == 1) return NAME(wload)(p);
    wvf v;
    UNROLL for (int k = 0; k < VW; k++) v[k] = p[k * stride];
    return v;
}

// U = G g Gᵀ for VW job output channels at a time, read from `source`: job
// output channels at stride `s_out`, job input channels at `s_in`, filter taps
// at `s_y` and `s_x` (negative to turn the filter by 180°).
static TARGET void NAME(wino_weights)(const float *source, ptrdiff_t s_out, ptrdiff_t s_in, ptrdiff_t s_y, ptrdiff_t s_x,
                                      int jin, int jout, float *u, int part, int parts) {
    const int block = 2 * VW;
    const ptrdiff_t per_xi = (ptrdiff_t)jin * jout;
    for (int ob = part * block; ob < jout; ob += parts * block) {
        const int bw = jout - ob >= block ? block : VW;
        for (int o = ob; o < ob + bw; o += VW) {
            for (int i = 0; i < jin; i++) {
                const float *g = source + (ptrdiff_t)i * s_in + (ptrdiff_t)o * s_out;
                wvf gg[6][3];                                         // G g, column by column
                UNROLL for (int kx = 0; kx < 3; kx++) {
                    const wvf g0 = NAME(wgather)(g + kx * s_x, s_out), g1 = NAME(wgather)(g + s_y + kx * s_x, s_out);
                    const wvf g2 = NAME(wgather)(g + 2 * s_y + kx * s_x, s_out);
                    gg[0][kx] = 0.25f * g0;
                    gg[1][kx] = (-1.0f / 6) * (g0 + g1 + g2);
                    gg[2][kx] = (-1.0f / 6) * (g0 - g1 + g2);
                    gg[3][kx] = (1.0f / 24) * g0 + (1.0f / 12) * g1 + (1.0f / 6) * g2;
                    gg[4][kx] = (1.0f / 24) * g0 - (1.0f / 12) * g1 + (1.0f / 6) * g2;
                    gg[5][kx] = g2;
                }
                float *target = u + (ptrdiff_t)ob * jin + (ptrdiff_t)i * bw + (o - ob);
                UNROLL for (int a = 0; a < 6; a++) {                  // (G g) Gᵀ, row a
                    const wvf x0 = gg[a][0], x1 = gg[a][1], x2 = gg[a][2];
                    const wvf r[6] = {
                        0.25f * x0, (-1.0f / 6) * (x0 + x1 + x2), (-1.0f / 6) * (x0 - x1 + x2),
                        (1.0f / 24) * x0 + (1.0f / 12) * x1 + (1.0f / 6) * x2, (1.0f / 24) * x0 - (1.0f / 12) * x1 + (1.0f / 6) * x2, x2,
                    };
                    UNROLL for (int b = 0; b < 6; b++) NAME(wstore)(target + (a * 6 + b) * per_xi, r[b]);
                }
            }
        }
    }
}

// The forward job's U from weights [cout][3][3][cin] (job input c, output o:
// w[o][ky][kx][c], outputs gathered), or the input gradient's (job input o,
// output c: w[o][2 − ky][2 − kx][c], the filter turned by 180°). Part `part`
// of `parts` transforms every parts-th output-channel block from the part-th.
TARGET void NAME(bsn_winograd_weights)(const float *w, int cout, int cin, int transpose, float *u, int part, int parts) {
    const ptrdiff_t k = cin;
    if (transpose) NAME(wino_weights)(w + 8 * k, 1, 9 * k, -3 * k, -k, cout, cin, u, part, parts);
    else NAME(wino_weights)(w, 9 * k, 1, 3 * k, k, cin, cout, u, part, parts);
}

// ---- The 36 products of a block of `count` tiles: M[ξ] = V[ξ] · U[ξ], a
// (count × Cin) · (Cin × Cout) matrix product, rows (tiles) Cin and Cout
// floats apart. U[ξ] is packed in output-channel blocks of 2·VW (the last may
// be VW): [block][Cin][2·VW]. A register tile holds WROWS tiles × one block.

INLINE TARGET void NAME(product_tile)(const int R, const int two, const float *v, int cin, const float *u, float *m, int cout) {
    wvf a0[WROWS], a1[WROWS];
    UNROLL for (int r = 0; r < R; r++) { a0[r] = (wvf){0}; a1[r] = (wvf){0}; }
    const int width = two ? 2 * VW : VW;
    for (int c = 0; c < cin; c++) {
        const wvf w0 = NAME(wload)(u + c * width), w1 = two ? NAME(wload)(u + c * width + VW) : (wvf){0};
        UNROLL for (int r = 0; r < R; r++) {
            const float x = v[(ptrdiff_t)r * cin + c];
            a0[r] += x * w0;
            if (two) a1[r] += x * w1;
        }
    }
    UNROLL for (int r = 0; r < R; r++) {
        NAME(wstore)(m + (ptrdiff_t)r * cout, a0[r]);
        if (two) NAME(wstore)(m + (ptrdiff_t)r * cout + VW, a1[r]);
    }
}

#define PRODUCT_ARGS const float *v, int cin, const float *u, float *m, int cout
static TARGET void NAME(product_full2)(PRODUCT_ARGS) { NAME(product_tile)(WROWS, 1, v, cin, u, m, cout); }
static TARGET void NAME(product_full1)(PRODUCT_ARGS) { NAME(product_tile)(WROWS, 0, v, cin, u, m, cout); }
static TARGET void NAME(product_part2)(const int R, PRODUCT_ARGS) { NAME(product_tile)(R, 1, v, cin, u, m, cout); }
static TARGET void NAME(product_part1)(const int R, PRODUCT_ARGS) { NAME(product_tile)(R, 0, v, cin, u, m, cout); }
#undef PRODUCT_ARGS

static TARGET void NAME(products)(const float *v, int count, int cin, const float *u, float *m, int cout) {
    for (int ob = 0; ob < cout; ob += 2 * VW) {
        const int two = cout - ob >= 2 * VW;
        const float *block = u + (ptrdiff_t)ob * cin;
        for (int p = 0; p < count; p += WROWS) {
            const float *vp = v + (ptrdiff_t)p * cin;
            float *mp = m + (ptrdiff_t)p * cout + ob;
            if (count - p >= WROWS) (two ? NAME(product_full2) : NAME(product_full1))(vp, cin, block, mp, cout);
            else (two ? NAME(product_part2) : NAME(product_part1))(count - p, vp, cin, block, mp, cout);
        }
    }
}

TARGET void NAME(bsn_winograd_run)(const bsn_winograd_job *j) {
    const long total = (long)j->images * j->tiles_h * j->tiles_w;
    const int cin = j->in_channels, cout = j->out_channels;
    for (long first = 0; first < total; first += j->block_tiles) {
        const int count = total - first < j->block_tiles ? (int)(total - first) : j->block_tiles;
        NAME(wino_input)(j, first, count);
        for (int xi = 0; xi < 36; xi++)
            NAME(products)(j->v + (ptrdiff_t)xi * count * cin, count, cin, j->u + (ptrdiff_t)xi * cin * cout,
                           j->m + (ptrdiff_t)xi * count * cout, cout);
        NAME(wino_output)(j, first, count);
    }
}

// ---- Weight gradient: dW = Σ over tiles and images of Gᵀ [(A dy Aᵀ) ⊙ (Bᵀ d B)] G
// (the transpose of the forward algorithm in the filter: the same input
// transform, A on the 4x4 output-gradient tile, Gᵀ back to 3x3). The sum over
// tiles of each of the 36 products is a (Cin × tiles) · (tiles × Cout)
// product: the direct kernels' weight-gradient tiles with one tap.

// A y: four output-gradient values to six.
#define AY(y, r)                                                       \
    do {                                                               \
        const wvf e02 = y[0] + y[2], e13 = y[1] + y[3];                \
        const wvf f02 = y[0] + 4.0f * y[2], f13 = 2.0f * y[1] + 8.0f * y[3]; \
        r[0] = y[0];                                                   \
        r[1] = e02 + e13;                                              \
        r[2] = e02 - e13;                                              \
        r[3] = f02 + f13;                                              \
        r[4] = f02 - f13;                                              \
        r[5] = y[3];                                                   \
    } while (0)

// D[ξ][t][o] = (A dy Aᵀ)[ξ] of each tile's output gradient (zero beyond the map).
static TARGET void NAME(wino_dy)(const bsn_winograd_job *j, const float *dy, long first, int count) {
    const int c = j->out_channels;
    const ptrdiff_t xi = (ptrdiff_t)count * c;
    for (int t = 0; t < count; t++) {
        int img, y0, x0, rows, cols;
        NAME(locate)(j, first + t, &img, &y0, &x0, &rows, &cols);
        const float *g = dy + (((ptrdiff_t)img * j->out_h + y0) * j->out_w + x0) * c;
        float *d = j->m + (ptrdiff_t)t * c;
        for (int cv = 0; cv < c; cv += VW) {
            wvf half[4][6];                                   // dy Aᵀ, row by row
            UNROLL for (int i = 0; i < 4; i++) {
                wvf y[4];
                UNROLL for (int k = 0; k < 4; k++)
                    y[k] = i < rows && k < cols ? NAME(wload)(g + ((ptrdiff_t)i * j->out_w + k) * c + cv) : (wvf){0};
                AY(y, half[i]);
            }
            UNROLL for (int k = 0; k < 6; k++) {
                wvf y[4], r[6];
                UNROLL for (int i = 0; i < 4; i++) y[i] = half[i][k];
                AY(y, r);
                UNROLL for (int i = 0; i < 6; i++) NAME(wstore)(d + (i * 6 + k) * xi + cv, r[i]);
            }
        }
    }
}

// g[c][o] += Σ over the block's tiles t of V[t][c] · D[t][o] for GROWS input
// channels × one output block (rows of V Cin floats apart, of D Cout; g's rows Cout apart).
INLINE TARGET void NAME(sum_tile)(const int R, const int two, const float *v, int cin, const float *d, int cout, int count, float *g) {
    wvf a0[GROWS], a1[GROWS];
    UNROLL for (int r = 0; r < R; r++) {
        a0[r] = NAME(wload)(g + (ptrdiff_t)r * cout);
        a1[r] = two ? NAME(wload)(g + (ptrdiff_t)r * cout + VW) : (wvf){0};
    }
    for (int t = 0; t < count; t++) {
        const float *dt = d + (ptrdiff_t)t * cout, *vt = v + (ptrdiff_t)t * cin;
        const wvf d0 = NAME(wload)(dt), d1 = two ? NAME(wload)(dt + VW) : (wvf){0};
        UNROLL for (int r = 0; r < R; r++) {
            const float x = vt[r];
            a0[r] += x * d0;
            if (two) a1[r] += x * d1;
        }
    }
    UNROLL for (int r = 0; r < R; r++) {
        NAME(wstore)(g + (ptrdiff_t)r * cout, a0[r]);
        if (two) NAME(wstore)(g + (ptrdiff_t)r * cout + VW, a1[r]);
    }
}

#define SUM_ARGS const float *v, int cin, const float *d, int cout, int count, float *g
static TARGET void NAME(sum_full2)(SUM_ARGS) { NAME(sum_tile)(GROWS, 1, v, cin, d, cout, count, g); }
static TARGET void NAME(sum_full1)(SUM_ARGS) { NAME(sum_tile)(GROWS, 0, v, cin, d, cout, count, g); }
static TARGET void NAME(sum_part2)(const int R, SUM_ARGS) { NAME(sum_tile)(R, 1, v, cin, d, cout, count, g); }
static TARGET void NAME(sum_part1)(const int R, SUM_ARGS) { NAME(sum_tile)(R, 0, v, cin, d, cout, count, g); }
#undef SUM_ARGS

// Adds this job's 36 products, Σ V[ξ][t][c] · D[ξ][t][o] over its tiles, into partial[ξ][c][o].
TARGET void NAME(bsn_winograd_weight_gradient)(const bsn_winograd_job *j, const float *dy, float *partial) {
    const long total = (long)j->images * j->tiles_h * j->tiles_w;
    const int cin = j->in_channels, cout = j->out_channels;
    for (long first = 0; first < total; first += j->block_tiles) {
        const int count = total - first < j->block_tiles ? (int)(total - first) : j->block_tiles;
        NAME(wino_input)(j, first, count);
        NAME(wino_dy)(j, dy, first, count);
        // The 36 sums over tiles (Cin × count) · (count × Cout).
        for (int xi = 0; xi < 36; xi++) {
            const float *v = j->v + (ptrdiff_t)xi * count * cin, *d = j->m + (ptrdiff_t)xi * count * cout;
            float *g = partial + (ptrdiff_t)xi * cin * cout;
            for (int ob = 0; ob < cout; ob += 2 * VW) {
                const int two = cout - ob >= 2 * VW;
                for (int c = 0; c < cin; c += GROWS) {
                    float *gc = g + (ptrdiff_t)c * cout + ob;
                    if (cin - c >= GROWS) (two ? NAME(sum_full2) : NAME(sum_full1))(v + c, cin, d + ob, cout, count, gc);
                    else (two ? NAME(sum_part2) : NAME(sum_part1))(cin - c, v + c, cin, d + ob, cout, count, gc);
                }
            }
        }
    }
}

// gradient[o][ky][kx][c] += (Gᵀ M G)[ky][kx] of partial[ξ][c][o], VW output channels at a time.
TARGET void NAME(bsn_winograd_add_weight_gradient)(const float *partial, int cout, int cin, float *gradient) {
    const ptrdiff_t per_xi = (ptrdiff_t)cin * cout;
    for (int c = 0; c < cin; c++) {
        for (int o = 0; o < cout; o += VW) {
            const float *m = partial + (ptrdiff_t)c * cout + o;
            wvf half[3][6];                                   // Gᵀ M, row by row
            UNROLL for (int k = 0; k < 6; k++) {
                wvf x[6];
                UNROLL for (int i = 0; i < 6; i++) x[i] = NAME(wload)(m + (i * 6 + k) * per_xi);
                half[0][k] = 0.25f * x[0] - (1.0f / 6) * (x[1] + x[2]) + (1.0f / 24) * (x[3] + x[4]);
                half[1][k] = (1.0f / 6) * (x[2] - x[1]) + (1.0f / 12) * (x[3] - x[4]);
                half[2][k] = (1.0f / 6) * (x[3] + x[4] - x[1] - x[2]) + x[5];
            }
            UNROLL for (int ky = 0; ky < 3; ky++) {
                const wvf *x = half[ky];
                const wvf r[3] = {
                    0.25f * x[0] - (1.0f / 6) * (x[1] + x[2]) + (1.0f / 24) * (x[3] + x[4]),
                    (1.0f / 6) * (x[2] - x[1]) + (1.0f / 12) * (x[3] - x[4]),
                    (1.0f / 6) * (x[3] + x[4] - x[1] - x[2]) + x[5],
                };
                UNROLL for (int kx = 0; kx < 3; kx++) {
                    UNROLL for (int l = 0; l < VW; l++) gradient[(((ptrdiff_t)(o + l) * 3 + ky) * 3 + kx) * cin + c] += r[kx][l];
                }
            }
        }
    }
}

#undef AY
#undef BT
#undef AT
#undef wvf
