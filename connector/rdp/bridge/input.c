/* Instructions from the connector to the RDP session: reading them from stdin, and the dispatcher
 * (browser input: keys, mouse, desktop size, clipboard streams; the connector's own `sync`, `refresh`
 * and `disconnect`). The dispatcher reaches FreeRDP only through freerdp_input_* and the clipboard
 * channel, so tests and fuzz targets drive it without a connection (test/, fuzz/: those calls are
 * wrapped at link time). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <freerdp/input.h>
#include <winpr/input.h>

#include "bridge.h"
#include "keymap.h"

/* A new size from the browser is applied 300 ms after the last one (window drags send many). */
#define RESIZE_SETTLE_MS 300
/* Reads of stdin (64 KiB each at most) per turn of the event loop, so input never starves FreeRDP. */
#define READS_PER_TURN 16

/* A key becomes scancode events on the session's layout (keymap.c); a keysym with no key there is
 * typed as its Unicode character. */
static void on_key(psm_bridge* b, uint32_t keysym, int down) {
  rdpInput* input = b->context.input;
  psm_scan scans[PSM_MAX_SCANS];
  int n = psm_key_events(b->layout, keysym, down, &b->held, scans);
  if (n == PSM_KEYS_PAUSE) {
    /* One input PDU with Ctrl down (KBD_FLAGS_EXTENDED1), NumLock down, Ctrl up (EXTENDED1), NumLock up:
     * what mstsc sends, in fast-path and slow-path alike (libfreerdp/core/input.c). */
    freerdp_input_send_keyboard_pause_event(input);
    return;
  }
  if (n == PSM_KEYS_UNICODE) {
    uint32_t cp = psm_keysym_to_unicode(keysym);
    if (cp && cp <= 0xffff) freerdp_input_send_unicode_keyboard_event(input, down ? 0 : KBD_FLAGS_RELEASE, (UINT16)cp);
    return;
  }
  for (int i = 0; i < n; i++) freerdp_input_send_keyboard_event(input, scans[i].flags, scans[i].code);
}

/* x and y in desktop pixels, already within 0..65535 (RDP carries them as 16 bits). */
static void on_mouse(psm_bridge* b, UINT16 x, UINT16 y, uint32_t mask) {
  rdpInput* input = b->context.input;
  uint32_t changed = mask ^ b->buttons;
  freerdp_input_send_mouse_event(input, PTR_FLAGS_MOVE, x, y);
  static const struct {
    uint32_t bit;
    UINT16 flag;
  } buttons[] = {{1, PTR_FLAGS_BUTTON1}, {2, PTR_FLAGS_BUTTON3}, {4, PTR_FLAGS_BUTTON2}};
  for (int i = 0; i < 3; i++)
    if (changed & buttons[i].bit)
      freerdp_input_send_mouse_event(input, buttons[i].flag | ((mask & buttons[i].bit) ? PTR_FLAGS_DOWN : 0), x, y);
  if ((changed & 8) && (mask & 8)) freerdp_input_send_mouse_event(input, PTR_FLAGS_WHEEL | 0x0078, x, y);
  if ((changed & 16) && (mask & 16))
    freerdp_input_send_mouse_event(input, PTR_FLAGS_WHEEL | PTR_FLAGS_WHEEL_NEGATIVE | 0x0088, x, y);
  b->buttons = mask;
}

static long arg_long(const guac_instruction* in, int i) { return i < in->argc ? strtol(in->argv[i], NULL, 10) : 0; }

static UINT16 coordinate(long v) { return v < 0 ? 0 : v > 0xffff ? 0xffff : (UINT16)v; }

int psm_dispatch(psm_bridge* b, const guac_instruction* in) {
  const char* op = in->opcode;
  if (strcmp(op, "key") == 0 && in->argc == 2) {
    on_key(b, (uint32_t)arg_long(in, 0), arg_long(in, 1) != 0);
  } else if (strcmp(op, "mouse") == 0 && in->argc >= 3) {
    on_mouse(b, coordinate(arg_long(in, 0)), coordinate(arg_long(in, 1)), (uint32_t)arg_long(in, 2));
  } else if (strcmp(op, "sync") == 0) {
    if (b->unacked > 0) b->unacked--;
  } else if (strcmp(op, "size") == 0 && in->argc >= 2) {
    long w = arg_long(in, 0) & ~1L, h = arg_long(in, 1); /* the Display Control channel wants an even width */
    if (w >= PSM_MIN_SIDE && w <= PSM_MAX_SIDE && h >= PSM_MIN_SIDE && h <= PSM_MAX_SIDE && w * h <= PSM_MAX_PIXELS) {
      b->want_w = (int)w;
      b->want_h = (int)h;
      b->resize_at_ms = psm_now_ms() + RESIZE_SETTLE_MS;
    }
  } else if (strcmp(op, "refresh") == 0) {
    psm_screen_refresh(b);
  } else if (strcmp(op, "clipboard") == 0 && in->argc == 2) {
    psm_paste_open(b, in->argv[0], in->argv[1]);
  } else if (strcmp(op, "blob") == 0 && in->argc == 2) {
    psm_paste_blob(b, in->argv[0], in->argv[1]);
  } else if (strcmp(op, "end") == 0 && in->argc == 1) {
    psm_paste_end(b, in->argv[0]);
  } else if (strcmp(op, "disconnect") == 0) {
    return -1;
  }
  return 0;
}

int psm_read_connect(guac_reader* r, int fd, guac_instruction* in) {
  for (;;) {
    int rc = guac_reader_next(r, in);
    if (rc == 1) return strcmp(in->opcode, "connect") == 0 && in->argc == 14 ? 0 : -1;
    if (rc < 0) return -1;
    ssize_t n = guac_reader_read(r, fd);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
  }
}

int psm_pump_input(psm_bridge* b, guac_reader* r, int fd) {
  guac_instruction in;
  for (int reads = 0;; reads++) {
    int rc;
    while ((rc = guac_reader_next(r, &in)) == 1)
      if (psm_dispatch(b, &in) != 0) return -1;
    if (rc < 0) {
      psm_log("input_malformed", "malformed, or an instruction over 64 KiB");
      return -1;
    }
    if (reads == READS_PER_TURN) return 0;
    ssize_t n = guac_reader_read(r, fd);
    if (n == 0) return -1; /* stdin closed: the session is over */
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
  }
}
