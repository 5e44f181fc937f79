/* libFuzzer target for the bridge's instruction reader (built with a 1 KiB instruction bound, so the
 * bound is reached with small inputs). Checks the split property on every input: the input parsed
 * whole, in pieces whose sizes come from the input's own bytes, and byte by byte must give the same
 * instructions and the same verdict; any difference aborts. ASan/UBSan catch the rest. */
#include <stdint.h>
#include <stdlib.h>

#include "../guac.h"
#include "../test/stream.h"

typedef struct {
  const uint8_t* data;
  size_t size, next;
} pieces;

/* Piece sizes from the input's bytes, in turn: 1..1300, so some cross the whole reader. */
static size_t from_input(void* state, size_t left) {
  pieces* p = state;
  (void)left;
  uint8_t v = p->data[p->next++ % p->size];
  return v < 200 ? 1 + v % 23 : 1 + (size_t)(v - 200) * 23;
}

static size_t one_byte(void* state, size_t left) {
  (void)state, (void)left;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static guac_reader r;
  static stream_result whole, split, bytes; /* buffers kept from input to input */
  const char* text = (const char*)data;
  stream_run(&r, text, size, NULL, NULL, &whole);
  pieces p = {data, size, 0};
  stream_run(&r, text, size, size ? from_input : NULL, &p, &split);
  stream_run(&r, text, size, one_byte, NULL, &bytes);
  if (!stream_result_equal(&whole, &split) || !stream_result_equal(&whole, &bytes)) abort();
  return 0;
}
