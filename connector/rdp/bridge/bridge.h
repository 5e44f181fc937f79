/* State shared by the RDP bridge's parts: the FreeRDP context, the session's settings from the
 * connector, the screen regions waiting to be sent and the clipboard. */
#ifndef PSM_BRIDGE_H
#define PSM_BRIDGE_H
#include <freerdp/freerdp.h>
#include <freerdp/client/cliprdr.h>
#include <freerdp/client/disp.h>
#include "encode.h"
#include "guac.h"

/* Changed regions kept apart before they are merged into their bounding box. */
#define MAX_DIRTY 24

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
  /* state */
  int cert_mismatch;
  psm_rect dirty[MAX_DIRTY];
  int ndirty;
  int unacked;
  long long last_flush_ms;
  int shift_down;
  uint32_t buttons;
  int want_w, want_h;
  long long resize_at_ms;
  CliprdrClientContext* clip;
  DispClientContext* disp;
  char* clip_local; /* UTF-8 text the browser pasted, offered to the remote clipboard */
  size_t clip_local_len;
  psm_buf paste;    /* clipboard stream from the browser being received */
  int paste_stream; /* its stream index, 0 when none */
  int paste_over;   /* it went over the cap and is being dropped */
} psm_bridge;

long long psm_now_ms(void);
void psm_log(const char* event, const char* detail);

/* clipboard.c */
void psm_clipboard_connected(psm_bridge* b, CliprdrClientContext* clip);
/* Text the browser pasted is now what the remote side can paste. */
void psm_clipboard_offer(psm_bridge* b);
#endif
