/* The stand-in for the RDP connection (see fake-rdp.h). */
#include "fake-rdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <freerdp/channels/cliprdr.h>
#include <winpr/string.h>

fake_rdp fake;
static CliprdrClientContext clip;

BOOL __wrap_freerdp_input_send_keyboard_event(rdpInput* input, UINT16 flags, UINT16 code) {
  (void)input;
  if (fake.keys < FAKE_KEY_LOG) fake.key_flags[fake.keys] = flags, fake.key_codes[fake.keys] = code;
  fake.keys++;
  return TRUE;
}

BOOL __wrap_freerdp_input_send_keyboard_pause_event(rdpInput* input) {
  (void)input;
  fake.pauses++;
  return TRUE;
}

BOOL __wrap_freerdp_input_send_unicode_keyboard_event(rdpInput* input, UINT16 flags, UINT16 code) {
  (void)input, (void)flags, (void)code;
  fake.unicode_keys++;
  return TRUE;
}

BOOL __wrap_freerdp_input_send_mouse_event(rdpInput* input, UINT16 flags, UINT16 x, UINT16 y) {
  (void)input, (void)flags;
  fake.mouse_events++;
  fake.last_x = x, fake.last_y = y;
  return TRUE;
}

static UINT client_format_list(CliprdrClientContext* context, const CLIPRDR_FORMAT_LIST* list) {
  (void)context;
  fake.format_lists++;
  fake.last_format_count = (int)list->numFormats;
  return CHANNEL_RC_OK;
}

static UINT client_format_data_response(CliprdrClientContext* context, const CLIPRDR_FORMAT_DATA_RESPONSE* r) {
  (void)context;
  fake.response[0] = '\0';
  fake.response_ok = r->msgFlags == CB_RESPONSE_OK;
  if (!fake.response_ok) return CHANNEL_RC_OK;
  char* text = NULL;
  int n = ConvertFromUnicode(CP_UTF8, 0, (LPCWSTR)r->requestedFormatData, (int)(r->dataLen / 2), &text, 0, NULL, NULL);
  if (n > 0 && text) snprintf(fake.response, sizeof fake.response, "%s", text);
  free(text);
  return CHANNEL_RC_OK;
}

psm_bridge* fake_bridge(int clip_paste, size_t clip_max) {
  memset(&fake, 0, sizeof fake);
  memset(&clip, 0, sizeof clip);
  psm_bridge* b = calloc(1, sizeof *b);
  if (!b) abort();
  b->clip_paste = clip_paste;
  b->clip_max = clip_max;
  clip.ClientFormatList = client_format_list;
  clip.ClientFormatDataResponse = client_format_data_response;
  psm_clipboard_connected(b, &clip);
  return b;
}

void fake_bridge_free(psm_bridge* b) {
  free(b->clip_local);
  psm_paste_free(b);
  free(b);
}

void fake_remote_paste(psm_bridge* b) {
  CLIPRDR_FORMAT_DATA_REQUEST request = {0};
  request.msgType = CB_FORMAT_DATA_REQUEST;
  request.requestedFormatId = CF_UNICODETEXT;
  b->clip->ServerFormatDataRequest(b->clip, &request);
}
