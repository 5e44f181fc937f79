/* X11 keysyms to Windows virtual keys (US layout for printable ASCII), and the RDP keyboard events a
 * browser's `key` instruction becomes. FreeRDP 2 has no keysym API, so the keysym table is ours;
 * scancodes come from winpr's table for the IBM enhanced (101/102-key) keyboard, looked up with KBDEXT
 * for the keys that carry the E0 prefix: winpr files those only under KBDEXT, and a lookup without it
 * answers 0 (issue 21: arrows, Home, End, Delete, the Windows keys, right Ctrl/Alt were lost). */
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

/* Printable ASCII 0x20..0x7e: the VK of the key that types it on a US layout, and whether Shift is needed. */
static const char* const shifted_chars = "~!@#$%^&*()_+{}|:\"<>?";
static const char* const unshifted_of = "`1234567890-=[]\\;',./";

static uint32_t vk_of_unshifted(char c) {
  if (c >= 'a' && c <= 'z') return (uint32_t)('A' + (c - 'a'));
  if (c >= '0' && c <= '9') return (uint32_t)c;
  switch (c) {
    case ' ': return VK_SPACE;
    case '`': return VK_OEM_3;
    case '-': return VK_OEM_MINUS;
    case '=': return VK_OEM_PLUS;
    case '[': return VK_OEM_4;
    case ']': return VK_OEM_6;
    case '\\': return VK_OEM_5;
    case ';': return VK_OEM_1;
    case '\'': return VK_OEM_7;
    case ',': return VK_OEM_COMMA;
    case '.': return VK_OEM_PERIOD;
    case '/': return VK_OEM_2;
    default: return 0;
  }
}

psm_key psm_keysym_to_vk(uint32_t keysym) {
  psm_key key = {0, 0, 0};
  if (keysym >= 0x20 && keysym <= 0x7e) {
    char c = (char)keysym;
    if (c >= 'A' && c <= 'Z') {
      key.vk = (uint32_t)c;
      key.shifted = 1;
      return key;
    }
    for (int i = 0; shifted_chars[i]; i++)
      if (shifted_chars[i] == c) {
        key.vk = vk_of_unshifted(unshifted_of[i]);
        key.shifted = 1;
        return key;
      }
    key.vk = vk_of_unshifted(c);
    return key;
  }
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

int psm_key_events(uint32_t keysym, int down, unsigned* held, psm_scan out[PSM_MAX_SCANS]) {
  psm_key key = psm_keysym_to_vk(keysym);
  unsigned before = *held, bit = psm_held_bit(keysym);
  if (bit) *held = down ? (*held | bit) : (*held & ~bit);
  if (!key.vk) return PSM_KEYS_UNICODE;
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
  int n = 0;
  /* A shifted character typed without Shift held (pasted text, on-screen keys) gets Shift around it. */
  int wrap = down && key.shifted && !(before & PSM_HELD_SHIFT);
  uint32_t shift = GetVirtualScanCodeFromVirtualKeyCode(VK_LSHIFT, KBD_TYPE_IBM_ENHANCED);
  if (wrap) out[n++] = scan(shift, 1);
  out[n++] = scan(code, down);
  if (wrap) out[n++] = scan(shift, 0);
  return n;
}
