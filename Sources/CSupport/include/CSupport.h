#ifndef BSN_CSUPPORT_H
#define BSN_CSUPPORT_H

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

// ---- PNG (image_io.c), via libpng's simplified API ---------------------------
/// Writes 8-bit pixels (channels 1 = gray, 3 = RGB, 4 = RGBA), rows top to
/// bottom, no padding. Returns 0, or -1 with a message in `error`.
int bsn_png_write(const char *path, const uint8_t *pixels, int width, int height,
                  int channels, char *error, size_t error_size);
/// Reads a PNG as 8-bit RGB (channels 3) or RGBA (4, when the file has alpha).
/// `*pixels` is malloc'ed; release it with bsn_free. Returns 0 or -1 + message.
int bsn_png_read(const char *path, uint8_t **pixels, int *width, int *height,
                 int *channels, char *error, size_t error_size);

// ---- JPEG (image_io.c), via libjpeg(-turbo) with a setjmp error handler -----
/// The largest JPEG bsn decodes (pixels): 64M, 192 MB of RGB.
#define BSN_JPEG_MAX_PIXELS (1ull << 26)
/// Decodes a JPEG file to 8-bit RGB. `*pixels` is malloc'ed; release with
/// bsn_free. Returns 0, or -1 with libjpeg's message in `error`; never exits.
/// The header is read first: a size other than expect_width x expect_height
/// (when expect_width > 0), or above BSN_JPEG_MAX_PIXELS, returns -2 with
/// the header's size in *width, *height, before any pixel is decoded.
int bsn_jpeg_read(const char *path, int expect_width, int expect_height, uint8_t **pixels, int *width, int *height,
                  char *error, size_t error_size);
/// Encodes 8-bit RGB as a JPEG file (quality 1...100). Returns 0 or -1 + message.
int bsn_jpeg_write(const char *path, const uint8_t *pixels, int width, int height,
                   int quality, char *error, size_t error_size);

void bsn_free(void *pointer);

#endif
