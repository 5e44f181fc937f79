/* X11 keysyms to RDP keyboard events: function keys through Windows virtual keys, characters through
 * the session's keyboard layout (layouts.c). FreeRDP 2 has no keysym API, so the keysym table is ours;
 * scancodes of function keys come from winpr's table for the IBM enhanced (101/102-key) keyboard,
 * looked up with KBDEXT for the keys that carry the E0 prefix: winpr files those only under KBDEXT,
 * and a lookup without it answers 0 (issue 21: arrows, Home, End, Delete, the Windows keys, right
 * Ctrl/Alt were lost). */
#include "keymap.h"

#include <freerdp/input.h>
#include <freerdp/locale/keyboard.h>
#include <winpr/input.h>

typedef struct {
  uint32_t keysym;
  uint32_t vk;
  int extended;
} entry;

/* Keypad keysyms with NumLock off (KP_Home...) name the keypad's own keys, which are not extended:
 * they are sent as the keypad digit's scancode and the desktop applies its NumLock state, as a
 * keyboard would. Clear (0xff0b) is what browsers report for keypad 5 with NumLock off. */
static const entry special[] = {
    {0xff08, VK_BACK, 0},     {0xff09, VK_TAB, 0},       {0xff0b, VK_NUMPAD5, 0},  {0xff0d, VK_RETURN, 0},
    {0xff13, VK_PAUSE, 1},    {0xff14, VK_SCROLL, 0},    {0xff15, VK_SNAPSHOT, 0}, {0xff1b, VK_ESCAPE, 0},
    {0xff50, VK_HOME, 1},     {0xff51, VK_LEFT, 1},      {0xff52, VK_UP, 1},       {0xff53, VK_RIGHT, 1},
    {0xff54, VK_DOWN, 1},     {0xff55, VK_PRIOR, 1},     {0xff56, VK_NEXT, 1},     {0xff57, VK_END, 1},
    {0xff61, VK_SNAPSHOT, 1}, {0xff63, VK_INSERT, 1},    {0xff67, VK_APPS, 1},     {0xff7f, VK_NUMLOCK, 0},
    {0xff8d, VK_RETURN, 1},   {0xff95, VK_NUMPAD7, 0},   {0xff96, VK_NUMPAD4, 0},  {0xff97, VK_NUMPAD8, 0},
    {0xff98, VK_NUMPAD6, 0},  {0xff99, VK_NUMPAD2, 0},   {0xff9a, VK_NUMPAD9, 0},  {0xff9b, VK_NUMPAD3, 0},
    {0xff9c, VK_NUMPAD1, 0},  {0xff9d, VK_NUMPAD5, 0},   {0xff9e, VK_NUMPAD0, 0},  {0xff9f, VK_DECIMAL, 0},
    {0xffaa, VK_MULTIPLY, 0}, {0xffab, VK_ADD, 0},       {0xffad, VK_SUBTRACT, 0}, {0xffae, VK_DECIMAL, 0},
    {0xffaf, VK_DIVIDE, 1},   {0xffe1, VK_LSHIFT, 0},    {0xffe2, VK_RSHIFT, 0},   {0xffe3, VK_LCONTROL, 0},
    {0xffe4, VK_RCONTROL, 1}, {0xffe5, VK_CAPITAL, 0},   {0xffe7, VK_LWIN, 1},     {0xffe8, VK_RWIN, 1},
    {0xffe9, VK_LMENU, 0},    {0xffea, VK_RMENU, 1},     {0xffeb, VK_LWIN, 1},     {0xffec, VK_RWIN, 1},
    {0xfe03, VK_RMENU, 1},    {0xffff, VK_DELETE, 1},
};

psm_key psm_keysym_to_vk(uint32_t keysym) {
  psm_key key = {0, 0};
  if (keysym >= 0xffbe && keysym <= 0xffc9) { /* F1..F12 */
    key.vk = VK_F1 + (keysym - 0xffbe);
    return key;
  }
  if (keysym >= 0xffb0 && keysym <= 0xffb9) { /* KP_0..KP_9 */
    key.vk = VK_NUMPAD0 + (keysym - 0xffb0);
    return key;
  }
  for (unsigned i = 0; i < sizeof special / sizeof special[0]; i++)
    if (special[i].keysym == keysym) {
      key.vk = special[i].vk;
      key.extended = special[i].extended;
      return key;
    }
  return key;
}

uint32_t psm_keysym_to_unicode(uint32_t keysym) {
  if ((keysym >= 0x20 && keysym <= 0x7e) || (keysym >= 0xa0 && keysym <= 0xff)) return keysym;
  if ((keysym & 0xff000000) == 0x01000000) return keysym & 0x00ffffff;
  if (keysym == 0x20ac) return 0x20ac; /* EuroSign's legacy keysym (browsers send U+20AC as 0x10020ac) */
  return 0;
}

uint32_t psm_key_scancode(psm_key key) {
  if (!key.vk) return 0;
  return GetVirtualScanCodeFromVirtualKeyCode(key.vk | (key.extended ? KBDEXT : 0), KBD_TYPE_IBM_ENHANCED);
}

unsigned psm_held_bit(uint32_t keysym) {
  switch (keysym) {
    case 0xffe1: return 0x01; /* Shift_L */
    case 0xffe2: return 0x02; /* Shift_R */
    case 0xffe3: return 0x04; /* Control_L */
    case 0xffe4: return 0x08; /* Control_R */
    case 0xfe03: return PSM_HELD_ALTGR; /* ISO_Level3_Shift: what browsers report for AltGr */
    default: return 0;
  }
}

/* keyboardFlags as FreeRDP's freerdp_input_send_keyboard_event_ex writes them (KBD_FLAGS_DOWN on a
 * press; fast-path input, which xrdp and Windows use, carries only release and the prefixes). */
static psm_scan scan(uint32_t scancode, int down) {
  psm_scan s;
  s.flags = (uint16_t)((down ? KBD_FLAGS_DOWN : KBD_FLAGS_RELEASE) | ((scancode & KBDEXT) ? KBD_FLAGS_EXTENDED : 0));
  s.code = (uint16_t)(scancode & 0xff);
  return s;
}

/* Shift and AltGr around a character typed on `layout`, as its level needs (key down only). The
 * browser reports the character the user typed, so modifiers it holds that the target's key for that
 * character does not want are let go around it (a `/` typed with Shift on a German keyboard is the
 * unshifted `/` key of a US layout), and ones it wants are pressed (text from an on-screen keyboard,
 * an `@` that needs AltGr on a German layout). A held Shift stays for a letter's lower case (the
 * browser reports that with Caps Lock on, which the desktop's Caps Lock undoes again) and for Space
 * (Shift+Space). Only AltGr (ISO_Level3_Shift) is let go, never Alt_R: Alt+key shortcuts stay. */
static int character_events(const psm_layout_key* key, unsigned level, unsigned before, psm_scan out[PSM_MAX_SCANS]) {
  const uint32_t lshift = 0x2a, rshift = 0x36, altgr = 0x38 | KBDEXT;
  unsigned shifts = before & PSM_HELD_SHIFT;
  int need_shift = (level & PSM_LEVEL_SHIFT) != 0, need_altgr = (level & PSM_LEVEL_ALTGR) != 0;
  int has_altgr = (before & PSM_HELD_ALTGR) != 0;
  int press_shift = need_shift && !shifts;
  unsigned drop_shifts = !need_shift && !(key->keeps_shift && level == 0) ? shifts : 0;
  int press_altgr = need_altgr && !has_altgr, drop_altgr = !need_altgr && has_altgr;
  int n = 0;
  if (press_shift) out[n++] = scan(lshift, 1);
  if (drop_shifts & 0x01) out[n++] = scan(lshift, 0);
  if (drop_shifts & 0x02) out[n++] = scan(rshift, 0);
  if (press_altgr) out[n++] = scan(altgr, 1);
  if (drop_altgr) out[n++] = scan(altgr, 0);
  out[n++] = scan(key->code, 1);
  if (drop_altgr) out[n++] = scan(altgr, 1);
  if (press_altgr) out[n++] = scan(altgr, 0);
  if (drop_shifts & 0x02) out[n++] = scan(rshift, 1);
  if (drop_shifts & 0x01) out[n++] = scan(lshift, 1);
  if (press_shift) out[n++] = scan(lshift, 0);
  return n;
}

int psm_key_events(const psm_layout* layout, uint32_t keysym, int down, unsigned* held,
                   psm_scan out[PSM_MAX_SCANS]) {
  psm_key key = psm_keysym_to_vk(keysym);
  unsigned before = *held, bit = psm_held_bit(keysym);
  if (bit) *held = down ? (*held | bit) : (*held & ~bit);
  if (!key.vk) {
    /* A character: its key on the layout, or (no key has it, or only a dead key) a Unicode event. */
    unsigned level = 0;
    uint32_t cp = psm_keysym_to_unicode(keysym);
    const psm_layout_key* k = cp ? psm_layout_find(layout ? layout : &psm_layout_us, cp, &level) : NULL;
    if (!k) return PSM_KEYS_UNICODE;
    if (!down) {
      out[0] = scan(k->code, 0);
      return 1;
    }
    return character_events(k, level, before, out);
  }
  uint32_t code = psm_key_scancode(key);
  if (key.vk == VK_PAUSE) {
    /* Pause has no scancode of its own: a keyboard sends E1 1D 45 on press and nothing on release,
     * and RDP carries it as Ctrl (KBD_FLAGS_EXTENDED1) + NumLock. With Ctrl held the key is Break,
     * E0 46 (winpr's VK_PAUSE under KBDEXT), released as such even if Ctrl went up first. */
    if (down && !(before & PSM_HELD_CTRL)) return PSM_KEYS_PAUSE;
    if (!down && !(before & PSM_HELD_BREAK)) return 0;
    *held = down ? (*held | PSM_HELD_BREAK) : (*held & ~PSM_HELD_BREAK);
    out[0] = scan(code, down);
    return 1;
  }
  if (!code) return 0;
  out[0] = scan(code, down);
  return 1;
}
