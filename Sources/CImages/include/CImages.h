#ifndef BSN_CIMAGES_H
#define BSN_CIMAGES_H

#include <stddef.h>
#include <stdint.h>

// ---- Images (image_io.c): PNG via libpng, JPEG via libjpeg(-turbo) ----------
// Decoded from and encoded to memory: Swift reads and writes the files
// (regular files only, atomically). Errors come back as messages (setjmp
// handlers); nothing here exits or reads a path.

/// The largest image bsn decodes (pixels): 64M, 256 MB of RGBA.
#define BSN_IMAGE_MAX_PIXELS (1ull << 26)

/// Encodes 8-bit pixels (channels 1 = gray, 3 = RGB, 4 = RGBA), rows top to
/// bottom, no padding, as a PNG in `*out` (malloc'ed; bsn_free). 0, or -1 + message.
int bsn_png_encode(const uint8_t *pixels, int width, int height, int channels,
                   uint8_t **out, size_t *out_size, char *error, size_t error_size);
/// Decodes any PNG (gray, gray+alpha, RGB, RGBA, palette, 1-16 bits,
/// interlaced) to 8-bit RGB (channels 3) or RGBA (4, when the file has alpha
/// or transparency). Chunk sizes are bounded by the file's size (and 8 MB)
/// and the image by BSN_IMAGE_MAX_PIXELS before libpng allocates. `*pixels`
/// is malloc'ed; release it with bsn_free. Returns 0 or -1 + message.
int bsn_png_decode(const uint8_t *bytes, size_t size, uint8_t **pixels, int *width, int *height,
                   int *channels, char *error, size_t error_size);
/// Decodes a JPEG (gray, RGB, CMYK or YCCK; baseline or progressive) to
/// 8-bit RGB; CMYK converts as Pillow converts it. `*pixels` is malloc'ed;
/// release with bsn_free. Returns 0, or -1 with libjpeg's message in
/// `error`; any libjpeg warning (premature end of data, corrupt data) counts
/// as damage (-1). The header is read first: a size other than expect_width
/// x expect_height (when expect_width > 0), or above BSN_IMAGE_MAX_PIXELS,
/// returns -2 with the header's size in *width, *height, before any pixel is
/// decoded. With min_width, min_height > 0 the DCT decodes at 1/8, 1/4 or
/// 1/2 of the size when that still covers them and divides both sides
/// (*width, *height give the decoded size).
int bsn_jpeg_decode(const uint8_t *bytes, size_t size, int expect_width, int expect_height, int min_width, int min_height,
                    uint8_t **pixels, int *width, int *height, char *error, size_t error_size);
/// Encodes 8-bit pixels as a JPEG (quality 1...100; baseline, or progressive
/// when `progressive`) in `*out` (malloc'ed; bsn_free). components: 1 = gray,
/// 3 = RGB, 4 = CMYK (stored inverted under an Adobe marker, as Photoshop and
/// Pillow write it). 0 or -1 + message.
int bsn_jpeg_encode(const uint8_t *pixels, int width, int height, int components, int quality, int progressive,
                    uint8_t **out, size_t *out_size, char *error, size_t error_size);

/// Decodes a segmentation mask PNG. Palette and gray files (any depth, alpha
/// dropped) give their stored values, unscaled (channels 1: palette index or
/// gray level; 16-bit values above 255 are refused); colour files give 8-bit
/// RGB (channels 3, alpha dropped). Same bounds and errors as bsn_png_decode.
int bsn_png_decode_mask(const uint8_t *bytes, size_t size, uint8_t **pixels, int *width, int *height,
                        int *channels, char *error, size_t error_size);

/// An image's size from the first bytes of its file, without decoding:
/// 1 = PNG, 2 = JPEG (size in *width, *height), 0 = neither, -1 = a damaged
/// header, -3 = the header goes past `size` bytes (read more of the file).
int bsn_image_probe(const uint8_t *bytes, size_t size, int *width, int *height);

/// A 64-bit hash of `size` bytes (hash.c): finds damage in cache files at memory speed; not cryptographic.
uint64_t bsn_hash64(const void *data, size_t size, uint64_t seed);

void bsn_free(void *pointer);

#endif
