/* State shared by the RDP bridge's parts: the FreeRDP context, the session's settings from the
 * connector, the screen regions waiting to be sent and the clipboard. */
#ifndef PSM_BRIDGE_H
#define PSM_BRIDGE_H
#include <freerdp/freerdp.h>
#include <freerdp/client/cliprdr.h>
#include <freerdp/client/disp.h>
#include "encode.h"
#include "guac.h"
#include "keymap.h"

/* Changed regions kept apart before they are merged into their bounding box. */
#define MAX_DIRTY 24
/* Desktop width and height, in pixels: the Display Control channel's own bounds (MS-RDPEDISP). */
#define PSM_MIN_SIDE 200
#define PSM_MAX_SIDE 8192
/* At most 16 Mpx (4096x4096, 64 MiB of BGRX per frame buffer): an 8192x8192 desktop would make each bridge
 * allocate 256 MiB. 5K (5120x2880, 14.7 Mpx) fits. A larger size from the page is ignored. */
#define PSM_MAX_PIXELS (4096L * 4096L)
/* Largest clipboard text each way, in bytes: the policy's own maximum (rdpClipboardMaxBytes). */
#define PSM_CLIP_MAX (1024 * 1024)

typedef struct {
  int x, y, w, h;
} psm_rect;

typedef struct {
  rdpContext context; /* first: FreeRDP allocates the whole struct as the context */
  /* from the connector's `connect` instruction */
  char pin[128];
  int webp;
  int clip_copy, clip_paste;
  size_t clip_max;
  const psm_layout* layout; /* the keyboard layout announced to the server; NULL: US (keymap.h) */
  /* state */
  int cert_mismatch;
  CONNECTION_STATE reached; /* the connection's state when freerdp_connect finished (failure.h) */
  psm_rect dirty[MAX_DIRTY];
  int ndirty;
  int unacked;
  long long last_flush_ms;
  unsigned held; /* keys the browser holds down that change what a key sends (PSM_HELD_* in keymap.h) */
  uint32_t buttons;
  int want_w, want_h;
  long long resize_at_ms;
  long long connected_at_ms;
  long long server_refresh_at_ms; /* when to ask the server to repaint everything, 0: not pending */
  CliprdrClientContext* clip;
  DispClientContext* disp;
  char* clip_local; /* UTF-8 text the browser pasted, offered to the remote clipboard */
  size_t clip_local_len;
  psm_buf paste;    /* decoded text of the clipboard stream from the browser being received */
  int paste_open;   /* such a stream is open */
  int paste_stream; /* its stream index (the browser's first is 0) */
  int paste_failed; /* it went over the cap or was malformed: dropped at its `end` */
} psm_bridge;

long long psm_now_ms(void);
void psm_log(const char* event, const char* detail);

/* main.c: the whole screen, its size and the cursor again (a browser attached with nothing on screen). */
void psm_screen_refresh(psm_bridge* b);

/* input.c: runs one instruction from the connector. Returns 0 to go on, -1 to disconnect. */
int psm_dispatch(psm_bridge* b, const guac_instruction* in);
/* Reads (blocking) until the first instruction, which must be `connect` with its 14 arguments, in
 * order: host, port, username, password, domain, width, height, certificate pin, security
 * (any|nla|tls), webp (0|1), clipboard copy (0|1), clipboard paste (0|1), clipboard cap in bytes,
 * keyboard layout (en-us|en-gb|de-de|fr-fr: psm_layout_named).
 * Returns 0 with `in` pointing into the reader, which keeps whatever came after it; -1 otherwise. */
int psm_read_connect(guac_reader* r, int fd, guac_instruction* in);
/* Runs the complete instructions held, then reads what `fd` (non-blocking) has and runs those, for
 * a bounded number of reads. Returns 0 to go on, -1 to end the session (input closed, malformed or
 * too large, or `disconnect`). */
int psm_pump_input(psm_bridge* b, guac_reader* r, int fd);

/* clipboard.c */
void psm_clipboard_connected(psm_bridge* b, CliprdrClientContext* clip);
/* Text the browser pasted is now what the remote side can paste. */
void psm_clipboard_offer(psm_bridge* b);
/* A paste from the browser: `clipboard` opens a stream, each `blob` carries base64 of the next bytes,
 * `end` makes the text what the remote side pastes. Anything malformed or over the cap is dropped. */
void psm_paste_open(psm_bridge* b, const char* stream, const char* mimetype);
void psm_paste_blob(psm_bridge* b, const char* stream, const char* base64);
void psm_paste_end(psm_bridge* b, const char* stream);
/* Frees what a paste in progress holds (at exit). */
void psm_paste_free(psm_bridge* b);
#endif
