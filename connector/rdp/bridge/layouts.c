/* The keyboard layouts a session may announce, as the characters on each key (pure data): the bridge
 * types a character the browser reports with the key that has it on the session's layout. Only what
 * Windows and X (xrdp's xkb layouts) agree on is listed: dead keys, and AltGr characters that one of
 * them has as a dead key or not at all, are left out and go as Unicode events (docs/rdp.md). */
#include <string.h>

#include "keymap.h"

/* A letter: its upper case on Shift (ASCII and Latin-1 lower case is 0x20 above upper case). */
#define LETTER(code, c) {code, 1, {c, (c) - 0x20, 0, 0}}
#define LETTER_ALTGR(code, c, altgr) {code, 1, {c, (c) - 0x20, altgr, 0}}
#define KEY(code, base, shift) {code, 0, {base, shift, 0, 0}}
#define KEY_ALTGR(code, base, shift, altgr) {code, 0, {base, shift, altgr, 0}}
#define SPACE {0x39, 1, {' ', 0, 0, 0}}

/* Rows of a 105-key keyboard: TLDE 29, AE01-AE12 02-0D, AD01-AD12 10-1B, AC01-AC11 1E-28, BKSL 2B,
 * LSGT 56 (the ISO key left of Z), AB01-AB10 2C-35, Space 39. */

/* The letters of a QWERTY keyboard's three rows, shared by US and UK. */
#define QWERTY_LETTERS                                                                                    \
  LETTER(0x10, 'q'), LETTER(0x11, 'w'), LETTER(0x12, 'e'), LETTER(0x13, 'r'), LETTER(0x14, 't'),          \
      LETTER(0x15, 'y'), LETTER(0x16, 'u'), LETTER(0x17, 'i'), LETTER(0x18, 'o'), LETTER(0x19, 'p'),      \
      LETTER(0x1e, 'a'), LETTER(0x1f, 's'), LETTER(0x20, 'd'), LETTER(0x21, 'f'), LETTER(0x22, 'g'),      \
      LETTER(0x23, 'h'), LETTER(0x24, 'j'), LETTER(0x25, 'k'), LETTER(0x26, 'l'), LETTER(0x2c, 'z'),      \
      LETTER(0x2d, 'x'), LETTER(0x2e, 'c'), LETTER(0x2f, 'v'), LETTER(0x30, 'b'), LETTER(0x31, 'n'),      \
      LETTER(0x32, 'm')

/* US English (0x409). Its ISO key is left out: Windows has `\|` there, X `<>`. */
static const psm_layout_key us_keys[] = {
    KEY(0x29, '`', '~'),  KEY(0x02, '1', '!'),  KEY(0x03, '2', '@'),  KEY(0x04, '3', '#'),  KEY(0x05, '4', '$'),
    KEY(0x06, '5', '%'),  KEY(0x07, '6', '^'),  KEY(0x08, '7', '&'),  KEY(0x09, '8', '*'),  KEY(0x0a, '9', '('),
    KEY(0x0b, '0', ')'),  KEY(0x0c, '-', '_'),  KEY(0x0d, '=', '+'),  KEY(0x1a, '[', '{'),  KEY(0x1b, ']', '}'),
    KEY(0x2b, '\\', '|'), KEY(0x27, ';', ':'),  KEY(0x28, '\'', '"'), KEY(0x33, ',', '<'),  KEY(0x34, '.', '>'),
    KEY(0x35, '/', '?'),  QWERTY_LETTERS,       SPACE,
};

/* English, United Kingdom (0x809). */
static const psm_layout_key uk_keys[] = {
    KEY(0x29, '`', 0xac), /* ¬ */
    KEY(0x02, '1', '!'),
    KEY(0x03, '2', '"'),
    KEY(0x04, '3', 0xa3), /* £ */
    KEY_ALTGR(0x05, '4', '$', 0x20ac), /* € */
    KEY(0x06, '5', '%'),
    KEY(0x07, '6', '^'),
    KEY(0x08, '7', '&'),
    KEY(0x09, '8', '*'),
    KEY(0x0a, '9', '('),
    KEY(0x0b, '0', ')'),
    KEY(0x0c, '-', '_'),
    KEY(0x0d, '=', '+'),
    KEY(0x1a, '[', '{'),
    KEY(0x1b, ']', '}'),
    KEY(0x27, ';', ':'),
    KEY(0x28, '\'', '@'),
    KEY(0x2b, '#', '~'),
    KEY(0x56, '\\', '|'),
    KEY(0x33, ',', '<'),
    KEY(0x34, '.', '>'),
    KEY(0x35, '/', '?'),
    QWERTY_LETTERS,
    SPACE,
};

/* German, Germany (0x407): QWERTZ. `^` (TLDE) and the accents (AE12) are dead keys. */
static const psm_layout_key de_keys[] = {
    KEY(0x29, 0, 0xb0), /* dead ^, ° */
    KEY(0x02, '1', '!'),
    KEY_ALTGR(0x03, '2', '"', 0xb2), /* ² */
    KEY_ALTGR(0x04, '3', 0xa7, 0xb3), /* §, ³ */
    KEY(0x05, '4', '$'),
    KEY(0x06, '5', '%'),
    KEY(0x07, '6', '&'),
    KEY_ALTGR(0x08, '7', '/', '{'),
    KEY_ALTGR(0x09, '8', '(', '['),
    KEY_ALTGR(0x0a, '9', ')', ']'),
    KEY_ALTGR(0x0b, '0', '=', '}'),
    KEY_ALTGR(0x0c, 0xdf, '?', '\\'), /* ß */
    LETTER_ALTGR(0x10, 'q', '@'),
    LETTER(0x11, 'w'),
    LETTER_ALTGR(0x12, 'e', 0x20ac), /* € */
    LETTER(0x13, 'r'),
    LETTER(0x14, 't'),
    LETTER(0x15, 'z'),
    LETTER(0x16, 'u'),
    LETTER(0x17, 'i'),
    LETTER(0x18, 'o'),
    LETTER(0x19, 'p'),
    LETTER(0x1a, 0xfc), /* ü */
    KEY_ALTGR(0x1b, '+', '*', '~'),
    LETTER(0x1e, 'a'),
    LETTER(0x1f, 's'),
    LETTER(0x20, 'd'),
    LETTER(0x21, 'f'),
    LETTER(0x22, 'g'),
    LETTER(0x23, 'h'),
    LETTER(0x24, 'j'),
    LETTER(0x25, 'k'),
    LETTER(0x26, 'l'),
    LETTER(0x27, 0xf6), /* ö */
    LETTER(0x28, 0xe4), /* ä */
    KEY(0x2b, '#', '\''),
    KEY_ALTGR(0x56, '<', '>', '|'),
    LETTER(0x2c, 'y'),
    LETTER(0x2d, 'x'),
    LETTER(0x2e, 'c'),
    LETTER(0x2f, 'v'),
    LETTER(0x30, 'b'),
    LETTER(0x31, 'n'),
    LETTER_ALTGR(0x32, 'm', 0xb5), /* µ */
    KEY(0x33, ',', ';'),
    KEY(0x34, '.', ':'),
    KEY(0x35, '-', '_'),
    SPACE,
};

/* French, France (0x40C): AZERTY, digits on Shift. `^` and `¨` (AD11) are dead keys, and so are `~`
 * (AltGr+2) and `` ` `` (AltGr+7) on Windows, but not in X: those four go as Unicode events. */
static const psm_layout_key fr_keys[] = {
    KEY(0x29, 0xb2, 0), /* ² */
    KEY(0x02, '&', '1'),
    KEY(0x03, 0xe9, '2'), /* é */
    KEY_ALTGR(0x04, '"', '3', '#'),
    KEY_ALTGR(0x05, '\'', '4', '{'),
    KEY_ALTGR(0x06, '(', '5', '['),
    KEY_ALTGR(0x07, '-', '6', '|'),
    KEY(0x08, 0xe8, '7'), /* è */
    KEY_ALTGR(0x09, '_', '8', '\\'),
    KEY_ALTGR(0x0a, 0xe7, '9', '^'), /* ç */
    KEY_ALTGR(0x0b, 0xe0, '0', '@'), /* à */
    KEY_ALTGR(0x0c, ')', 0xb0, ']'), /* ° */
    KEY_ALTGR(0x0d, '=', '+', '}'),
    LETTER(0x10, 'a'),
    LETTER(0x11, 'z'),
    LETTER_ALTGR(0x12, 'e', 0x20ac), /* € */
    LETTER(0x13, 'r'),
    LETTER(0x14, 't'),
    LETTER(0x15, 'y'),
    LETTER(0x16, 'u'),
    LETTER(0x17, 'i'),
    LETTER(0x18, 'o'),
    LETTER(0x19, 'p'),
    KEY_ALTGR(0x1b, '$', 0xa3, 0xa4), /* £, ¤ */
    LETTER(0x1e, 'q'),
    LETTER(0x1f, 's'),
    LETTER(0x20, 'd'),
    LETTER(0x21, 'f'),
    LETTER(0x22, 'g'),
    LETTER(0x23, 'h'),
    LETTER(0x24, 'j'),
    LETTER(0x25, 'k'),
    LETTER(0x26, 'l'),
    LETTER(0x27, 'm'),
    KEY(0x28, 0xf9, '%'), /* ù */
    KEY(0x2b, '*', 0xb5), /* µ */
    KEY(0x56, '<', '>'),
    LETTER(0x2c, 'w'),
    LETTER(0x2d, 'x'),
    LETTER(0x2e, 'c'),
    LETTER(0x2f, 'v'),
    LETTER(0x30, 'b'),
    LETTER(0x31, 'n'),
    KEY(0x32, ',', '?'),
    KEY(0x33, ';', '.'),
    KEY(0x34, ':', '/'),
    KEY(0x35, '!', 0xa7), /* § */
    SPACE,
};

#define LAYOUT(name, klid, keys) {name, klid, keys, sizeof keys / sizeof keys[0]}

const psm_layout psm_layout_us = LAYOUT("en-us", 0x0409, us_keys);
static const psm_layout uk = LAYOUT("en-gb", 0x0809, uk_keys);
static const psm_layout de = LAYOUT("de-de", 0x0407, de_keys);
static const psm_layout fr = LAYOUT("fr-fr", 0x040c, fr_keys);

const psm_layout* const psm_layouts[] = {&psm_layout_us, &uk, &de, &fr};
const size_t psm_layout_count = sizeof psm_layouts / sizeof psm_layouts[0];

const psm_layout* psm_layout_named(const char* name) {
  for (size_t i = 0; i < psm_layout_count; i++)
    if (strcmp(psm_layouts[i]->name, name) == 0) return psm_layouts[i];
  return NULL;
}

const psm_layout_key* psm_layout_find(const psm_layout* layout, uint32_t cp, unsigned* level) {
  if (cp == 0) return NULL;
  for (unsigned l = 0; l < 4; l++)
    for (size_t i = 0; i < layout->nkeys; i++)
      if (layout->keys[i].ch[l] == cp) {
        *level = l;
        return &layout->keys[i];
      }
  return NULL;
}
