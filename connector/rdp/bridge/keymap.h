/* X11 keysyms (what Guacamole clients send) to Windows virtual keys and RDP scancodes, for the
 * keyboard layout the session announces (pure). */
#ifndef PSM_KEYMAP_H
#define PSM_KEYMAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t vk;  /* Windows virtual key, 0 when the keysym is no function key (a character: see psm_layout) */
  int extended; /* the key sends the E0 prefix (KBD_FLAGS_EXTENDED): the grey keys, right Ctrl/Alt, ... */
} psm_key;

/* Function keys, modifiers, the keypad and the editing keys; characters are the layout's. */
psm_key psm_keysym_to_vk(uint32_t keysym);
/* The Unicode code point a keysym stands for, or 0. */
uint32_t psm_keysym_to_unicode(uint32_t keysym);

/* The key's scancode as winpr writes it: the set-1 make code in the low byte, KBDEXT (0x100) for an
 * E0-prefixed key. 0 when the key has none. */
uint32_t psm_key_scancode(psm_key key);

/* ---- keyboard layouts (layouts.c) ---------------------------------------------------------- */

/* Levels of a key: which modifiers type its character. */
#define PSM_LEVEL_SHIFT 1u
#define PSM_LEVEL_ALTGR 2u

typedef struct {
  uint8_t code;        /* set-1 make code (no character key carries the E0 prefix) */
  uint8_t keeps_shift; /* a letter (Caps Lock shifts it) or Space: a held Shift stays for its base level */
  uint32_t ch[4];      /* the character at each level (base, Shift, AltGr, Shift+AltGr); 0: none, or a dead key */
} psm_layout_key;

typedef struct {
  const char* name; /* as the connector names it: protocol/keyboard-layout.ts */
  uint32_t klid;    /* the Windows keyboard layout id announced to the server (FreeRDP's KeyboardLayout) */
  const psm_layout_key* keys;
  size_t nkeys;
} psm_layout;

/* US English: the layout of a session that names none. */
extern const psm_layout psm_layout_us;
/* Every layout the bridge knows, and how many. */
extern const psm_layout* const psm_layouts[];
extern const size_t psm_layout_count;
/* The layout named `name` ("en-us", "en-gb", "de-de", "fr-fr"), or NULL. */
const psm_layout* psm_layout_named(const char* name);
/* The key and level that type code point `cp` on `layout` (the lowest level that has it, dead keys
 * left out), or NULL. */
const psm_layout_key* psm_layout_find(const psm_layout* layout, uint32_t cp, unsigned* level);

/* ---- key events ---------------------------------------------------------------------------- */

/* Keys held, as bits of psm_bridge.held (the browser's own state, from its key events). */
#define PSM_HELD_SHIFT 0x03u /* left 0x01, right 0x02 */
#define PSM_HELD_CTRL 0x0cu  /* left 0x04, right 0x08 */
#define PSM_HELD_BREAK 0x10u /* Pause pressed with Ctrl held: Break is down */
#define PSM_HELD_ALTGR 0x20u /* AltGr (ISO_Level3_Shift): the browser's characters already include it */
/* The bit a keysym's key sets in `held` while down, or 0. */
unsigned psm_held_bit(uint32_t keysym);

/* One TS_KEYBOARD_EVENT: keyboardFlags (KBD_FLAGS_*) and keyCode. */
typedef struct {
  uint16_t flags;
  uint16_t code;
} psm_scan;

/* At most: both Shifts let go, AltGr pressed, the key, AltGr let go, both Shifts pressed again. */
#define PSM_MAX_SCANS 8
#define PSM_KEYS_UNICODE (-1) /* no key: send the keysym's code point as a Unicode event, if it has one */
#define PSM_KEYS_PAUSE (-2)   /* Pause without Ctrl: FreeRDP's keyboard pause event (docs/rdp.md) */

/* The keyboard events a `key` instruction becomes on `layout`, given the keys `held` before it
 * (updated for after it): fills `out` and returns how many (0 for the release of Pause, which has no
 * break code), or one of PSM_KEYS_UNICODE / PSM_KEYS_PAUSE. A character is its key on the layout,
 * with Shift and AltGr pressed or let go around it as its level needs. */
int psm_key_events(const psm_layout* layout, uint32_t keysym, int down, unsigned* held,
                   psm_scan out[PSM_MAX_SCANS]);
#endif
