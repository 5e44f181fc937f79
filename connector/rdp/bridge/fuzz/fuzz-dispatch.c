/* libFuzzer target for the bridge's dispatcher: the input's first byte is the session's policy
 * (bit 0: paste allowed; bit 1: a 64 KiB clipboard cap, else a cap of 0..63 bytes from bits 2-7;
 * bits 2-3 also choose the keyboard layout),
 * the rest is the instruction stream from the connector, read and run as the bridge does, with no
 * connection (test/fake-rdp.c). After it, the remote side pastes whatever text was offered. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../bridge.h"
#include "../test/fake-rdp.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static guac_reader r;
  memset(&r.len, 0, sizeof r - offsetof(guac_reader, len));
  uint8_t policy = data[0];
  psm_bridge* b = fake_bridge(policy & 1, (policy & 2) ? 64 * 1024 : (size_t)(policy >> 2));
  b->layout = psm_layouts[((size_t)policy >> 2) % psm_layout_count];
  const char* text = (const char*)data + 1;
  size_t n = size - 1, at = 0;
  int go = 1;
  while (go && at < n) {
    at += guac_reader_feed(&r, text + at, n - at);
    guac_instruction in;
    int rc;
    while ((rc = guac_reader_next(&r, &in)) == 1)
      if (psm_dispatch(b, &in) != 0) {
        go = 0;
        break;
      }
    if (rc < 0) go = 0;
  }
  if (b->clip_local) fake_remote_paste(b);
  fake_bridge_free(b);
  return 0;
}
