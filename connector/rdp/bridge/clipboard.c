/* Clipboard (cliprdr) for the bridge, text only, each direction as policy allows, capped in size:
 * copy = remote -> browser (`clipboard` stream out), paste = browser -> remote (`clipboard` stream
 * in, decoded blob by blob into a buffer that never exceeds the cap). */
#include <stdlib.h>
#include <string.h>

#include <freerdp/channels/cliprdr.h>
#include <winpr/string.h>

#include "bridge.h"

static UINT send_format_list(psm_bridge* b) {
  CLIPRDR_FORMAT format = {CF_UNICODETEXT, NULL};
  CLIPRDR_FORMAT_LIST list = {0};
  list.msgType = CB_FORMAT_LIST;
  list.numFormats = b->clip_paste && b->clip_local ? 1 : 0;
  list.formats = &format;
  return b->clip->ClientFormatList(b->clip, &list);
}

static UINT monitor_ready(CliprdrClientContext* clip, const CLIPRDR_MONITOR_READY* ready) {
  (void)ready;
  psm_bridge* b = clip->custom;
  CLIPRDR_GENERAL_CAPABILITY_SET general = {CB_CAPSTYPE_GENERAL, CB_CAPSTYPE_GENERAL_LEN, CB_CAPS_VERSION_2,
                                            CB_USE_LONG_FORMAT_NAMES};
  CLIPRDR_CAPABILITIES caps = {0};
  caps.cCapabilitiesSets = 1;
  caps.capabilitySets = (CLIPRDR_CAPABILITY_SET*)&general;
  UINT rc = clip->ClientCapabilities(clip, &caps);
  return rc == CHANNEL_RC_OK ? send_format_list(b) : rc;
}

static UINT server_capabilities(CliprdrClientContext* clip, const CLIPRDR_CAPABILITIES* caps) {
  (void)clip, (void)caps;
  return CHANNEL_RC_OK;
}

/* The remote side copied something: ask for it as text if copying out is allowed. */
static UINT server_format_list(CliprdrClientContext* clip, const CLIPRDR_FORMAT_LIST* list) {
  psm_bridge* b = clip->custom;
  CLIPRDR_FORMAT_LIST_RESPONSE response = {0};
  response.msgType = CB_FORMAT_LIST_RESPONSE;
  response.msgFlags = CB_RESPONSE_OK;
  UINT rc = clip->ClientFormatListResponse(clip, &response);
  if (rc != CHANNEL_RC_OK || !b->clip_copy) return rc;
  for (UINT32 i = 0; i < list->numFormats; i++)
    if (list->formats[i].formatId == CF_UNICODETEXT) {
      CLIPRDR_FORMAT_DATA_REQUEST request = {0};
      request.msgType = CB_FORMAT_DATA_REQUEST;
      request.requestedFormatId = CF_UNICODETEXT;
      return clip->ClientFormatDataRequest(clip, &request);
    }
  return CHANNEL_RC_OK;
}

static UINT server_format_list_response(CliprdrClientContext* clip, const CLIPRDR_FORMAT_LIST_RESPONSE* r) {
  (void)clip, (void)r;
  return CHANNEL_RC_OK;
}

/* The remote text arrived (UTF-16LE): to the browser as a `clipboard` stream, if within the cap. */
static UINT server_format_data_response(CliprdrClientContext* clip, const CLIPRDR_FORMAT_DATA_RESPONSE* r) {
  psm_bridge* b = clip->custom;
  if (!b->clip_copy || r->msgFlags != CB_RESPONSE_OK || r->dataLen < 2) return CHANNEL_RC_OK;
  char* text = NULL;
  int n = ConvertFromUnicode(CP_UTF8, 0, (LPCWSTR)r->requestedFormatData, (int)(r->dataLen / 2), &text, 0, NULL, NULL);
  if (n <= 0 || !text) return CHANNEL_RC_OK;
  size_t len = strnlen(text, (size_t)n);
  if (len > b->clip_max) {
    psm_log("clipboard_over_cap", "copy");
  } else if (len > 0) {
    const char* open[] = {"1000", "text/plain"};
    guac_write("clipboard", 2, open);
    char* b64 = malloc(4 * ((len + 2) / 3) + 1);
    /* Blobs of at most 6048 raw bytes, like images. */
    for (size_t at = 0; b64 && at < len; at += 6048) {
      size_t chunk = len - at < 6048 ? len - at : 6048;
      b64[psm_base64((const uint8_t*)text + at, chunk, b64)] = '\0';
      const char* blob[] = {"1000", b64};
      guac_write("blob", 2, blob);
    }
    free(b64);
    const char* end[] = {"1000"};
    guac_write("end", 1, end);
    guac_flush();
  }
  free(text);
  return CHANNEL_RC_OK;
}

/* The remote side pastes: answer with the browser's text (UTF-16LE, NUL-terminated). */
static UINT server_format_data_request(CliprdrClientContext* clip, const CLIPRDR_FORMAT_DATA_REQUEST* r) {
  psm_bridge* b = clip->custom;
  CLIPRDR_FORMAT_DATA_RESPONSE response = {0};
  response.msgType = CB_FORMAT_DATA_RESPONSE;
  WCHAR* wide = NULL;
  int chars = 0;
  if (b->clip_paste && b->clip_local && r->requestedFormatId == CF_UNICODETEXT)
    chars = ConvertToUnicode(CP_UTF8, 0, b->clip_local, (int)b->clip_local_len + 1, &wide, 0);
  if (chars > 0 && wide) {
    response.msgFlags = CB_RESPONSE_OK;
    response.dataLen = (UINT32)chars * 2;
    response.requestedFormatData = (const BYTE*)wide;
  } else {
    response.msgFlags = CB_RESPONSE_FAIL;
  }
  UINT rc = clip->ClientFormatDataResponse(clip, &response);
  free(wide);
  return rc;
}

void psm_clipboard_connected(psm_bridge* b, CliprdrClientContext* clip) {
  b->clip = clip;
  clip->custom = b;
  clip->MonitorReady = monitor_ready;
  clip->ServerCapabilities = server_capabilities;
  clip->ServerFormatList = server_format_list;
  clip->ServerFormatListResponse = server_format_list_response;
  clip->ServerFormatDataResponse = server_format_data_response;
  clip->ServerFormatDataRequest = server_format_data_request;
}

void psm_clipboard_offer(psm_bridge* b) {
  if (b->clip && b->clip_paste) send_format_list(b);
}

/* ---- paste: the browser's clipboard stream ------------------------------------------------ */

/* A stream index as the connector forwards them: 1 to 4 digits. Returns -1 for anything else. */
static int stream_index(const char* text) {
  size_t n = strlen(text);
  if (n == 0 || n > 4 || strspn(text, "0123456789") != n) return -1;
  return atoi(text);
}

static void paste_reset(psm_bridge* b) {
  psm_buf_free(&b->paste);
  b->paste_open = 0;
  b->paste_failed = 0;
}

void psm_paste_free(psm_bridge* b) { paste_reset(b); }

/* The blob belongs to the open paste stream, which has not failed yet. */
static int paste_takes(psm_bridge* b, const char* stream) {
  return b->paste_open && !b->paste_failed && stream_index(stream) == b->paste_stream;
}

void psm_paste_open(psm_bridge* b, const char* stream, const char* mimetype) {
  paste_reset(b); /* a new stream replaces one left unfinished */
  int index = stream_index(stream);
  if (!b->clip_paste || index < 0 || strcmp(mimetype, "text/plain") != 0) return; /* its blobs are ignored */
  b->paste_open = 1;
  b->paste_stream = index;
}

void psm_paste_blob(psm_bridge* b, const char* stream, const char* base64) {
  if (!paste_takes(b, stream)) return;
  size_t n = strlen(base64);
  /* Each blob is base64 of its own bytes (guacamole-common-js encodes 6048-byte pieces apart), so
   * each decodes alone; an empty or ragged one is malformed. */
  if (n == 0 || n % 4 != 0) {
    psm_log("clipboard_malformed", "paste");
    psm_buf_free(&b->paste);
    b->paste_failed = 1;
    return;
  }
  size_t most = n / 4 * 3; /* decoded bytes, padding not yet taken off; at least 3 */
  size_t padding = (base64[n - 1] == '=') + (base64[n - 1] == '=' && base64[n - 2] == '=');
  if (b->paste.len + most - padding > b->clip_max) {
    psm_log("clipboard_over_cap", "paste");
    psm_buf_free(&b->paste);
    b->paste_failed = 1;
    return;
  }
  /* Room for `most` more bytes, never more than the cap plus 2 (both bounded by PSM_CLIP_MAX + 2). */
  if (b->paste.len + most > b->paste.cap) {
    size_t cap = b->paste.cap ? b->paste.cap : 4096;
    while (cap < b->paste.len + most) cap *= 2;
    if (cap > b->clip_max + 2) cap = b->clip_max + 2;
    uint8_t* grown = realloc(b->paste.data, cap); /* cap >= most >= 3: never a realloc to 0 */
    if (!grown) {
      psm_buf_free(&b->paste);
      b->paste_failed = 1;
      return;
    }
    b->paste.data = grown;
    b->paste.cap = cap;
  }
  long got = psm_base64_decode(base64, n, b->paste.data + b->paste.len);
  if (got < 0) {
    psm_log("clipboard_malformed", "paste");
    psm_buf_free(&b->paste);
    b->paste_failed = 1;
    return;
  }
  b->paste.len += (size_t)got;
}

void psm_paste_end(psm_bridge* b, const char* stream) {
  if (!b->paste_open || stream_index(stream) != b->paste_stream) return;
  if (!b->paste_failed && b->paste.len > 0) {
    char* text = malloc(b->paste.len + 1);
    if (text) {
      memcpy(text, b->paste.data, b->paste.len);
      text[b->paste.len] = '\0';
      free(b->clip_local);
      b->clip_local = text;
      b->clip_local_len = b->paste.len;
      psm_clipboard_offer(b);
    }
  }
  paste_reset(b);
}
