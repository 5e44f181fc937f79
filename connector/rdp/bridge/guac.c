/* Guacamole protocol reader and writer for the bridge (see guac.h). An instruction is
 * LENGTH.VALUE elements separated by ',' and ended by ';', where LENGTH counts Unicode code points. */
#include "guac.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "encode.h"

/* Raw bytes per blob: guacd's limit, so that each blob instruction stays under 8 KiB. */
#define BLOB_BYTES 6048

static int utf8_codepoints(const char* s, size_t n) {
  int count = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80) count++;
  return count;
}

int guac_reader_feed(guac_reader* r, const char* data, size_t n) {
  if (r->consumed > 0) {
    memmove(r->buf, r->buf + r->consumed, r->len - r->consumed);
    r->len -= r->consumed;
    r->consumed = 0;
  }
  if (r->len + n > GUAC_MAX_INSTRUCTION) return -1;
  memcpy(r->buf + r->len, data, n);
  r->len += n;
  return 0;
}

int guac_reader_next(guac_reader* r, guac_instruction* out) {
  size_t at = r->consumed;
  int count = 0;
  for (;;) {
    /* LENGTH */
    size_t length = 0;
    size_t digits = 0;
    while (at < r->len && r->buf[at] >= '0' && r->buf[at] <= '9') {
      length = length * 10 + (size_t)(r->buf[at] - '0');
      if (++digits > 6) return -1;
      at++;
    }
    if (at >= r->len) return 0;
    if (digits == 0 || r->buf[at] != '.') return -1;
    at++;
    /* VALUE: `length` code points, so walk UTF-8 lead bytes. */
    size_t start = at;
    size_t seen = 0;
    while (seen < length) {
      if (at >= r->len) return 0;
      unsigned char c = (unsigned char)r->buf[at];
      size_t width = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      if (width == 0) return -1;
      at += width;
      seen++;
    }
    if (at >= r->len) return 0;
    char term = r->buf[at];
    if (term != ',' && term != ';') return -1;
    if (count > GUAC_MAX_ARGS) return -1;
    r->elems[count++] = r->buf + start;
    r->buf[at] = '\0'; /* terminates the value in place */
    at++;
    if (term == ';') {
      out->opcode = r->elems[0];
      out->argc = count - 1;
      for (int i = 1; i < count; i++) out->argv[i - 1] = r->elems[i];
      r->consumed = at;
      return 1;
    }
  }
}

void guac_write(const char* opcode, int argc, const char* const* argv) {
  size_t n = strlen(opcode);
  printf("%d.%s", utf8_codepoints(opcode, n), opcode);
  for (int i = 0; i < argc; i++) {
    n = strlen(argv[i]);
    printf(",%d.", utf8_codepoints(argv[i], n));
    fwrite(argv[i], 1, n, stdout);
  }
  fputc(';', stdout);
}

void guac_write_ints(const char* opcode, int argc, const long* values) {
  char text[GUAC_MAX_ARGS][24];
  const char* argv[GUAC_MAX_ARGS];
  for (int i = 0; i < argc && i < GUAC_MAX_ARGS; i++) {
    snprintf(text[i], sizeof text[i], "%ld", values[i]);
    argv[i] = text[i];
  }
  guac_write(opcode, argc, argv);
}

static int next_stream = 1;

void guac_send_image(int layer, const char* mimetype, int x, int y, const uint8_t* data, size_t len) {
  /* Stream indexes are reused round-robin; the client frees one at `end`. */
  int stream = next_stream;
  next_stream = next_stream % 64 + 1;
  char s[16], l[16], xs[16], ys[16];
  snprintf(s, sizeof s, "%d", stream);
  snprintf(l, sizeof l, "%d", layer);
  snprintf(xs, sizeof xs, "%d", x);
  snprintf(ys, sizeof ys, "%d", y);
  const char* img[] = {s, "12", l, mimetype, xs, ys}; /* 12 (0xC): copy, replacing what is there */
  guac_write("img", 6, img);
  static char b64[4 * ((BLOB_BYTES + 2) / 3) + 1];
  for (size_t at = 0; at < len; at += BLOB_BYTES) {
    size_t chunk = len - at < BLOB_BYTES ? len - at : BLOB_BYTES;
    b64[psm_base64(data + at, chunk, b64)] = '\0';
    const char* blob[] = {s, b64};
    guac_write("blob", 2, blob);
  }
  const char* end[] = {s};
  guac_write("end", 1, end);
}

void guac_flush(void) { fflush(stdout); }
