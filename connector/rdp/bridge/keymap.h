/* X11 keysyms (what Guacamole clients send) to Windows virtual keys. */
#ifndef PSM_KEYMAP_H
#define PSM_KEYMAP_H
#include <stdint.h>

typedef struct {
  uint32_t vk;     /* Windows virtual key, 0 when the keysym has no key (send it as Unicode) */
  int extended;    /* the key needs the extended (E0) prefix whatever the VK table says */
  int shifted;     /* on a US layout this character needs Shift held */
} psm_key;

psm_key psm_keysym_to_vk(uint32_t keysym);
/* The Unicode code point a keysym stands for, or 0. */
uint32_t psm_keysym_to_unicode(uint32_t keysym);
#endif
