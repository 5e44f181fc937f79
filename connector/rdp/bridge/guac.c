/* Guacamole protocol reader and writer for the bridge (see guac.h). An instruction is
 * LENGTH.VALUE elements separated by ',' and ended by ';', where LENGTH counts Unicode code points. */
#include "guac.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encode.h"

/* Raw bytes per blob: guacd's limit, so that each blob instruction stays under 8 KiB. */
#define BLOB_BYTES 6048

static int utf8_codepoints(const char* s, size_t n) {
  int count = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80) count++;
  return count;
}

/* Moves the unparsed bytes to the front. Offsets in the scan state are relative to `consumed`. */
static void compact(guac_reader* r) {
  if (r->consumed == 0) return;
  memmove(r->buf, r->buf + r->consumed, r->len - r->consumed);
  r->len -= r->consumed;
  r->consumed = 0;
}

size_t guac_reader_feed(guac_reader* r, const char* data, size_t n) {
  if (n == 0) return 0;
  compact(r);
  size_t room = GUAC_MAX_INSTRUCTION - r->len;
  if (n > room) n = room;
  memcpy(r->buf + r->len, data, n);
  r->len += n;
  return n;
}

ssize_t guac_reader_read(guac_reader* r, int fd) {
  compact(r);
  size_t room = GUAC_MAX_INSTRUCTION - r->len;
  if (room == 0) { /* only after guac_reader_next said -1: nothing more is read */
    errno = ENOBUFS;
    return -1;
  }
  ssize_t n = read(fd, r->buf + r->len, room);
  if (n > 0) r->len += (size_t)n;
  return n;
}

void guac_reader_wipe_consumed(guac_reader* r) {
  compact(r);
  explicit_bzero(r->buf + r->len, sizeof r->buf - r->len);
}

static void reset_scan(guac_reader* r) {
  r->at = 0;
  r->in_value = 0;
  r->length = 0;
  r->digits = 0;
  r->seen = 0;
  r->count = 0;
}

static int fail(guac_reader* r) {
  r->failed = 1;
  return -1;
}

/* Bytes in a UTF-8 sequence from its lead byte; 0 for a byte that cannot start one. */
static size_t utf8_width(unsigned char c) {
  return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
}

int guac_reader_next(guac_reader* r, guac_instruction* out) {
  if (r->failed) return -1;
  const char* p = r->buf + r->consumed;
  size_t avail = r->len - r->consumed;
  for (;;) {
    if (!r->in_value) {
      /* LENGTH "." */
      while (r->at < avail && p[r->at] >= '0' && p[r->at] <= '9') {
        r->length = r->length * 10 + (size_t)(p[r->at] - '0');
        if (++r->digits > 6 || r->length > GUAC_MAX_INSTRUCTION) return fail(r);
        r->at++;
      }
      if (r->at >= avail) break;
      if (r->digits == 0 || p[r->at] != '.') return fail(r);
      r->at++;
      r->in_value = 1;
      r->value_start = r->at;
      r->seen = 0;
    }
    /* VALUE: `length` code points, each a whole UTF-8 sequence. */
    while (r->seen < r->length) {
      if (r->at >= avail) break;
      size_t width = utf8_width((unsigned char)p[r->at]);
      if (width == 0) return fail(r);
      if (r->at + width > avail) break;
      for (size_t i = 1; i < width; i++)
        if (((unsigned char)p[r->at + i] & 0xc0) != 0x80) return fail(r);
      r->at += width;
      r->seen++;
    }
    if (r->seen < r->length || r->at >= avail) break;
    char term = p[r->at];
    if (term != ',' && term != ';') return fail(r);
    if (r->count > GUAC_MAX_ARGS) return fail(r);
    r->elem_start[r->count] = r->value_start;
    r->elem_end[r->count] = r->at;
    r->count++;
    r->at++;
    r->in_value = 0;
    r->length = 0;
    r->digits = 0;
    if (term == ';') {
      /* Complete: only now is the buffer changed, each value NUL-terminated in place. */
      char* q = r->buf + r->consumed;
      for (int i = 0; i < r->count; i++) q[r->elem_end[i]] = '\0';
      out->opcode = q + r->elem_start[0];
      out->argc = r->count - 1;
      for (int i = 1; i < r->count; i++) out->argv[i - 1] = q + r->elem_start[i];
      r->consumed += r->at;
      reset_scan(r);
      return 1;
    }
  }
  /* Incomplete. With the whole bound already held, it can only be larger than the bound. */
  if (avail >= GUAC_MAX_INSTRUCTION) return fail(r);
  return 0;
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
