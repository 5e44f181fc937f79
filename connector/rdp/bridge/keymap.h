/* X11 keysyms (what Guacamole clients send) to Windows virtual keys and RDP scancodes (pure). */
#ifndef PSM_KEYMAP_H
#define PSM_KEYMAP_H
#include <stdint.h>

typedef struct {
  uint32_t vk;     /* Windows virtual key, 0 when the keysym has no key (send it as Unicode) */
  int extended;    /* the key sends the E0 prefix (KBD_FLAGS_EXTENDED): the grey keys, right Ctrl/Alt, ... */
  int shifted;     /* on a US layout this character needs Shift held */
} psm_key;

psm_key psm_keysym_to_vk(uint32_t keysym);
/* The Unicode code point a keysym stands for, or 0. */
uint32_t psm_keysym_to_unicode(uint32_t keysym);

/* The key's scancode as winpr writes it: the set-1 make code in the low byte, KBDEXT (0x100) for an
 * E0-prefixed key. 0 when the key has none. */
uint32_t psm_key_scancode(psm_key key);

/* Keys held, as bits of psm_bridge.held (the browser's own state, from its key events). */
#define PSM_HELD_SHIFT 0x03u /* left 0x01, right 0x02 */
#define PSM_HELD_CTRL 0x0cu  /* left 0x04, right 0x08 */
#define PSM_HELD_BREAK 0x10u /* Pause pressed with Ctrl held: Break is down */
/* The bit a keysym's key sets in `held` while down, or 0. */
unsigned psm_held_bit(uint32_t keysym);

/* One TS_KEYBOARD_EVENT: keyboardFlags (KBD_FLAGS_*) and keyCode. */
typedef struct {
  uint16_t flags;
  uint16_t code;
} psm_scan;

#define PSM_MAX_SCANS 3      /* Shift down, the key, Shift up */
#define PSM_KEYS_UNICODE (-1) /* no key: send the keysym's code point as a Unicode event, if it has one */
#define PSM_KEYS_PAUSE (-2)   /* Pause without Ctrl: FreeRDP's keyboard pause event (docs/rdp.md) */

/* The keyboard events a `key` instruction becomes, given the keys `held` before it (updated for
 * after it): fills `out` and returns how many (0 for the release of Pause, which has no break code),
 * or one of PSM_KEYS_UNICODE / PSM_KEYS_PAUSE. */
int psm_key_events(uint32_t keysym, int down, unsigned* held, psm_scan out[PSM_MAX_SCANS]);
#endif
