/* Tests of the keyboard layouts (layouts.c, keymap.c): each layout's own characters typed with the
 * keys and modifiers that have them there, written out here as set-1 make codes (not read from the
 * tables), the layouts' names and Windows ids, Shift and AltGr pressed or let go around a character
 * as the layout needs, and through the dispatcher, a session's layout deciding the keys. */
#include <stdio.h>
#include <string.h>

#include <freerdp/input.h>

#include "../keymap.h"
#include "fake-rdp.h"
#include "keymap-test.h"

static int failures, checks;
#define CHECK(cond, ...)                                                         \
  do {                                                                           \
    checks++;                                                                    \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                              \
      fputc('\n', stderr);                                                       \
      failures++;                                                                \
    }                                                                            \
  } while (0)

#define D KBD_FLAGS_DOWN
#define R KBD_FLAGS_RELEASE
#define X KBD_FLAGS_EXTENDED
/* Events as {flags, code}; a sequence ends with {0, 0}. */
#define SHIFT_DOWN {D, 0x2a}
#define SHIFT_UP {R, 0x2a}
#define ALTGR_DOWN {D | X, 0x38}
#define ALTGR_UP {R | X, 0x38}
#define END {0, 0}

typedef struct {
  uint32_t keysym;
  unsigned held; /* PSM_HELD_* bits down before the key */
  uint16_t want[PSM_MAX_SCANS + 1][2];
} char_case;

static void check_case(const psm_layout* layout, const char_case* c) {
  psm_scan out[PSM_MAX_SCANS];
  unsigned held = c->held;
  int n = psm_key_events(layout, c->keysym, 1, &held, out);
  int want = 0;
  while (c->want[want][0]) want++;
  CHECK(n == want, "%s: U+%04x (held 0x%x): %d events, want %d", layout->name, c->keysym, c->held, n, want);
  for (int i = 0; i < n && i < want; i++)
    CHECK(out[i].flags == c->want[i][0] && out[i].code == c->want[i][1],
          "%s: U+%04x: event %d is flags 0x%04x code 0x%02x, want 0x%04x 0x%02x", layout->name, c->keysym, i,
          out[i].flags, out[i].code, c->want[i][0], c->want[i][1]);
  /* The release is the key alone, whatever was pressed around it. */
  if (want > 0) {
    n = psm_key_events(layout, c->keysym, 0, &held, out);
    uint16_t key = 0;
    for (int i = 0; i < want; i++)
      if (c->want[i][1] != 0x2a && c->want[i][1] != 0x36 && !(c->want[i][0] & X)) key = c->want[i][1];
    CHECK(n == 1 && out[0].flags == R && out[0].code == key, "%s: U+%04x released as 0x%02x", layout->name,
          c->keysym, key);
  }
}

static void check_cases(const char* name, const char_case* cases, size_t count) {
  const psm_layout* layout = psm_layout_named(name);
  CHECK(layout != NULL, "layout %s", name);
  if (!layout) return;
  for (size_t i = 0; i < count; i++) check_case(layout, &cases[i]);
}
#define CASES(name, cases) check_cases(name, cases, sizeof cases / sizeof cases[0])

/* Where the layouts differ from US English (and what stays where it is). */
static void test_layout_characters(void) {
  const char_case us[] = {
      {'z', 0, {{D, 0x2c}, END}},        {'y', 0, {{D, 0x15}, END}},
      {'a', 0, {{D, 0x1e}, END}},        {'q', 0, {{D, 0x10}, END}},
      {'@', 0, {SHIFT_DOWN, {D, 0x03}, SHIFT_UP, END}},
      {'"', 0, {SHIFT_DOWN, {D, 0x28}, SHIFT_UP, END}},
      {'#', 0, {SHIFT_DOWN, {D, 0x04}, SHIFT_UP, END}},
      {'\\', 0, {{D, 0x2b}, END}},       {'<', 0, {SHIFT_DOWN, {D, 0x33}, SHIFT_UP, END}},
  };
  CASES("en-us", us);
  const char_case uk[] = {
      {0xa3, 0, {SHIFT_DOWN, {D, 0x04}, SHIFT_UP, END}}, /* £: Shift+3 */
      {'@', 0, {SHIFT_DOWN, {D, 0x28}, SHIFT_UP, END}},  /* Shift+' */
      {'"', 0, {SHIFT_DOWN, {D, 0x03}, SHIFT_UP, END}},  /* Shift+2 */
      {'#', 0, {{D, 0x2b}, END}},                        /* the key left of Enter */
      {'~', 0, {SHIFT_DOWN, {D, 0x2b}, SHIFT_UP, END}},
      {'\\', 0, {{D, 0x56}, END}}, /* the ISO key */
      {'|', 0, {SHIFT_DOWN, {D, 0x56}, SHIFT_UP, END}},
      {0xac, 0, {SHIFT_DOWN, {D, 0x29}, SHIFT_UP, END}},     /* ¬ */
      {0x10020ac, 0, {ALTGR_DOWN, {D, 0x05}, ALTGR_UP, END}}, /* €: AltGr+4 */
      {'z', 0, {{D, 0x2c}, END}},
  };
  CASES("en-gb", uk);
  const char_case de[] = {
      {'z', 0, {{D, 0x15}, END}}, /* QWERTZ */
      {'y', 0, {{D, 0x2c}, END}},
      {'Z', 0, {SHIFT_DOWN, {D, 0x15}, SHIFT_UP, END}},
      {0xdf, 0, {{D, 0x0c}, END}}, /* ß */
      {0xe4, 0, {{D, 0x28}, END}}, /* ä */
      {0xf6, 0, {{D, 0x27}, END}}, /* ö */
      {0xfc, 0, {{D, 0x1a}, END}}, /* ü */
      {0xc4, 0, {SHIFT_DOWN, {D, 0x28}, SHIFT_UP, END}},
      {'@', 0, {ALTGR_DOWN, {D, 0x10}, ALTGR_UP, END}}, /* AltGr+Q */
      {'@', PSM_HELD_ALTGR, {{D, 0x10}, END}},          /* AltGr already held */
      {0x10020ac, 0, {ALTGR_DOWN, {D, 0x12}, ALTGR_UP, END}}, /* €: AltGr+E */
      {'/', 0, {SHIFT_DOWN, {D, 0x08}, SHIFT_UP, END}},       /* Shift+7 */
      {'{', 0, {ALTGR_DOWN, {D, 0x08}, ALTGR_UP, END}},
      {'\\', 0, {ALTGR_DOWN, {D, 0x0c}, ALTGR_UP, END}},
      {'~', 0, {ALTGR_DOWN, {D, 0x1b}, ALTGR_UP, END}},
      {'<', 0, {{D, 0x56}, END}},
      {'|', 0, {ALTGR_DOWN, {D, 0x56}, ALTGR_UP, END}},
      {'-', 0, {{D, 0x35}, END}},
      {0xb5, 0, {ALTGR_DOWN, {D, 0x32}, ALTGR_UP, END}}, /* µ */
  };
  CASES("de-de", de);
  const char_case fr[] = {
      {'a', 0, {{D, 0x10}, END}}, /* AZERTY */
      {'q', 0, {{D, 0x1e}, END}},
      {'z', 0, {{D, 0x11}, END}},
      {'w', 0, {{D, 0x2c}, END}},
      {'m', 0, {{D, 0x27}, END}},
      {0xe9, 0, {{D, 0x03}, END}}, /* é */
      {0xe8, 0, {{D, 0x08}, END}}, /* è */
      {0xe7, 0, {{D, 0x0a}, END}}, /* ç */
      {0xe0, 0, {{D, 0x0b}, END}}, /* à */
      {0xf9, 0, {{D, 0x28}, END}}, /* ù */
      {'1', 0, {SHIFT_DOWN, {D, 0x02}, SHIFT_UP, END}}, /* digits on Shift */
      {'&', 0, {{D, 0x02}, END}},
      {'@', 0, {ALTGR_DOWN, {D, 0x0b}, ALTGR_UP, END}},
      {'^', 0, {ALTGR_DOWN, {D, 0x0a}, ALTGR_UP, END}}, /* not the dead key */
      {'!', 0, {{D, 0x35}, END}},
      {0xb2, 0, {{D, 0x29}, END}}, /* ² */
  };
  CASES("fr-fr", fr);
}

/* What a layout has only as a dead key, or not at all, goes as a Unicode event. */
static void test_unicode_fallback(void) {
  psm_scan out[PSM_MAX_SCANS];
  const struct {
    const char* layout;
    uint32_t keysym;
  } cases[] = {
      {"de-de", '^'}, {"de-de", '`'},   {"de-de", 0xb4}, /* ´ */
      {"fr-fr", '~'}, {"fr-fr", '`'},   {"fr-fr", 0xa8}, /* ¨ */
      {"en-us", 0xe9}, {"en-us", 0xa3}, {"en-gb", 0xe4}, {"en-us", 0x10020ac},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    unsigned held = 0;
    CHECK(psm_key_events(psm_layout_named(cases[i].layout), cases[i].keysym, 1, &held, out) == PSM_KEYS_UNICODE,
          "%s: U+%04x is a Unicode event", cases[i].layout, cases[i].keysym);
  }
}

/* Modifiers the browser holds that the layout's key does not want are let go around it, and pressed
 * again after; letters and Space keep Shift; Alt_R is never let go. */
static void test_held_modifiers(void) {
  const unsigned LS = 0x01, RS = 0x02;
  const char_case us[] = {
      /* `/` typed with Shift on a German keyboard: the US key has it unshifted. */
      {'/', LS, {SHIFT_UP, {D, 0x35}, SHIFT_DOWN, END}},
      {'/', LS | RS, {SHIFT_UP, {R, 0x36}, {D, 0x35}, {D, 0x36}, SHIFT_DOWN, END}},
      /* `@` typed with AltGr on a German keyboard: Shift+2 on US, AltGr let go around it. */
      {'@', PSM_HELD_ALTGR, {SHIFT_DOWN, ALTGR_UP, {D, 0x03}, ALTGR_DOWN, SHIFT_UP, END}},
      {'a', LS, {{D, 0x1e}, END}}, /* Caps Lock on: the desktop's Caps Lock undoes the Shift */
      {' ', LS, {{D, 0x39}, END}}, /* Shift+Space */
      {'!', RS, {{D, 0x02}, END}},
  };
  CASES("en-us", us);
  const char_case de[] = {
      /* Shift+AltGr would type nothing here: the Shift goes for the AltGr character. */
      {'@', LS | PSM_HELD_ALTGR, {SHIFT_UP, {D, 0x10}, SHIFT_DOWN, END}},
  };
  CASES("de-de", de);
  /* Alt_R (0xffea) is not AltGr: Alt+q stays Alt+q. */
  psm_scan out[PSM_MAX_SCANS];
  unsigned held = 0;
  CHECK(psm_key_events(&psm_layout_us, 0xffea, 1, &held, out) == 1 && held == 0, "Alt_R sets no held bit");
  CHECK(psm_key_events(&psm_layout_us, 0xfe03, 1, &held, out) == 1 && held == PSM_HELD_ALTGR, "AltGr is held");
  CHECK(psm_key_events(&psm_layout_us, 0xfe03, 0, &held, out) == 1 && held == 0, "AltGr let go");
}

/* The names the connector sends (protocol/keyboard-layout.ts) and the ids announced to the server. */
static void test_names(void) {
  const struct {
    const char* name;
    uint32_t klid;
  } known[] = {{"en-us", 0x409}, {"en-gb", 0x809}, {"de-de", 0x407}, {"fr-fr", 0x40c}};
  CHECK(psm_layout_count == 4, "%zu layouts", psm_layout_count);
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
    const psm_layout* l = psm_layout_named(known[i].name);
    CHECK(l && l->klid == known[i].klid, "%s is 0x%x", known[i].name, l ? l->klid : 0);
  }
  const char* unknown[] = {"", "EN-US", "en", "de", "en-us ", "de-ch", "fr-fr\n"};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
    CHECK(psm_layout_named(unknown[i]) == NULL, "'%s' is no layout", unknown[i]);
  CHECK(psm_layout_named("en-us") == &psm_layout_us, "US is the default layout");
}

/* Each layout: no key twice, no character twice, and every key a character key (not extended). */
static void test_tables(void) {
  for (size_t l = 0; l < psm_layout_count; l++) {
    const psm_layout* layout = psm_layouts[l];
    for (size_t i = 0; i < layout->nkeys; i++) {
      const psm_layout_key* k = &layout->keys[i];
      CHECK(k->code >= 0x02 && k->code <= 0x56 && k->code != 0x1c && k->code != 0x1d && k->code != 0x2a &&
                k->code != 0x36 && k->code != 0x38 && k->code != 0x3a && (k->code < 0x3b || k->code == 0x56),
            "%s: 0x%02x is a character key", layout->name, k->code);
      for (size_t j = 0; j < i; j++) CHECK(layout->keys[j].code != k->code, "%s: 0x%02x twice", layout->name, k->code);
      for (unsigned a = 0; a < 4; a++) {
        if (!k->ch[a]) continue;
        unsigned level = 9;
        const psm_layout_key* found = psm_layout_find(layout, k->ch[a], &level);
        CHECK(found == k && level == a, "%s: U+%04x is on more than one key or level", layout->name, k->ch[a]);
      }
    }
    /* Every printable ASCII character but those a layout has only as dead keys. */
    for (uint32_t c = 0x20; c <= 0x7e; c++) {
      int dead = (strcmp(layout->name, "de-de") == 0 && (c == '^' || c == '`')) ||
                 (strcmp(layout->name, "fr-fr") == 0 && (c == '~' || c == '`'));
      unsigned level;
      CHECK((psm_layout_find(layout, c, &level) != NULL) == !dead, "%s: '%c'", layout->name, (char)c);
    }
  }
}

/* The session's layout decides: `z` on a German desktop is the key a US keyboard has Y on. */
static void test_dispatch(void) {
  psm_bridge* b = fake_bridge(0, 0);
  b->layout = psm_layout_named("de-de");
  guac_reader* r = calloc(1, sizeof *r);
  const char* keys = "3.key,3.122,1.1;3.key,3.122,1.0;3.key,2.64,1.1;3.key,2.64,1.0;";
  guac_reader_feed(r, keys, strlen(keys));
  guac_instruction in;
  while (guac_reader_next(r, &in) == 1) psm_dispatch(b, &in);
  const uint16_t want[][2] = {{D, 0x15}, {R, 0x15}, {D | X, 0x38}, {D, 0x10}, {R | X, 0x38}, {R, 0x10}};
  CHECK(fake.keys == 6, "%d events", fake.keys);
  for (int i = 0; i < 6 && i < fake.keys; i++)
    CHECK(fake.key_flags[i] == want[i][0] && fake.key_codes[i] == want[i][1], "event %d: 0x%04x 0x%02x", i,
          fake.key_flags[i], fake.key_codes[i]);
  free(r);
  fake_bridge_free(b);
}

int layout_tests(void) {
  failures = checks = 0;
  test_layout_characters();
  test_unicode_fallback();
  test_held_modifiers();
  test_names();
  test_tables();
  test_dispatch();
  printf("layout-test: %d checks, %d failed\n", checks, failures);
  return failures;
}
