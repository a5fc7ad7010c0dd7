// Batch-norm loops over NHWC rows of C channels, written once over vector
// extensions and instantiated by conv_kernels.c like the convolution tiles:
// VW floats per vector under TARGET, names suffixed SUFFIX. Channels are
// walked VW at a time, the remainder one by one.

INLINE TARGET void NAME(bn_sums)(const float *x, const float *shift, long rows, int c, float *acc) {
    int j = 0;
    for (; j + VW <= c; j += VW) {
        vf s = LOAD(shift + j), a = LOAD(acc + j), q = LOAD(acc + c + j);
        for (long r = 0; r < rows; r++) {
            const vf d = LOAD(x + r * c + j) - s;
            a += d;
            q += d * d;
        }
        STORE(acc + j, a);
        STORE(acc + c + j, q);
    }
    for (; j < c; j++) {
        float a = acc[j], q = acc[c + j];
        for (long r = 0; r < rows; r++) { const float d = x[r * c + j] - shift[j]; a += d; q += d * d; }
        acc[j] = a;
        acc[c + j] = q;
    }
}

// y = x · a + b (flags bit 0: added to y; bit 1: then max(0, ·)).
INLINE TARGET void NAME(bn_affine)(const float *x, float *y, const float *a, const float *b, long rows, int c, int flags) {
    for (long r = 0; r < rows; r++) {
        int j = 0;
        for (; j + VW <= c; j += VW) {
            vf v = LOAD(x + r * c + j) * LOAD(a + j) + LOAD(b + j);
            if (flags & 1) v += LOAD(y + r * c + j);
            if (flags & 2) v = NAME(relu)(v);
            STORE(y + r * c + j, v);
        }
        for (; j < c; j++) {
            float v = x[r * c + j] * a[j] + b[j];
            if (flags & 1) v += y[r * c + j];
            if (flags & 2) v = v < 0 ? 0 : v;
            y[r * c + j] = v;
        }
    }
}

// dy where the ReLU's output y is positive, else 0 (no mask: dy).
INLINE TARGET vf NAME(masked)(vf dy, const float *y) {
    return y ? (vf)((NAME(vi))dy & (NAME(vi))(LOAD(y) > (vf){0})) : dy;
}

INLINE TARGET void NAME(bn_backward_sums)(const float *dy, const float *x, const float *mu, const float *inv,
                                          long rows, int c, float *acc, const float *mask) {
    int j = 0;
    for (; j + VW <= c; j += VW) {
        const vf m = LOAD(mu + j), s = LOAD(inv + j);
        vf a = LOAD(acc + j), q = LOAD(acc + c + j);
        for (long r = 0; r < rows; r++) {
            const vf g = NAME(masked)(LOAD(dy + r * c + j), mask ? mask + r * c + j : NULL);
            a += g;
            q += g * ((LOAD(x + r * c + j) - m) * s);
        }
        STORE(acc + j, a);
        STORE(acc + c + j, q);
    }
    for (; j < c; j++) {
        float a = acc[j], q = acc[c + j];
        for (long r = 0; r < rows; r++) {
            const float g = mask && !(mask[r * c + j] > 0) ? 0 : dy[r * c + j];
            a += g;
            q += g * ((x[r * c + j] - mu[j]) * inv[j]);
        }
        acc[j] = a;
        acc[c + j] = q;
    }
}

INLINE TARGET void NAME(bn_backward_dx)(const float *dy, const float *x, const float *mu, const float *inv, const float *gamma,
                                        const float *sum_dy, const float *sum_dy_xhat, float centre, long rows, int c, float *dx,
                                        const float *mask) {
    for (long r = 0; r < rows; r++) {
        int j = 0;
        for (; j + VW <= c; j += VW) {
            const vf s = LOAD(inv + j), xhat = (LOAD(x + r * c + j) - LOAD(mu + j)) * s;
            const vf g = NAME(masked)(LOAD(dy + r * c + j), mask ? mask + r * c + j : NULL);
            STORE(dx + r * c + j, LOAD(gamma + j) * s * (g - centre * (LOAD(sum_dy + j) + xhat * LOAD(sum_dy_xhat + j))));
        }
        for (; j < c; j++) {
            const float xhat = (x[r * c + j] - mu[j]) * inv[j];
            const float g = mask && !(mask[r * c + j] > 0) ? 0 : dy[r * c + j];
            dx[r * c + j] = gamma[j] * inv[j] * (g - centre * (sum_dy[j] + xhat * sum_dy_xhat[j]));
        }
    }
}

static TARGET void NAME(bsn_bn_sums)(const float *x, const float *shift, long rows, int c, float *acc) { NAME(bn_sums)(x, shift, rows, c, acc); }
static TARGET void NAME(bsn_bn_affine)(const float *x, float *y, const float *a, const float *b, long rows, int c, int flags) {
    NAME(bn_affine)(x, y, a, b, rows, c, flags);
}
static TARGET void NAME(bsn_bn_backward_sums)(const float *dy, const float *x, const float *mu, const float *inv, long rows, int c, float *acc,
                                              const float *mask) {
    NAME(bn_backward_sums)(dy, x, mu, inv, rows, c, acc, mask);
}
static TARGET void NAME(bsn_bn_backward_dx)(const float *dy, const float *x, const float *mu, const float *inv, const float *gamma,
                                            const float *sum_dy, const float *sum_dy_xhat, float centre, long rows, int c, float *dx,
                                            const float *mask) {
    NAME(bn_backward_dx)(dy, x, mu, inv, gamma, sum_dy, sum_dy_xhat, centre, rows, c, dx, mask);
}
