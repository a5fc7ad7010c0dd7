#include "CImages.h"

#include <png.h>
#include <stdio.h>
#include <jpeglib.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

// Images are decoded from and encoded to memory: the Swift side reads and
// writes the files (regular files only, written atomically), so no path
// reaches libpng or libjpeg.

static void set_error(char *error, size_t size, const char *prefix, const char *message) {
    if (error && size) snprintf(error, size, "%s%s", prefix, message);
}

void bsn_free(void *pointer) { free(pointer); }

// ---- PNG ---------------------------------------------------------------------

int bsn_png_encode(const uint8_t *pixels, int width, int height, int channels,
                   uint8_t **out, size_t *out_size, char *error, size_t error_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    switch (channels) {
    case 1: image.format = PNG_FORMAT_GRAY; break;
    case 3: image.format = PNG_FORMAT_RGB; break;
    case 4: image.format = PNG_FORMAT_RGBA; break;
    default: set_error(error, error_size, "", "channels must be 1, 3 or 4"); return -1;
    }
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&image, NULL, &size, 0, pixels, 0, NULL)) {
        set_error(error, error_size, "", image.message);
        png_image_free(&image);
        return -1;
    }
    uint8_t *buffer = malloc(size ? size : 1);
    if (!buffer) { set_error(error, error_size, "", "out of memory"); return -1; }
    if (!png_image_write_to_memory(&image, buffer, &size, 0, pixels, 0, NULL)) {
        set_error(error, error_size, "", image.message);
        png_image_free(&image);
        free(buffer);
        return -1;
    }
    *out = buffer;
    *out_size = (size_t)size;
    return 0;
}

struct png_source { const uint8_t *bytes; size_t size, offset; };
struct png_failure { jmp_buf jump; char message[200]; };

static void png_read_bytes(png_structp png, png_bytep into, png_size_t count) {
    struct png_source *source = png_get_io_ptr(png);
    if (count > source->size - source->offset) png_error(png, "the file ends early (truncated)");
    memcpy(into, source->bytes + source->offset, count);
    source->offset += count;
}

static void png_fail(png_structp png, png_const_charp message) {
    struct png_failure *failure = png_get_error_ptr(png);
    snprintf(failure->message, sizeof failure->message, "%s", message);
    longjmp(failure->jump, 1);
}

static void png_quiet(png_structp png, png_const_charp message) { (void)png; (void)message; }

// Every chunk's length must fit in the bytes that follow it: libpng allocates
// a text chunk's claimed length before reading it (a 44-byte file claiming
// 2 GB), and its own chunk limit does not apply to every chunk type.
static int png_chunks_fit(const uint8_t *bytes, size_t size) {
    size_t at = 8;
    while (at + 12 <= size) {
        uint32_t length = (uint32_t)bytes[at] << 24 | (uint32_t)bytes[at + 1] << 16 | (uint32_t)bytes[at + 2] << 8 | bytes[at + 3];
        if (length > 0x7fffffffu || (size_t)length > size - at - 12) return 0;
        if (memcmp(bytes + at + 4, "IEND", 4) == 0) return 1;
        at += 12 + (size_t)length;
    }
    return 0;                                   // no IEND: truncated
}

int bsn_png_decode(const uint8_t *bytes, size_t size, uint8_t **pixels, int *width, int *height,
                   int *channels, char *error, size_t error_size) {
    if (size < 8 || png_sig_cmp(bytes, 0, 8) != 0) { set_error(error, error_size, "", "not a PNG file"); return -1; }
    if (!png_chunks_fit(bytes, size)) { set_error(error, error_size, "", "truncated or damaged (a chunk runs past the end of the file)"); return -1; }
    struct png_failure failure;
    struct png_source source = { bytes, size, 0 };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure, png_fail, png_quiet);
    if (!png) { set_error(error, error_size, "", "out of memory"); return -1; }
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile buffer = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(failure.jump)) {
        if (info) set_error(error, error_size, "", failure.message); else set_error(error, error_size, "", "out of memory");
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free(buffer);
        free(rows);
        return -1;
    }
    // Bounds before libpng allocates anything from the file's numbers: no
    // chunk kept in memory beyond 8 MB, no more than BSN_IMAGE_MAX_PIXELS.
    png_alloc_size_t chunk_max = size < (8u << 20) ? size : (8u << 20);
    png_set_chunk_malloc_max(png, chunk_max);
    png_set_chunk_cache_max(png, 1000);
    png_set_user_limits(png, 1u << 16, 1u << 16);
    png_set_read_fn(png, &source, png_read_bytes);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((unsigned long long)w * h > BSN_IMAGE_MAX_PIXELS) png_error(png, "the image is larger than bsn reads (64M pixels)");
    // Any PNG to 8-bit RGB or RGBA: palette and low-bit gray expanded, tRNS to alpha, 16-bit stripped, gray to RGB.
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int c = png_get_channels(png, info);
    if (c != 3 && c != 4) png_error(png, "unsupported PNG colour layout");
    size_t stride = png_get_rowbytes(png, info);
    if (stride != (size_t)w * c) png_error(png, "unexpected row size");
    buffer = malloc(stride * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!buffer || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = buffer + stride * y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    *pixels = buffer;
    *width = (int)w;
    *height = (int)h;
    *channels = c;
    return 0;
}

// ---- JPEG --------------------------------------------------------------------

// libjpeg's default error handler calls exit(); ours jumps back with the
// message. Warnings (a file that ends early, corrupt data that libjpeg pads
// over) are counted and kept: the caller treats them as damage.
struct jpeg_failure {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    char warning[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr info) {
    struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
    (*info->err->format_message)(info, failure->message);
    longjmp(failure->jump, 1);
}

static void jpeg_note(j_common_ptr info, int level) {
    if (level >= 0) return;                     // trace messages
    struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
    if (failure->manager.num_warnings++ == 0) (*info->err->format_message)(info, failure->warning);
}

// Pillow's CMYK to RGB (Convert.c, cmyk2rgb): channel = (255 - k) - (c (255 - k)) / 255, rounded as it rounds.
static uint8_t cmyk_channel(int c, int k) {
    int nk = 255 - k, t = c * nk + 128;
    return (uint8_t)(nk - (((t >> 8) + t) >> 8));
}

int bsn_jpeg_decode(const uint8_t *bytes, size_t size, int expect_width, int expect_height, int min_width, int min_height,
                    uint8_t **pixels, int *width, int *height, char *error, size_t error_size) {
    struct jpeg_decompress_struct info;
    struct jpeg_failure failure;
    uint8_t *volatile buffer = NULL;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_fail;
    failure.manager.emit_message = jpeg_note;
    failure.warning[0] = 0;
    if (setjmp(failure.jump)) {
        set_error(error, error_size, "corrupt JPEG: ", failure.message);
        jpeg_destroy_decompress(&info);
        free(buffer);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, bytes, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    // The size is checked on the header, before a pixel is decoded or a byte allocated.
    int wrong_size = expect_width > 0 && ((int)info.image_width != expect_width || (int)info.image_height != expect_height);
    if (wrong_size || (unsigned long long)info.image_width * info.image_height > BSN_IMAGE_MAX_PIXELS) {
        *width = (int)info.image_width;
        *height = (int)info.image_height;
        char message[96];
        snprintf(message, sizeof message, "%ux%u image", info.image_width, info.image_height);
        set_error(error, error_size, "", message);
        jpeg_destroy_decompress(&info);
        return -2;
    }
    // Decoded at 1/d of its size in the DCT (d = 8, 4, 2) when that still
    // covers min_width x min_height and d divides both sides (so the scaled
    // image covers exactly the same area).
    if (min_width > 0 && min_height > 0) {
        for (unsigned d = 8; d >= 2; d /= 2) {
            if (info.image_width % d == 0 && info.image_height % d == 0
                && info.image_width / d >= (unsigned)min_width && info.image_height / d >= (unsigned)min_height) {
                info.scale_num = 1;
                info.scale_denom = d;
                break;
            }
        }
    }
    // CMYK and YCCK (Adobe) files decode to CMYK, then to RGB as Pillow converts them.
    int cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
    int adobe_inverted = cmyk && info.saw_Adobe_marker;
    info.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&info);
    int components = cmyk ? 4 : 3;
    size_t stride = (size_t)info.output_width * components;
    buffer = malloc(stride * info.output_height);
    if (!buffer) {
        jpeg_destroy_decompress(&info);
        set_error(error, error_size, "", "out of memory");
        return -1;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = buffer + stride * info.output_scanline;
        if (jpeg_read_scanlines(&info, &row, 1) != 1) break;
    }
    jpeg_finish_decompress(&info);
    if (cmyk) {
        size_t n = (size_t)info.output_width * info.output_height;
        for (size_t p = 0; p < n; p++) {
            int c = buffer[4 * p], m = buffer[4 * p + 1], y = buffer[4 * p + 2], k = buffer[4 * p + 3];
            if (adobe_inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
            buffer[3 * p] = cmyk_channel(c, k);
            buffer[3 * p + 1] = cmyk_channel(m, k);
            buffer[3 * p + 2] = cmyk_channel(y, k);
        }
    }
    int warnings = (int)failure.manager.num_warnings;
    jpeg_destroy_decompress(&info);
    // A truncated file makes libjpeg warn (and pad with grey): damage, not an image.
    if (warnings > 0) {
        set_error(error, error_size, "corrupt JPEG: ", failure.warning[0] ? failure.warning : "data ends early or is damaged");
        free(buffer);
        return -1;
    }
    *pixels = buffer;
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    return 0;
}

int bsn_jpeg_encode(const uint8_t *pixels, int width, int height, int components, int quality, int progressive,
                    uint8_t **out, size_t *out_size, char *error, size_t error_size) {
    if (components != 1 && components != 3 && components != 4) {
        set_error(error, error_size, "", "components must be 1, 3 or 4");
        return -1;
    }
    struct jpeg_compress_struct info;
    struct jpeg_failure failure;
    unsigned char *volatile buffer = NULL;
    unsigned long size = 0;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_fail;
    failure.manager.emit_message = jpeg_note;
    // CMYK is stored inverted under an Adobe marker, as Photoshop and Pillow write it.
    JSAMPLE *volatile inverted = components == 4 ? malloc((size_t)width * 4) : NULL;
    if (components == 4 && !inverted) { set_error(error, error_size, "", "out of memory"); return -1; }
    if (setjmp(failure.jump)) {
        set_error(error, error_size, "", failure.message);
        jpeg_destroy_compress(&info);
        free(buffer);
        free(inverted);
        return -1;
    }
    jpeg_create_compress(&info);
    unsigned char *target = NULL;
    jpeg_mem_dest(&info, &target, &size);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = components;
    info.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    if (progressive) jpeg_simple_progression(&info);
    jpeg_start_compress(&info, TRUE);
    size_t stride = (size_t)width * components;
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * info.next_scanline);
        if (inverted) {
            for (size_t i = 0; i < stride; i++) inverted[i] = (JSAMPLE)(255 - row[i]);
            row = inverted;
        }
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    buffer = target;
    jpeg_destroy_compress(&info);
    free(inverted);
    *out = buffer;
    *out_size = (size_t)size;
    return 0;
}

// ---- Masks and headers ---------------------------------------------------------

int bsn_png_decode_mask(const uint8_t *bytes, size_t size, uint8_t **pixels, int *width, int *height,
                        int *channels, char *error, size_t error_size) {
    if (size < 8 || png_sig_cmp(bytes, 0, 8) != 0) { set_error(error, error_size, "", "not a PNG file"); return -1; }
    if (!png_chunks_fit(bytes, size)) { set_error(error, error_size, "", "truncated or damaged (a chunk runs past the end of the file)"); return -1; }
    struct png_failure failure;
    struct png_source source = { bytes, size, 0 };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure, png_fail, png_quiet);
    if (!png) { set_error(error, error_size, "", "out of memory"); return -1; }
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile buffer = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(failure.jump)) {
        if (info) set_error(error, error_size, "", failure.message); else set_error(error, error_size, "", "out of memory");
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free(buffer);
        free(rows);
        return -1;
    }
    png_alloc_size_t chunk_max = size < (8u << 20) ? size : (8u << 20);
    png_set_chunk_malloc_max(png, chunk_max);
    png_set_chunk_cache_max(png, 1000);
    png_set_user_limits(png, 1u << 16, 1u << 16);
    png_set_read_fn(png, &source, png_read_bytes);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((unsigned long long)w * h > BSN_IMAGE_MAX_PIXELS) png_error(png, "the image is larger than bsn reads (64M pixels)");
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    int index = type == PNG_COLOR_TYPE_PALETTE || type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA;
    if (index) {
        // The stored values themselves: palette indices and gray levels, unpacked, not scaled.
        if (depth < 8) png_set_packing(png);
        if (type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_strip_alpha(png);
    } else {
        png_set_strip_alpha(png);
        png_set_strip_16(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int c = png_get_channels(png, info), bytes_per_value = index && depth == 16 ? 2 : 1;
    if (c != (index ? 1 : 3)) png_error(png, "unsupported PNG colour layout");
    size_t stride = png_get_rowbytes(png, info);
    if (stride != (size_t)w * c * bytes_per_value) png_error(png, "unexpected row size");
    buffer = malloc(stride * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!buffer || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = buffer + stride * y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    if (bytes_per_value == 2) {
        // 16-bit gray: a class index must fit a byte.
        for (size_t p = 0; p < (size_t)w * h; p++) {
            unsigned v = (unsigned)buffer[2 * p] << 8 | buffer[2 * p + 1];
            if (v > 255) {
                char message[96];
                snprintf(message, sizeof message, "16-bit mask value %u at (%zu, %zu): class indices go up to 255", v, p % w, p / w);
                set_error(error, error_size, "", message);
                free(buffer);
                return -1;
            }
            buffer[p] = (uint8_t)v;
        }
    }
    *pixels = buffer;
    *width = (int)w;
    *height = (int)h;
    *channels = c;
    return 0;
}

int bsn_image_probe(const uint8_t *bytes, size_t size, int *width, int *height) {
    static const uint8_t png_signature[8] = { 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A };
    if (size >= 8 && memcmp(bytes, png_signature, 8) == 0) {
        if (size < 24) return -3;
        if (memcmp(bytes + 12, "IHDR", 4) != 0) return -1;
        uint32_t w = (uint32_t)bytes[16] << 24 | (uint32_t)bytes[17] << 16 | (uint32_t)bytes[18] << 8 | bytes[19];
        uint32_t h = (uint32_t)bytes[20] << 24 | (uint32_t)bytes[21] << 16 | (uint32_t)bytes[22] << 8 | bytes[23];
        if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu) return -1;
        *width = (int)w;
        *height = (int)h;
        return 1;
    }
    if (size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) {
        // Segments after SOI: FF <marker> <16-bit length> until a start of frame (C0–CF but C4, C8, CC).
        size_t at = 2;
        for (;;) {
            while (at < size && bytes[at] == 0xFF && at + 1 < size && bytes[at + 1] == 0xFF) at++;   // fill bytes
            if (at + 4 > size) return -3;
            if (bytes[at] != 0xFF) return -1;
            uint8_t marker = bytes[at + 1];
            if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) { at += 2; continue; }
            if (marker == 0xD9 || marker == 0xDA) return -1;            // image data before any frame header
            size_t length = (size_t)bytes[at + 2] << 8 | bytes[at + 3];
            if (length < 2) return -1;
            if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
                if (at + 9 > size) return -3;
                int h = bytes[at + 5] << 8 | bytes[at + 6], w = bytes[at + 7] << 8 | bytes[at + 8];
                if (w == 0 || h == 0) return -1;
                *width = w;
                *height = h;
                return 2;
            }
            at += 2 + length;
        }
    }
    return 0;
}
