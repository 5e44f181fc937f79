/* Tests of keysym -> RDP scancode (keymap.c, layouts.c) against the PC scancode set 1 written out
 * here, not taken from winpr: every key of a full 105-key (ISO) keyboard with the keysym a browser
 * sends for it, each E0-prefixed key with KBD_FLAGS_EXTENDED, Pause as its own sequence, Shift around
 * shifted characters; each keyboard layout's own characters with the keys and modifiers that type
 * them there; and through the dispatcher, the desktop page's Ctrl-Alt-Del and Windows-key buttons. */
#include "keymap-test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <freerdp/input.h>

#include "../keymap.h"
#include "fake-rdp.h"

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

typedef struct {
  const char* name;
  uint32_t keysym; /* what guacamole-common-js sends for the key (US layout, no modifier held) */
  uint16_t code;   /* set-1 make code */
  int ext;         /* the key sends the E0 prefix */
} key_case;

#define E0 1
/* A 105-key keyboard row by row, but for Pause (test_pause) and the ISO key left of Z (test_printable). */
static const key_case keyboard[] = {
    {"Escape", 0xff1b, 0x01, 0},     {"F1", 0xffbe, 0x3b, 0},          {"F2", 0xffbf, 0x3c, 0},
    {"F3", 0xffc0, 0x3d, 0},         {"F4", 0xffc1, 0x3e, 0},          {"F5", 0xffc2, 0x3f, 0},
    {"F6", 0xffc3, 0x40, 0},         {"F7", 0xffc4, 0x41, 0},          {"F8", 0xffc5, 0x42, 0},
    {"F9", 0xffc6, 0x43, 0},         {"F10", 0xffc7, 0x44, 0},         {"F11", 0xffc8, 0x57, 0},
    {"F12", 0xffc9, 0x58, 0},        {"Print Screen", 0xff61, 0x37, E0}, {"Scroll Lock", 0xff14, 0x46, 0},
    /* Pause: tested below */
    {"`", '`', 0x29, 0},             {"1", '1', 0x02, 0},              {"2", '2', 0x03, 0},
    {"3", '3', 0x04, 0},             {"4", '4', 0x05, 0},              {"5", '5', 0x06, 0},
    {"6", '6', 0x07, 0},             {"7", '7', 0x08, 0},              {"8", '8', 0x09, 0},
    {"9", '9', 0x0a, 0},             {"0", '0', 0x0b, 0},              {"-", '-', 0x0c, 0},
    {"=", '=', 0x0d, 0},             {"Backspace", 0xff08, 0x0e, 0},   {"Tab", 0xff09, 0x0f, 0},
    {"q", 'q', 0x10, 0},             {"w", 'w', 0x11, 0},              {"e", 'e', 0x12, 0},
    {"r", 'r', 0x13, 0},             {"t", 't', 0x14, 0},              {"y", 'y', 0x15, 0},
    {"u", 'u', 0x16, 0},             {"i", 'i', 0x17, 0},              {"o", 'o', 0x18, 0},
    {"p", 'p', 0x19, 0},             {"[", '[', 0x1a, 0},              {"]", ']', 0x1b, 0},
    {"Enter", 0xff0d, 0x1c, 0},      {"Caps Lock", 0xffe5, 0x3a, 0},   {"a", 'a', 0x1e, 0},
    {"s", 's', 0x1f, 0},             {"d", 'd', 0x20, 0},              {"f", 'f', 0x21, 0},
    {"g", 'g', 0x22, 0},             {"h", 'h', 0x23, 0},              {"j", 'j', 0x24, 0},
    {"k", 'k', 0x25, 0},             {"l", 'l', 0x26, 0},              {";", ';', 0x27, 0},
    {"'", '\'', 0x28, 0},            {"\\", '\\', 0x2b, 0},            {"Left Shift", 0xffe1, 0x2a, 0},
    {"z", 'z', 0x2c, 0},             {"x", 'x', 0x2d, 0},              {"c", 'c', 0x2e, 0},
    {"v", 'v', 0x2f, 0},             {"b", 'b', 0x30, 0},              {"n", 'n', 0x31, 0},
    {"m", 'm', 0x32, 0},             {",", ',', 0x33, 0},              {".", '.', 0x34, 0},
    {"/", '/', 0x35, 0},             {"Right Shift", 0xffe2, 0x36, 0}, {"Left Ctrl", 0xffe3, 0x1d, 0},
    {"Left Windows", 0xffe7, 0x5b, E0}, {"Left Alt", 0xffe9, 0x38, 0}, {"Space", ' ', 0x39, 0},
    {"AltGr", 0xfe03, 0x38, E0},     {"Right Windows", 0xffe8, 0x5c, E0}, {"Menu", 0xff67, 0x5d, E0},
    {"Right Ctrl", 0xffe4, 0x1d, E0}, {"Insert", 0xff63, 0x52, E0},   {"Home", 0xff50, 0x47, E0},
    {"Page Up", 0xff55, 0x49, E0},   {"Delete", 0xffff, 0x53, E0},     {"End", 0xff57, 0x4f, E0},
    {"Page Down", 0xff56, 0x51, E0}, {"Up", 0xff52, 0x48, E0},         {"Left", 0xff51, 0x4b, E0},
    {"Down", 0xff54, 0x50, E0},      {"Right", 0xff53, 0x4d, E0},      {"Num Lock", 0xff7f, 0x45, 0},
    {"KP /", 0xffaf, 0x35, E0},      {"KP *", 0xffaa, 0x37, 0},        {"KP -", 0xffad, 0x4a, 0},
    {"KP 7", 0xffb7, 0x47, 0},       {"KP 8", 0xffb8, 0x48, 0},        {"KP 9", 0xffb9, 0x49, 0},
    {"KP +", 0xffab, 0x4e, 0},       {"KP 4", 0xffb4, 0x4b, 0},        {"KP 5", 0xffb5, 0x4c, 0},
    {"KP 6", 0xffb6, 0x4d, 0},       {"KP 1", 0xffb1, 0x4f, 0},        {"KP 2", 0xffb2, 0x50, 0},
    {"KP 3", 0xffb3, 0x51, 0},       {"KP Enter", 0xff8d, 0x1c, E0},   {"KP 0", 0xffb0, 0x52, 0},
    {"KP .", 0xffae, 0x53, 0},
};

/* Other keysyms browsers and Guacamole clients send for those keys. */
static const key_case aliases[] = {
    {"Alt_R", 0xffea, 0x38, E0},      {"Super_L (the page's Windows key)", 0xffeb, 0x5b, E0},
    {"Super_R", 0xffec, 0x5c, E0},    {"Sys_Req", 0xff15, 0x54, 0},
    /* keypad with NumLock off: the keypad's own (not extended) keys */
    {"Clear (KP 5)", 0xff0b, 0x4c, 0}, {"KP_Home", 0xff95, 0x47, 0}, {"KP_Left", 0xff96, 0x4b, 0},
    {"KP_Up", 0xff97, 0x48, 0},       {"KP_Right", 0xff98, 0x4d, 0},  {"KP_Down", 0xff99, 0x50, 0},
    {"KP_Prior", 0xff9a, 0x49, 0},    {"KP_Next", 0xff9b, 0x51, 0},   {"KP_End", 0xff9c, 0x4f, 0},
    {"KP_Begin", 0xff9d, 0x4c, 0},    {"KP_Insert", 0xff9e, 0x52, 0}, {"KP_Delete", 0xff9f, 0x53, 0},
};

/* psm_key_events on a US layout with the keys in `held` down (a copy: the caller's state is not changed). */
static int events(uint32_t keysym, int down, unsigned held, psm_scan out[PSM_MAX_SCANS]) {
  return psm_key_events(&psm_layout_us, keysym, down, &held, out);
}

static void check_key(const key_case* k) {
  psm_scan out[PSM_MAX_SCANS];
  uint16_t ext = k->ext ? KBD_FLAGS_EXTENDED : 0;
  int n = events(k->keysym, 1, 0, out);
  CHECK(n == 1, "%s (0x%x): %d events on press", k->name, k->keysym, n);
  if (n == 1)
    CHECK(out[0].code == k->code && out[0].flags == (KBD_FLAGS_DOWN | ext), "%s: press is code 0x%02x flags 0x%04x",
          k->name, out[0].code, out[0].flags);
  n = events(k->keysym, 0, 0, out);
  CHECK(n == 1, "%s: %d events on release", k->name, n);
  if (n == 1)
    CHECK(out[0].code == k->code && out[0].flags == (KBD_FLAGS_RELEASE | ext),
          "%s: release is code 0x%02x flags 0x%04x", k->name, out[0].code, out[0].flags);
}

static void test_keyboard(void) {
  size_t count = sizeof keyboard / sizeof keyboard[0];
  /* With Pause (test_pause) and the ISO key (test_printable) these are the 105 keys. */
  CHECK(count == 103, "%zu keys in the table", count);
  for (size_t i = 0; i < count; i++) {
    check_key(&keyboard[i]);
    size_t same = i; /* every key is its own key on the wire */
    for (size_t j = 0; j < i; j++)
      if (keyboard[i].code == keyboard[j].code && keyboard[i].ext == keyboard[j].ext) same = j;
    CHECK(same == i, "%s and %s share a scancode", keyboard[i].name, keyboard[same].name);
  }
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) check_key(&aliases[i]);
}

/* Pause (0xff13): FreeRDP's pause event on press (Ctrl with KBD_FLAGS_EXTENDED1, NumLock), nothing
 * on release; with Ctrl held the key is Break, E0 46, released as Break whatever Ctrl did meanwhile. */
static void test_pause(void) {
  psm_scan out[PSM_MAX_SCANS];
  unsigned held = 0;
  CHECK(psm_key_events(&psm_layout_us, 0xff13, 1, &held, out) == PSM_KEYS_PAUSE && held == 0, "Pause press");
  CHECK(psm_key_events(&psm_layout_us, 0xffe4, 1, &held, out) == 1 && held == 0x08, "Right Ctrl down");
  CHECK(psm_key_events(&psm_layout_us, 0xff13, 0, &held, out) == 0, "Pause release sends nothing, Ctrl or not");
  CHECK(psm_key_events(&psm_layout_us, 0xff13, 1, &held, out) == 1 && out[0].code == 0x46 &&
            out[0].flags == (KBD_FLAGS_DOWN | KBD_FLAGS_EXTENDED) && (held & PSM_HELD_BREAK),
        "Ctrl+Pause is Break (E0 46)");
  CHECK(psm_key_events(&psm_layout_us, 0xffe4, 0, &held, out) == 1 && held == PSM_HELD_BREAK, "Right Ctrl up first");
  CHECK(psm_key_events(&psm_layout_us, 0xff13, 0, &held, out) == 1 && out[0].code == 0x46 &&
            out[0].flags == (KBD_FLAGS_RELEASE | KBD_FLAGS_EXTENDED) && held == 0,
        "Break released");
}

/* Printable ASCII: every character is a key; shifted ones get Left Shift around them unless a Shift
 * is held. The ISO key left of Z types characters that are on US keys (`<>` on DE/FR layouts, `\|`
 * on UK), which the browser reports as those characters: they go as the US keys. */
static void test_printable(void) {
  psm_scan out[PSM_MAX_SCANS];
  for (uint32_t c = 0x20; c <= 0x7e; c++) {
    unsigned level = 0;
    CHECK(psm_keysym_to_vk(c).vk == 0 && psm_layout_find(&psm_layout_us, c, &level) != NULL,
          "'%c' is a character on the US layout", (char)c);
    int n = events(c, 1, 0, out);
    if (level == PSM_LEVEL_SHIFT) {
      CHECK(n == 3 && out[0].code == 0x2a && out[0].flags == KBD_FLAGS_DOWN && out[2].code == 0x2a &&
                out[2].flags == KBD_FLAGS_RELEASE && out[1].code != 0 && out[1].flags == KBD_FLAGS_DOWN,
            "'%c' is Shift + key (%d events)", (char)c, n);
      CHECK(events(c, 1, psm_held_bit(0xffe2), out) == 1, "'%c' with Right Shift held", (char)c);
      CHECK(events(c, 0, 0, out) == 1 && out[0].flags == KBD_FLAGS_RELEASE, "'%c' released", (char)c);
    } else {
      CHECK(n == 1 && out[0].code != 0 && out[0].flags == KBD_FLAGS_DOWN, "'%c' is one key", (char)c);
    }
  }
  CHECK(events('<', 1, 0, out) == 3 && out[1].code == 0x33, "'<' is Shift + ,");
  CHECK(events('|', 1, 0, out) == 3 && out[1].code == 0x2b, "'|' is Shift + \\");
  /* No key on a US layout: typed as Unicode. */
  CHECK(events(0xe9, 1, 0, out) == PSM_KEYS_UNICODE, "e acute");
  CHECK(events(0x010020ac, 1, 0, out) == PSM_KEYS_UNICODE, "euro sign");
  CHECK(events(0xff6b, 1, 0, out) == PSM_KEYS_UNICODE && psm_keysym_to_unicode(0xff6b) == 0,
        "an unknown function keysym is nothing");
}

/* Through the dispatcher, as the desktop page's buttons send them (web/src/session/desktop-page.ts). */
static int dispatch_keys(psm_bridge* b, const char* stream) {
  guac_reader* r = calloc(1, sizeof *r); /* 64 KiB */
  if (!r) abort();
  CHECK(guac_reader_feed(r, stream, strlen(stream)) == strlen(stream), "the stream fits");
  guac_instruction in;
  int rc;
  while ((rc = guac_reader_next(r, &in)) == 1)
    if (psm_dispatch(b, &in) != 0) break;
  free(r);
  return rc;
}

static void expect_events(const char* what, const uint16_t (*want)[2], int n) {
  CHECK(fake.keys == n, "%s: %d events", what, fake.keys);
  for (int i = 0; i < n && i < fake.keys && i < FAKE_KEY_LOG; i++)
    CHECK(fake.key_flags[i] == want[i][0] && fake.key_codes[i] == want[i][1],
          "%s: event %d is flags 0x%04x code 0x%02x", what, i, fake.key_flags[i], fake.key_codes[i]);
}

static void test_page_buttons(void) {
  const uint16_t D = KBD_FLAGS_DOWN, R = KBD_FLAGS_RELEASE, X = KBD_FLAGS_EXTENDED;
  psm_bridge* b = fake_bridge(0, 0);
  /* Ctrl-Alt-Del: Control_L, Alt_L, Delete down, then up in reverse. */
  CHECK(dispatch_keys(b, "3.key,5.65507,1.1;3.key,5.65513,1.1;3.key,5.65535,1.1;"
                         "3.key,5.65535,1.0;3.key,5.65513,1.0;3.key,5.65507,1.0;") == 0,
        "Ctrl-Alt-Del parses");
  const uint16_t cad[][2] = {{D, 0x1d}, {D, 0x38}, {D | X, 0x53}, {R | X, 0x53}, {R, 0x38}, {R, 0x1d}};
  expect_events("Ctrl-Alt-Del", cad, 6);
  CHECK(b->held == 0, "nothing held after the chord");
  fake_bridge_free(b);

  b = fake_bridge(0, 0);
  CHECK(dispatch_keys(b, "3.key,5.65515,1.1;3.key,5.65515,1.0;") == 0, "Windows key parses");
  const uint16_t win[][2] = {{D | X, 0x5b}, {R | X, 0x5b}};
  expect_events("Windows key", win, 2);
  fake_bridge_free(b);

  /* Pause: one pause event on press, nothing on release; with Right Ctrl held, Break. */
  b = fake_bridge(0, 0);
  CHECK(dispatch_keys(b, "3.key,5.65299,1.1;3.key,5.65299,1.0;") == 0, "Pause parses");
  CHECK(fake.pauses == 1 && fake.keys == 0, "Pause: %d pause events, %d keys", fake.pauses, fake.keys);
  CHECK(dispatch_keys(b, "3.key,5.65508,1.1;3.key,5.65299,1.1;3.key,5.65299,1.0;3.key,5.65508,1.0;") == 0,
        "Ctrl+Pause parses");
  const uint16_t brk[][2] = {{D | X, 0x1d}, {D | X, 0x46}, {R | X, 0x46}, {R | X, 0x1d}};
  expect_events("Ctrl+Break", brk, 4);
  CHECK(fake.pauses == 1, "no pause event for Break");
  fake_bridge_free(b);

  /* Held Shift is tracked per side: 'A' with Right Shift down is one key; after it is up, Shift again. */
  b = fake_bridge(0, 0);
  CHECK(dispatch_keys(b, "3.key,5.65506,1.1;3.key,2.65,1.1;3.key,2.65,1.0;3.key,5.65506,1.0;3.key,2.65,1.1;") == 0,
        "Shift sequence parses");
  const uint16_t shifted[][2] = {{D, 0x36}, {D, 0x1e}, {R, 0x1e}, {R, 0x36}, {D, 0x2a}, {D, 0x1e}, {R, 0x2a}};
  expect_events("Right Shift + A, then A", shifted, 7);
  fake_bridge_free(b);
}

int keymap_tests(void) {
  failures = checks = 0;
  test_keyboard();
  test_pause();
  test_printable();
  test_page_buttons();
  printf("keymap-test: %d checks, %d failed\n", checks, failures);
  return failures + layout_tests();
}
