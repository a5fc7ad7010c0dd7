#include "CSupport.h"

#include <png.h>
#include <stdio.h>
#include <jpeglib.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

static void set_error(char *error, size_t size, const char *prefix, const char *message) {
    if (error && size) snprintf(error, size, "%s%s", prefix, message);
}

void bsn_free(void *pointer) { free(pointer); }

int bsn_png_write(const char *path, const uint8_t *pixels, int width, int height,
                  int channels, char *error, size_t error_size) {
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
    FILE *file = fopen(path, "wb");
    if (!file) { set_error(error, error_size, "", strerror(errno)); return -1; }
    int ok = png_image_write_to_stdio(&image, file, 0, pixels, 0, NULL);
    if (!ok) {
        set_error(error, error_size, "", image.message);
        fclose(file);
        png_image_free(&image);
        return -1;
    }
    if (fflush(file) != 0 || ferror(file)) {
        set_error(error, error_size, "", strerror(errno));
        fclose(file);
        return -1;
    }
    if (fclose(file) != 0) { set_error(error, error_size, "", strerror(errno)); return -1; }
    return 0;
}

int bsn_png_read(const char *path, uint8_t **pixels, int *width, int *height,
                 int *channels, char *error, size_t error_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path)) {
        set_error(error, error_size, "", image.message);
        return -1;
    }
    int alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
    image.format = alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
    size_t size = PNG_IMAGE_SIZE(image);
    uint8_t *buffer = malloc(size);
    if (!buffer) { png_image_free(&image); set_error(error, error_size, "", "out of memory"); return -1; }
    if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
        set_error(error, error_size, "", image.message);
        free(buffer);
        png_image_free(&image);
        return -1;
    }
    *pixels = buffer;
    *width = (int)image.width;
    *height = (int)image.height;
    *channels = alpha ? 4 : 3;
    return 0;
}

// libjpeg's default error handler calls exit(); ours jumps back with the message.
struct jpeg_failure {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr info) {
    struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
    (*info->err->format_message)(info, failure->message);
    longjmp(failure->jump, 1);
}

static void jpeg_quiet(j_common_ptr info, int level) { (void)info; (void)level; }

int bsn_jpeg_read(const char *path, int expect_width, int expect_height, uint8_t **pixels, int *width, int *height,
                  char *error, size_t error_size) {
    FILE *file = fopen(path, "rb");
    if (!file) { set_error(error, error_size, "", strerror(errno)); return -1; }
    struct jpeg_decompress_struct info;
    struct jpeg_failure failure;
    uint8_t *volatile buffer = NULL;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_fail;
    failure.manager.emit_message = jpeg_quiet;
    if (setjmp(failure.jump)) {
        set_error(error, error_size, "corrupt JPEG: ", failure.message);
        jpeg_destroy_decompress(&info);
        fclose(file);
        free(buffer);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_stdio_src(&info, file);
    jpeg_read_header(&info, TRUE);
    // The size is checked on the header, before a pixel is decoded or a byte allocated.
    int wrong_size = expect_width > 0 && ((int)info.image_width != expect_width || (int)info.image_height != expect_height);
    if (wrong_size || (unsigned long long)info.image_width * info.image_height > BSN_JPEG_MAX_PIXELS) {
        *width = (int)info.image_width;
        *height = (int)info.image_height;
        char message[96];
        snprintf(message, sizeof message, "%ux%u image", info.image_width, info.image_height);
        set_error(error, error_size, "", message);
        jpeg_destroy_decompress(&info);
        fclose(file);
        return -2;
    }
    info.out_color_space = JCS_RGB;
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * 3;
    buffer = malloc(stride * info.output_height);
    if (!buffer) {
        jpeg_destroy_decompress(&info);
        fclose(file);
        set_error(error, error_size, "", "out of memory");
        return -1;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = buffer + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    // A truncated file makes libjpeg warn (and pad with grey); treat it as damage.
    int warnings = (int)failure.manager.num_warnings;
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    fclose(file);
    if (warnings > 0) {
        set_error(error, error_size, "", "corrupt JPEG: data ends early or is damaged");
        free(buffer);
        return -1;
    }
    *pixels = buffer;
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    return 0;
}

int bsn_jpeg_write(const char *path, const uint8_t *pixels, int width, int height,
                   int quality, char *error, size_t error_size) {
    FILE *file = fopen(path, "wb");
    if (!file) { set_error(error, error_size, "", strerror(errno)); return -1; }
    struct jpeg_compress_struct info;
    struct jpeg_failure failure;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_fail;
    failure.manager.emit_message = jpeg_quiet;
    if (setjmp(failure.jump)) {
        set_error(error, error_size, "", failure.message);
        jpeg_destroy_compress(&info);
        fclose(file);
        return -1;
    }
    jpeg_create_compress(&info);
    jpeg_stdio_dest(&info, file);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = 3;
    info.in_color_space = JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    jpeg_start_compress(&info, TRUE);
    size_t stride = (size_t)width * 3;
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * info.next_scanline);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    if (fclose(file) != 0) { set_error(error, error_size, "", strerror(errno)); return -1; }
    return 0;
}
