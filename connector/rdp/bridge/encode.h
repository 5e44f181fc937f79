/* Image encoders for the RDP bridge: PNG (lossless, for text and UI), JPEG and WebP (lossy, for
 * photographic regions), and the per-region choice between them. No FreeRDP headers here: jpeglib.h
 * and winpr disagree about INT32. */
#ifndef PSM_ENCODE_H
#define PSM_ENCODE_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t* data;
  size_t len;
  size_t cap;
} psm_buf;

void psm_buf_free(psm_buf* b);

typedef enum { PSM_IMG_PNG, PSM_IMG_JPEG, PSM_IMG_WEBP } psm_img_kind;

/* Chooses an encoding for a BGRX region: PNG when it has few colours (text, UI), lossy otherwise. */
psm_img_kind psm_choose(const uint8_t* px, int stride, int w, int h, int webp_ok);

/* Each returns 0 on success and fills `out` (which the caller frees). `px` is 32-bit BGRX/BGRA. */
int psm_png_bgrx(const uint8_t* px, int stride, int w, int h, psm_buf* out);
int psm_png_bgra(const uint8_t* px, int stride, int w, int h, psm_buf* out);
int psm_jpeg_bgrx(const uint8_t* px, int stride, int w, int h, int quality, psm_buf* out);
int psm_webp_bgrx(const uint8_t* px, int stride, int w, int h, int quality, psm_buf* out);

/* Standard base64 (with padding) of `n` bytes into `dst`, which holds at least 4*((n+2)/3) bytes. */
size_t psm_base64(const uint8_t* src, size_t n, char* dst);
/* Strict standard base64 (length a multiple of 4, '=' only as the last one or two characters) into
 * `dst`, which holds at least n/4*3 bytes. Returns the decoded length, or -1 for empty or malformed
 * text. */
long psm_base64_decode(const char* src, size_t n, uint8_t* dst);
#endif
