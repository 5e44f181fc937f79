/* Runs a byte stream through the bridge's reader in pieces and records the result (see stream.h). */
#include "stream.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static void put(stream_result* res, const void* p, size_t n) {
  if (res->len + n > res->cap) {
    size_t cap = res->cap ? res->cap : 256;
    while (cap < res->len + n) cap *= 2;
    char* grown = realloc(res->data, cap);
    if (!grown) abort();
    res->data = grown;
    res->cap = cap;
  }
  memcpy(res->data + res->len, p, n);
  res->len += n;
}

static void put_string(stream_result* res, const char* s) {
  size_t n = strlen(s);
  put(res, &n, sizeof n);
  put(res, s, n);
}

/* Takes every complete instruction; returns the reader's last answer (0 or -1). */
static int drain(guac_reader* r, stream_result* res) {
  guac_instruction in;
  int rc;
  while ((rc = guac_reader_next(r, &in)) == 1) {
    put_string(res, in.opcode);
    put(res, &in.argc, sizeof in.argc);
    for (int i = 0; i < in.argc; i++) put_string(res, in.argv[i]);
    res->instructions++;
  }
  return rc;
}

void stream_run(guac_reader* r, const char* data, size_t n, piece_fn next_piece, void* state, stream_result* out) {
  /* A fresh reader: everything but the buffer's old bytes, which nothing reads past `len`. */
  memset(&r->len, 0, sizeof *r - offsetof(guac_reader, len));
  out->len = 0; /* the result's buffer is kept from run to run (growing it is most of the cost) */
  out->instructions = 0;
  out->status = 0;
  size_t at = 0;
  while (at < n) {
    size_t piece = next_piece ? next_piece(state, n - at) : n - at;
    if (piece == 0 || piece > n - at) piece = n - at;
    /* A piece goes in as the reader makes room, as a read into the reader's free space would. */
    for (size_t end = at + piece; at < end;) {
      at += guac_reader_feed(r, data + at, end - at);
      if (drain(r, out) < 0) {
        out->status = -1;
        return;
      }
    }
  }
  out->status = drain(r, out);
}

void stream_result_free(stream_result* res) {
  free(res->data);
  memset(res, 0, sizeof *res);
}

int stream_result_equal(const stream_result* a, const stream_result* b) {
  return a->status == b->status && a->instructions == b->instructions && a->len == b->len &&
         (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}
