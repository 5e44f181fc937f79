/* Guacamole protocol on the bridge's stdin/stdout: writing instructions, and an incremental,
 * bounded reader of the instructions that arrive. */
#ifndef PSM_GUAC_H
#define PSM_GUAC_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Most elements one instruction may carry after its opcode (`connect` has the most: 13). */
#define GUAC_MAX_ARGS 16
/* Largest instruction accepted on stdin, `;` included: 64 KiB, the same bound the connector puts on
 * what a browser sends (MAX_GUAC_INSTRUCTION in protocol/guacamole.ts; forwarded instructions are
 * ASCII, so its characters are our bytes). A clipboard blob from guacamole-common-js is ~8 KiB.
 * The reader's fuzz target lowers it, to reach the bound with small inputs. */
#ifndef GUAC_MAX_INSTRUCTION
#define GUAC_MAX_INSTRUCTION (64 * 1024)
#endif

typedef struct {
  char* opcode;
  int argc;
  char* argv[GUAC_MAX_ARGS];
} guac_instruction;

/* Holds at most one instruction's worth of unparsed bytes. The instruction being read is scanned
 * once, resumably, and the buffer is left as it arrived until its `;` is seen: only then are its
 * separators overwritten with NULs (so a read boundary anywhere never changes what is parsed). All
 * offsets below are relative to `consumed`, so compacting the buffer does not move them. */
typedef struct {
  char buf[GUAC_MAX_INSTRUCTION];
  size_t len;      /* bytes held */
  size_t consumed; /* bytes of buf already handed out as instructions */
  int failed;      /* malformed or too large: the stream cannot be trusted any more */
  /* scan state of the instruction being read */
  size_t at;          /* next byte to look at */
  int in_value;       /* 0: reading LENGTH digits, 1: reading VALUE */
  size_t length;      /* LENGTH of the element being read, in code points */
  int digits;         /* LENGTH digits read so far */
  size_t seen;        /* code points of VALUE read so far */
  size_t value_start; /* where VALUE starts */
  int count;          /* complete elements of this instruction so far */
  size_t elem_start[GUAC_MAX_ARGS + 1];
  size_t elem_end[GUAC_MAX_ARGS + 1]; /* where each element's terminator (`,` or `;`) is */
} guac_reader;

/* Copies in as much of `data` as there is room for (compacting first) and returns how many bytes
 * it took: fewer than `n` only when the buffer holds unparsed input, so call guac_reader_next
 * until it stops returning 1 and feed the rest. */
size_t guac_reader_feed(guac_reader* r, const char* data, size_t n);
/* Reads from `fd` straight into the free room (no second copy of the input exists anywhere).
 * Returns read(2)'s result; 0 at end of input. Call when guac_reader_next last returned 0. */
ssize_t guac_reader_read(guac_reader* r, int fd);
/* Takes the next complete instruction: 1 taken, 0 need more, -1 malformed or larger than
 * GUAC_MAX_INSTRUCTION (and every later call returns -1). Pointers stay valid until the next feed
 * or read. */
int guac_reader_next(guac_reader* r, guac_instruction* out);
/* Forgets the instructions already handed out and wipes every byte of the buffer that does not
 * hold pending input (after `connect`: its credential). Pending input is kept. */
void guac_reader_wipe_consumed(guac_reader* r);

/* Writes one instruction: the opcode and `argc` NUL-terminated arguments. */
void guac_write(const char* opcode, int argc, const char* const* argv);
/* Convenience for instructions whose arguments are all integers. */
void guac_write_ints(const char* opcode, int argc, const long* values);
/* Sends an image as img + blob* + end on a fresh stream. */
void guac_send_image(int layer, const char* mimetype, int x, int y, const uint8_t* data, size_t len);
void guac_flush(void);
#endif
