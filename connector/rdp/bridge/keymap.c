/* X11 keysyms to Windows virtual keys (US layout for printable ASCII). FreeRDP 2 has no keysym
 * API, so this table is ours; scancodes then come from winpr's VK table. */
#include "keymap.h"

#include <winpr/input.h>

typedef struct {
  uint32_t keysym;
  uint32_t vk;
  int extended;
} entry;

static const entry special[] = {
    {0xff08, VK_BACK, 0},     {0xff09, VK_TAB, 0},      {0xff0d, VK_RETURN, 0},   {0xff13, VK_PAUSE, 0},
    {0xff14, VK_SCROLL, 0},   {0xff1b, VK_ESCAPE, 0},   {0xff50, VK_HOME, 0},     {0xff51, VK_LEFT, 0},
    {0xff52, VK_UP, 0},       {0xff53, VK_RIGHT, 0},    {0xff54, VK_DOWN, 0},     {0xff55, VK_PRIOR, 0},
    {0xff56, VK_NEXT, 0},     {0xff57, VK_END, 0},      {0xff61, VK_SNAPSHOT, 0}, {0xff63, VK_INSERT, 0},
    {0xff67, VK_APPS, 0},     {0xff7f, VK_NUMLOCK, 0},  {0xff8d, VK_RETURN, 1},   {0xffaa, VK_MULTIPLY, 0},
    {0xffab, VK_ADD, 0},      {0xffad, VK_SUBTRACT, 0}, {0xffae, VK_DECIMAL, 0},  {0xffaf, VK_DIVIDE, 1},
    {0xffe1, VK_LSHIFT, 0},   {0xffe2, VK_RSHIFT, 0},   {0xffe3, VK_LCONTROL, 0}, {0xffe4, VK_RCONTROL, 1},
    {0xffe5, VK_CAPITAL, 0},  {0xffe7, VK_LWIN, 1},     {0xffe8, VK_RWIN, 1},     {0xffe9, VK_LMENU, 0},
    {0xffea, VK_RMENU, 1},    {0xffeb, VK_LWIN, 1},     {0xffec, VK_RWIN, 1},     {0xfe03, VK_RMENU, 1},
    {0xffff, VK_DELETE, 1},
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
