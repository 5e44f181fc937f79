/* Guacamole protocol on the bridge's stdin/stdout: writing instructions, and an incremental,
 * bounded reader of the instructions that arrive. */
#ifndef PSM_GUAC_H
#define PSM_GUAC_H
#include <stddef.h>
#include <stdint.h>

/* Most elements one instruction may carry (`connect` has the most). */
#define GUAC_MAX_ARGS 16
/* Largest instruction accepted on stdin: 64 KiB (a clipboard blob is at most 6 KiB of base64). */
#define GUAC_MAX_INSTRUCTION (64 * 1024)

typedef struct {
  char* opcode;
  int argc;
  char* argv[GUAC_MAX_ARGS];
} guac_instruction;

typedef struct {
  char buf[GUAC_MAX_INSTRUCTION + 1];
  size_t len;
  size_t consumed;   /* bytes of buf already handed out as instructions */
  char* elems[GUAC_MAX_ARGS + 1];
} guac_reader;

/* Appends bytes read from stdin. Returns -1 when the pending, unparsed input exceeds the limit. */
int guac_reader_feed(guac_reader* r, const char* data, size_t n);
/* Takes the next complete instruction (pointers valid until the next call): 1 taken, 0 need more,
 * -1 malformed. */
int guac_reader_next(guac_reader* r, guac_instruction* out);

/* Writes one instruction: the opcode and `argc` NUL-terminated arguments. */
void guac_write(const char* opcode, int argc, const char* const* argv);
/* Convenience for instructions whose arguments are all integers. */
void guac_write_ints(const char* opcode, int argc, const long* values);
/* Sends an image as img + blob* + end on a fresh stream. */
void guac_send_image(int layer, const char* mimetype, int x, int y, const uint8_t* data, size_t len);
void guac_flush(void);
#endif
