/* Image encoders for the RDP bridge (see encode.h). */
#include "encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>
#include <jpeglib.h>
#ifndef PSM_NO_WEBP
#include <webp/encode.h>
#endif

void psm_buf_free(psm_buf* b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static int buf_append(psm_buf* b, const void* data, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    uint8_t* grown = realloc(b->data, cap);
    if (!grown) return -1;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
  return 0;
}

/* Regions with more than this many distinct colours (in a sample) are treated as photographic. */
#define PHOTO_COLOURS 96
/* Regions smaller than 48x48 px always go out as PNG: lossy artefacts show most on small text. */
#define PHOTO_MIN_AREA (48 * 48)

psm_img_kind psm_choose(const uint8_t* px, int stride, int w, int h, int webp_ok) {
  if (w * h < PHOTO_MIN_AREA) return PSM_IMG_PNG;
  /* Count distinct colours in a sample of at most ~4096 pixels with a small open-addressed set. */
  uint32_t set[512];
  memset(set, 0, sizeof set);
  int distinct = 0;
  int step = (w * h) / 4096 + 1;
  for (int i = 0; i < w * h && distinct <= PHOTO_COLOURS; i += step) {
    int x = i % w, y = i / w;
    uint32_t c = (*(const uint32_t*)(px + y * stride + x * 4) & 0xffffff) | 0x1000000;
    uint32_t slot = (c * 2654435761u) >> 23;
    while (set[slot] && set[slot] != c) slot = (slot + 1) & 511;
    if (!set[slot]) {
      set[slot] = c;
      distinct++;
    }
  }
  if (distinct <= PHOTO_COLOURS) return PSM_IMG_PNG;
  return webp_ok ? PSM_IMG_WEBP : PSM_IMG_JPEG;
}

static void png_write_cb(png_structp png, png_bytep data, png_size_t n) {
  psm_buf* out = png_get_io_ptr(png);
  if (buf_append(out, data, n) != 0) png_error(png, "out of memory");
}

static void png_flush_cb(png_structp png) { (void)png; }

static int png_encode(const uint8_t* px, int stride, int w, int h, int alpha, psm_buf* out) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  if (!png) return -1;
  png_infop info = png_create_info_struct(png);
  png_bytep* rows = malloc(sizeof(png_bytep) * (size_t)h);
  if (!info || !rows) {
    png_destroy_write_struct(&png, info ? &info : NULL);
    free(rows);
    return -1;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    free(rows);
    return -1;
  }
  png_set_write_fn(png, out, png_write_cb, png_flush_cb);
  /* Level 1 with the SUB filter: ~as small as the defaults on screen content, several times faster. */
  png_set_compression_level(png, 1);
  png_set_filter(png, 0, PNG_FILTER_SUB);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, alpha ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_set_bgr(png);
  if (!alpha) png_set_filler(png, 0, PNG_FILLER_AFTER); /* strips the X byte of BGRX */
  for (int y = 0; y < h; y++) rows[y] = (png_bytep)(px + (size_t)y * (size_t)stride);
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(rows);
  return 0;
}

int psm_png_bgrx(const uint8_t* px, int stride, int w, int h, psm_buf* out) {
  return png_encode(px, stride, w, h, 0, out);
}

int psm_png_bgra(const uint8_t* px, int stride, int w, int h, psm_buf* out) {
  return png_encode(px, stride, w, h, 1, out);
}

int psm_jpeg_bgrx(const uint8_t* px, int stride, int w, int h, int quality, psm_buf* out) {
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr jerr;
  unsigned char* mem = NULL;
  unsigned long size = 0;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &mem, &size);
  cinfo.image_width = (JDIMENSION)w;
  cinfo.image_height = (JDIMENSION)h;
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_EXT_BGRX;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(px + (size_t)cinfo.next_scanline * (size_t)stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  out->len = 0;
  int rc = buf_append(out, mem, size);
  free(mem);
  return rc;
}

int psm_webp_bgrx(const uint8_t* px, int stride, int w, int h, int quality, psm_buf* out) {
#ifdef PSM_NO_WEBP
  (void)px; (void)stride; (void)w; (void)h; (void)quality; (void)out;
  return -1;
#else
  WebPConfig config;
  WebPPicture pic;
  WebPMemoryWriter writer;
  if (!WebPConfigPreset(&config, WEBP_PRESET_PICTURE, (float)quality) || !WebPPictureInit(&pic)) return -1;
  config.method = 0; /* fastest */
  pic.width = w;
  pic.height = h;
  pic.use_argb = 0;
  if (!WebPPictureImportBGRX(&pic, px, stride)) return -1;
  WebPMemoryWriterInit(&writer);
  pic.writer = WebPMemoryWrite;
  pic.custom_ptr = &writer;
  int ok = WebPEncode(&config, &pic);
  WebPPictureFree(&pic);
  if (!ok) {
    WebPMemoryWriterClear(&writer);
    return -1;
  }
  out->len = 0;
  int rc = buf_append(out, writer.mem, writer.size);
  WebPMemoryWriterClear(&writer);
  return rc;
#endif
}

size_t psm_base64(const uint8_t* src, size_t n, char* dst) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0, i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
    dst[o++] = tbl[v >> 18];
    dst[o++] = tbl[(v >> 12) & 63];
    dst[o++] = tbl[(v >> 6) & 63];
    dst[o++] = tbl[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)src[i] << 16 | (i + 1 < n ? (uint32_t)src[i + 1] << 8 : 0);
    dst[o++] = tbl[v >> 18];
    dst[o++] = tbl[(v >> 12) & 63];
    dst[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    dst[o++] = '=';
  }
  return o;
}

static int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

long psm_base64_decode(const char* src, size_t n, uint8_t* dst) {
  if (n == 0 || n % 4 != 0) return -1;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    int last = i + 4 == n;
    int v[4];
    for (int k = 0; k < 4; k++) {
      v[k] = base64_value(src[i + k]);
      /* '=' only as the last one or two characters of the whole text */
      if (v[k] < 0 && !(last && src[i + k] == '=' && k >= 2 && (k == 3 || src[i + 3] == '='))) return -1;
    }
    uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)(v[2] < 0 ? 0 : v[2]) << 6 |
                    (uint32_t)(v[3] < 0 ? 0 : v[3]);
    dst[o++] = (uint8_t)(bits >> 16);
    if (v[2] >= 0) dst[o++] = (uint8_t)(bits >> 8);
    if (v[3] >= 0) dst[o++] = (uint8_t)bits;
  }
  return (long)o;
}
