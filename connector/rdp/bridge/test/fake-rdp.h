/* A stand-in for the RDP connection, for the bridge's tests and fuzz targets: the freerdp_input_*
 * calls are wrapped at link time (-Wl,--wrap=...) and recorded (keyboard events with the flags and
 * code that go on the wire), and a fake clipboard channel records what the bridge offers and answers
 * with. */
#ifndef PSM_FAKE_RDP_H
#define PSM_FAKE_RDP_H
#include "../bridge.h"

#define FAKE_KEY_LOG 16

typedef struct {
  int keys, unicode_keys, mouse_events;
  int pauses;                            /* keyboard pause events (the Pause key's sequence) */
  UINT16 key_flags[FAKE_KEY_LOG];        /* the first keyboard events' keyboardFlags and keyCode */
  UINT16 key_codes[FAKE_KEY_LOG];
  UINT16 last_x, last_y;
  int format_lists;       /* format lists the bridge sent (each offer of pasted text is one) */
  int last_format_count;  /* formats in the last one: 1 when text is offered */
  char response[4096];    /* the last paste answer, as UTF-8 */
  int response_ok;
} fake_rdp;

extern fake_rdp fake;

/* A bridge as after `connect`, not connected: no GDI, no input, the fake clipboard channel. */
psm_bridge* fake_bridge(int clip_paste, size_t clip_max);
void fake_bridge_free(psm_bridge* b);
/* Asks the bridge for the pasted text as the remote side would (it lands in fake.response). */
void fake_remote_paste(psm_bridge* b);
#endif
