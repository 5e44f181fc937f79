/* Shared by the bridge's tests and the reader's fuzz target: runs a byte stream through a
 * guac_reader, fed whole or in pieces, and records what came out, so two runs can be compared. */
#ifndef PSM_TEST_STREAM_H
#define PSM_TEST_STREAM_H
#include <stddef.h>

#include "../guac.h"

/* What a run produced: the instructions, serialised (opcode and arguments, each length-prefixed), and
 * how the stream ended: 0 need more (or clean end), -1 refused. */
typedef struct {
  char* data;
  size_t len, cap;
  int instructions;
  int status;
} stream_result;

/* Feeds `data` in pieces whose sizes come from `next_piece` (NULL: all at once), taking every
 * complete instruction after each feed, as the bridge does. `out` starts zeroed, and may be reused
 * for another run; stream_result_free frees it. */
typedef size_t (*piece_fn)(void* state, size_t left);
void stream_run(guac_reader* r, const char* data, size_t n, piece_fn next_piece, void* state, stream_result* out);
void stream_result_free(stream_result* res);
int stream_result_equal(const stream_result* a, const stream_result* b);
#endif
