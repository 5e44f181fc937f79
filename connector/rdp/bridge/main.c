/* psm-rdp-bridge: one RDP session for the connector. Connects with FreeRDP (settings and credential
 * arrive as the first Guacamole instruction on stdin, never on the command line or in the
 * environment), renders with FreeRDP's GDI, and speaks the Guacamole protocol on stdin/stdout:
 * changed regions as PNG/JPEG/WebP images, cursor and size changes out; keys, mouse, size and
 * clipboard in. It never listens on a socket and exits when stdin closes (its session ended). */
#define _GNU_SOURCE /* nftw */
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <freerdp/addin.h>
#include <freerdp/channels/channels.h>
#include <freerdp/client/channels.h>
#include <freerdp/client/cmdline.h>
#include <freerdp/codec/color.h>
#include <freerdp/event.h>
#include <freerdp/gdi/gdi.h>
#include <freerdp/graphics.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <winpr/synch.h>
#include <winpr/wlog.h>

#include "bridge.h"
#include "failure.h"

/* At most this many frames (sync instructions) unacknowledged by the client; beyond it changes
 * accumulate and go out merged once the client catches up, so a slow browser sees fewer frames
 * rather than a growing queue. */
#define MAX_UNACKED_FRAMES 4
/* At most one frame per 16 ms (~60 per second). */
#define FRAME_MS 16
/* A new desktop size is requested no sooner than 3 s after connecting: xrdp may stop updating a
 * desktop that is resized while its logon is still in progress. */
#define RESIZE_AFTER_CONNECT_MS 3000
/* After the server resized the desktop, it is asked to repaint all of it 500 ms later. */
#define SERVER_REFRESH_DELAY_MS 500
#define JPEG_QUALITY 80
#define WEBP_QUALITY 75

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

long long psm_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Structured line on stderr for the connector's log. Never called with a secret. */
void psm_log(const char* event, const char* detail) {
  fprintf(stderr, "{\"bridge\":\"%s\",\"detail\":\"%s\"}\n", event, detail ? detail : "");
  fflush(stderr);
}

static void send_error(const char* reason, int status) {
  char code[16];
  snprintf(code, sizeof code, "%d", status);
  const char* argv[] = {reason, code};
  guac_write("error", 2, argv);
  guac_flush();
}

/* ---- screen ------------------------------------------------------------------------------ */

static void add_dirty(psm_bridge* b, int x, int y, int w, int h) {
  if (w <= 0 || h <= 0) return;
  psm_rect r = {x, y, w, h};
  for (int i = 0; i < b->ndirty; i++) {
    psm_rect* d = &b->dirty[i];
    /* Touching or overlapping rectangles merge (the first screen arrives as hundreds of strips). */
    if (r.x <= d->x + d->w && d->x <= r.x + r.w && r.y <= d->y + d->h && d->y <= r.y + r.h) {
      int x1 = r.x < d->x ? r.x : d->x, y1 = r.y < d->y ? r.y : d->y;
      int x2 = r.x + r.w > d->x + d->w ? r.x + r.w : d->x + d->w;
      int y2 = r.y + r.h > d->y + d->h ? r.y + r.h : d->y + d->h;
      b->dirty[i] = b->dirty[--b->ndirty];
      add_dirty(b, x1, y1, x2 - x1, y2 - y1);
      return;
    }
  }
  if (b->ndirty == MAX_DIRTY) {
    for (int i = 0; i < b->ndirty; i++) {
      psm_rect* d = &b->dirty[i];
      int x1 = r.x < d->x ? r.x : d->x, y1 = r.y < d->y ? r.y : d->y;
      int x2 = r.x + r.w > d->x + d->w ? r.x + r.w : d->x + d->w;
      int y2 = r.y + r.h > d->y + d->h ? r.y + r.h : d->y + d->h;
      r = (psm_rect){x1, y1, x2 - x1, y2 - y1};
    }
    b->ndirty = 0;
  }
  b->dirty[b->ndirty++] = r;
}

static void send_region(psm_bridge* b, psm_rect r) {
  rdpGdi* gdi = b->context.gdi;
  if (r.x < 0) r.w += r.x, r.x = 0;
  if (r.y < 0) r.h += r.y, r.y = 0;
  if (r.x + r.w > (int)gdi->width) r.w = (int)gdi->width - r.x;
  if (r.y + r.h > (int)gdi->height) r.h = (int)gdi->height - r.y;
  if (r.w <= 0 || r.h <= 0) return;
  const uint8_t* px = gdi->primary_buffer + (size_t)r.y * gdi->stride + (size_t)r.x * 4;
  psm_buf out = {0};
  psm_img_kind kind = psm_choose(px, (int)gdi->stride, r.w, r.h, b->webp);
  int rc = kind == PSM_IMG_WEBP   ? psm_webp_bgrx(px, (int)gdi->stride, r.w, r.h, WEBP_QUALITY, &out)
           : kind == PSM_IMG_JPEG ? psm_jpeg_bgrx(px, (int)gdi->stride, r.w, r.h, JPEG_QUALITY, &out)
                                  : psm_png_bgrx(px, (int)gdi->stride, r.w, r.h, &out);
  if (rc == 0) {
    const char* mime = kind == PSM_IMG_WEBP ? "image/webp" : kind == PSM_IMG_JPEG ? "image/jpeg" : "image/png";
    guac_send_image(0, mime, r.x, r.y, out.data, out.len);
  }
  psm_buf_free(&out);
}

static void flush_frame(psm_bridge* b, int force) {
  if (b->ndirty == 0 || !b->context.gdi) return;
  long long now = psm_now_ms();
  if (!force && (b->unacked >= MAX_UNACKED_FRAMES || now - b->last_flush_ms < FRAME_MS)) return;
  for (int i = 0; i < b->ndirty; i++) send_region(b, b->dirty[i]);
  b->ndirty = 0;
  b->last_flush_ms = now;
  b->unacked++;
  long ts[] = {(long)(now & 0x7fffffff)};
  guac_write_ints("sync", 1, ts);
  guac_flush();
}

static void send_size(psm_bridge* b) {
  rdpGdi* gdi = b->context.gdi;
  if (!gdi) return; /* not connected yet */
  long args[] = {0, (long)gdi->width, (long)gdi->height};
  guac_write_ints("size", 3, args);
  b->ndirty = 0;
  add_dirty(b, 0, 0, (int)gdi->width, (int)gdi->height);
}

static BOOL begin_paint(rdpContext* context) {
  HGDI_WND hwnd = context->gdi->primary->hdc->hwnd;
  hwnd->invalid->null = TRUE;
  hwnd->ninvalid = 0;
  return TRUE;
}

static BOOL end_paint(rdpContext* context) {
  psm_bridge* b = (psm_bridge*)context;
  HGDI_WND hwnd = context->gdi->primary->hdc->hwnd;
  if (hwnd->invalid->null) return TRUE;
  for (int i = 0; i < hwnd->ninvalid; i++)
    add_dirty(b, hwnd->cinvalid[i].x, hwnd->cinvalid[i].y, hwnd->cinvalid[i].w, hwnd->cinvalid[i].h);
  return TRUE;
}

static BOOL desktop_resize(rdpContext* context) {
  psm_bridge* b = (psm_bridge*)context;
  rdpSettings* s = context->settings;
  if (!gdi_resize(context->gdi, s->DesktopWidth, s->DesktopHeight)) return FALSE;
  send_size(b);
  /* The resized screen starts black here; ask the server for all of it once it has settled. */
  b->server_refresh_at_ms = psm_now_ms() + SERVER_REFRESH_DELAY_MS;
  return TRUE;
}

/* ---- cursor ------------------------------------------------------------------------------ */

static BOOL pointer_new(rdpContext* context, rdpPointer* pointer) {
  (void)context, (void)pointer;
  return TRUE;
}
static void pointer_free(rdpContext* context, rdpPointer* pointer) { (void)context, (void)pointer; }

/* The last cursor sent, so that a browser that attaches later gets it too (at most 384x384 px). */
static struct {
  int hx, hy, w, h;
  uint8_t px[384 * 384 * 4];
} last_cursor;

static void send_cursor(int hx, int hy, int w, int h, const uint8_t* bgra) {
  if (w <= 384 && h <= 384 && bgra != last_cursor.px) {
    last_cursor.hx = hx, last_cursor.hy = hy, last_cursor.w = w, last_cursor.h = h;
    memcpy(last_cursor.px, bgra, (size_t)w * h * 4);
  }
  long size[] = {-1, w, h};
  guac_write_ints("size", 3, size);
  if (w > 0 && h > 0) {
    psm_buf out = {0};
    if (psm_png_bgra(bgra, w * 4, w, h, &out) == 0) guac_send_image(-1, "image/png", 0, 0, out.data, out.len);
    psm_buf_free(&out);
  }
  long cursor[] = {hx, hy, -1, 0, 0, w, h};
  guac_write_ints("cursor", 7, cursor);
}

static void resend_cursor(void) {
  if (last_cursor.w > 0) send_cursor(last_cursor.hx, last_cursor.hy, last_cursor.w, last_cursor.h, last_cursor.px);
}

static BOOL pointer_set(rdpContext* context, const rdpPointer* p) {
  size_t n = (size_t)p->width * p->height * 4;
  uint8_t* px = calloc(1, n ? n : 4);
  if (!px) return FALSE;
  if (freerdp_image_copy_from_pointer_data(px, PIXEL_FORMAT_BGRA32, p->width * 4, 0, 0, p->width, p->height,
                                           p->xorMaskData, p->lengthXorMask, p->andMaskData, p->lengthAndMask,
                                           p->xorBpp, &context->gdi->palette))
    send_cursor((int)p->xPos, (int)p->yPos, (int)p->width, (int)p->height, px);
  free(px);
  return TRUE;
}

static BOOL pointer_set_null(rdpContext* context) {
  (void)context;
  uint8_t none[4] = {0};
  send_cursor(0, 0, 1, 1, none);
  return TRUE;
}

static BOOL pointer_set_default(rdpContext* context) {
  (void)context;
  /* A small arrow is the client's own default; an empty cursor layer restores nothing, so draw one. */
  static uint8_t arrow[12 * 12 * 4];
  for (int y = 0; y < 12; y++)
    for (int x = 0; x <= y && x < 8; x++) {
      uint8_t* p = arrow + (y * 12 + x) * 4;
      int edge = x == 0 || x == y || y == 11;
      p[0] = p[1] = p[2] = edge ? 0 : 255;
      p[3] = 255;
    }
  send_cursor(0, 0, 12, 12, arrow);
  return TRUE;
}

static BOOL pointer_set_position(rdpContext* context, UINT32 x, UINT32 y) {
  (void)context, (void)x, (void)y;
  return TRUE;
}

/* A new browser attached: it has nothing on screen, so everything goes again. */
void psm_screen_refresh(psm_bridge* b) {
  b->unacked = 0;
  send_size(b);
  resend_cursor();
  flush_frame(b, 1);
}

/* ---- connection -------------------------------------------------------------------------- */

/* SHA-256 of the DER certificate as `SHA256:<base64 without padding>`, the form the server entry pins. */
static int cert_fingerprint(const BYTE* pem, size_t len, char* out, size_t outlen) {
  BIO* bio = BIO_new_mem_buf(pem, (int)len);
  X509* cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
  unsigned char* der = NULL;
  int derlen = cert ? i2d_X509(cert, &der) : -1;
  int ok = -1;
  if (derlen > 0) {
    unsigned char digest[32];
    unsigned int dlen = 0;
    if (EVP_Digest(der, (size_t)derlen, digest, &dlen, EVP_sha256(), NULL) && dlen == 32) {
      char b64[48];
      size_t n = psm_base64(digest, 32, b64);
      while (n > 0 && b64[n - 1] == '=') n--;
      b64[n] = '\0';
      snprintf(out, outlen, "SHA256:%s", b64);
      ok = 0;
    }
  }
  OPENSSL_free(der);
  X509_free(cert);
  BIO_free(bio);
  return ok;
}

/* Called for every TLS connection (ExternalCertificateManagement), before any credential is sent. */
static int verify_x509(freerdp* instance, const BYTE* data, size_t length, const char* host, UINT16 port,
                       DWORD flags) {
  (void)host, (void)port, (void)flags;
  psm_bridge* b = (psm_bridge*)instance->context;
  char seen[128];
  if (cert_fingerprint(data, length, seen, sizeof seen) != 0) {
    b->cert_mismatch = 1;
    psm_log("certificate_unreadable", NULL);
    return 0;
  }
  if (strcmp(seen, b->pin) == 0) return 2; /* accept for this session only; nothing is stored */
  b->cert_mismatch = 1;
  psm_log("certificate_mismatch", seen); /* the fingerprint is public; the admin re-pins with it */
  return 0;
}

static void on_channel_connected(void* ctx, ChannelConnectedEventArgs* e) {
  psm_bridge* b = (psm_bridge*)ctx;
  if (strcmp(e->name, CLIPRDR_SVC_CHANNEL_NAME) == 0) psm_clipboard_connected(b, (CliprdrClientContext*)e->pInterface);
  else if (strcmp(e->name, DISP_DVC_CHANNEL_NAME) == 0) b->disp = (DispClientContext*)e->pInterface;
}

static void on_channel_disconnected(void* ctx, ChannelDisconnectedEventArgs* e) {
  psm_bridge* b = (psm_bridge*)ctx;
  if (strcmp(e->name, CLIPRDR_SVC_CHANNEL_NAME) == 0) b->clip = NULL;
  else if (strcmp(e->name, DISP_DVC_CHANNEL_NAME) == 0) b->disp = NULL;
}

/* The state the connection was in when freerdp_connect finished, which says what a failure means
 * (failure.h). Read here: FreeRDP publishes the result just before it disconnects, which resets the
 * state. (FreeRDP 2 never publishes its ConnectionStateChange event: it is not registered.) */
static void on_connection_result(void* ctx, ConnectionResultEventArgs* e) {
  (void)e;
  ((psm_bridge*)ctx)->reached = freerdp_get_state((rdpContext*)ctx);
}

static BOOL pre_connect(freerdp* instance) {
  rdpContext* context = instance->context;
  PubSub_SubscribeConnectionResult(context->pubSub, on_connection_result);
  PubSub_SubscribeChannelConnected(context->pubSub, on_channel_connected);
  PubSub_SubscribeChannelDisconnected(context->pubSub, on_channel_disconnected);
  return freerdp_client_load_addins(context->channels, instance->settings);
}

static BOOL post_connect(freerdp* instance) {
  rdpContext* context = instance->context;
  psm_bridge* b = (psm_bridge*)context;
  if (!gdi_init(instance, PIXEL_FORMAT_BGRX32)) return FALSE;
  rdpPointer pointer = {0};
  pointer.size = sizeof(rdpPointer);
  pointer.New = pointer_new;
  pointer.Free = pointer_free;
  pointer.Set = pointer_set;
  pointer.SetNull = pointer_set_null;
  pointer.SetDefault = pointer_set_default;
  pointer.SetPosition = pointer_set_position;
  graphics_register_pointer(context->graphics, &pointer);
  instance->update->BeginPaint = begin_paint;
  instance->update->EndPaint = end_paint;
  instance->update->DesktopResize = desktop_resize;
  b->connected_at_ms = psm_now_ms();
  const char* ready[] = {"rdp"};
  guac_write("ready", 1, ready);
  send_size(b);
  flush_frame(b, 1);
  return TRUE;
}

static void post_disconnect(freerdp* instance) { gdi_free(instance); }

static void refresh_from_server(psm_bridge* b) {
  if (!b->server_refresh_at_ms || psm_now_ms() < b->server_refresh_at_ms) return;
  b->server_refresh_at_ms = 0;
  rdpGdi* gdi = b->context.gdi;
  RECTANGLE_16 all = {0, 0, (UINT16)(gdi->width - 1), (UINT16)(gdi->height - 1)};
  if (b->context.update->RefreshRect) b->context.update->RefreshRect(&b->context, 1, &all);
}

static void apply_resize(psm_bridge* b) {
  long long now = psm_now_ms();
  if (!b->resize_at_ms || now < b->resize_at_ms) return;
  if (now < b->connected_at_ms + RESIZE_AFTER_CONNECT_MS) {
    b->resize_at_ms = b->connected_at_ms + RESIZE_AFTER_CONNECT_MS;
    return;
  }
  b->resize_at_ms = 0;
  rdpGdi* gdi = b->context.gdi;
  if (!b->disp || !gdi || (b->want_w == (int)gdi->width && b->want_h == (int)gdi->height)) return;
  DISPLAY_CONTROL_MONITOR_LAYOUT layout = {0};
  layout.Flags = DISPLAY_CONTROL_MONITOR_PRIMARY;
  layout.Width = (UINT32)b->want_w;
  layout.Height = (UINT32)b->want_h;
  layout.DesktopScaleFactor = 100;
  layout.DeviceScaleFactor = 100;
  b->disp->SendMonitorLayout(b->disp, 1, &layout);
}

/* ---- setup -------------------------------------------------------------------------------- */

static int configure(freerdp* instance, psm_bridge* b, guac_instruction* in) {
  rdpSettings* s = instance->settings;
  long port = strtol(in->argv[1], NULL, 10);
  long w = strtol(in->argv[5], NULL, 10) & ~1L, h = strtol(in->argv[6], NULL, 10);
  if (port < 1 || port > 65535 || w < PSM_MIN_SIDE || w > PSM_MAX_SIDE || h < PSM_MIN_SIDE || h > PSM_MAX_SIDE)
    return -1;
  /* A first size past the pixel cap starts the desktop shorter (the page may resize it later, within the cap). */
  if (w * h > PSM_MAX_PIXELS) h = PSM_MAX_PIXELS / w;
  if (strlen(in->argv[7]) >= sizeof b->pin || strncmp(in->argv[7], "SHA256:", 7) != 0) return -1;
  snprintf(b->pin, sizeof b->pin, "%s", in->argv[7]);
  const char* security = in->argv[8];
  b->webp = strcmp(in->argv[9], "1") == 0;
  b->clip_copy = strcmp(in->argv[10], "1") == 0;
  b->clip_paste = strcmp(in->argv[11], "1") == 0;
  b->clip_max = (size_t)strtoul(in->argv[12], NULL, 10);
  if (b->clip_max > PSM_CLIP_MAX) b->clip_max = PSM_CLIP_MAX;
  /* The server reads scancodes with this layout (xrdp picks the X keymap by it); keys are sent for it. */
  b->layout = psm_layout_named(in->argv[13]);
  if (!b->layout) return -1;

  int ok = freerdp_settings_set_string(s, FreeRDP_ServerHostname, in->argv[0]) &&
           freerdp_settings_set_uint32(s, FreeRDP_ServerPort, (UINT32)port) &&
           freerdp_settings_set_string(s, FreeRDP_Username, in->argv[2]) &&
           freerdp_settings_set_string(s, FreeRDP_Password, in->argv[3]) &&
           (in->argv[4][0] == '\0' || freerdp_settings_set_string(s, FreeRDP_Domain, in->argv[4])) &&
           freerdp_settings_set_uint32(s, FreeRDP_DesktopWidth, (UINT32)w) &&
           freerdp_settings_set_uint32(s, FreeRDP_DesktopHeight, (UINT32)h) &&
           freerdp_settings_set_uint32(s, FreeRDP_ColorDepth, 32) &&
           freerdp_settings_set_bool(s, FreeRDP_SoftwareGdi, TRUE) &&
           freerdp_settings_set_bool(s, FreeRDP_ExternalCertificateManagement, TRUE) &&
           freerdp_settings_set_bool(s, FreeRDP_AutoLogonEnabled, TRUE) &&
           freerdp_settings_set_bool(s, FreeRDP_IgnoreCertificate, FALSE) &&
           freerdp_settings_set_bool(s, FreeRDP_AutoReconnectionEnabled, FALSE) &&
           freerdp_settings_set_bool(s, FreeRDP_SupportDisplayControl, TRUE) &&
           freerdp_settings_set_bool(s, FreeRDP_SupportDynamicChannels, TRUE) &&
           /* Clipboard only when policy allows a direction; no drive, printer or file redirection ever. */
           freerdp_settings_set_bool(s, FreeRDP_RedirectClipboard, b->clip_copy || b->clip_paste) &&
           freerdp_settings_set_bool(s, FreeRDP_DeviceRedirection, FALSE) &&
           freerdp_settings_set_bool(s, FreeRDP_RedirectDrives, FALSE) &&
           freerdp_settings_set_bool(s, FreeRDP_RedirectHomeDrive, FALSE) &&
           freerdp_settings_set_bool(s, FreeRDP_RedirectPrinters, FALSE) &&
           freerdp_settings_set_bool(s, FreeRDP_RedirectSmartCards, FALSE) &&
           freerdp_settings_set_bool(s, FreeRDP_RedirectSerialPorts, FALSE) &&
           freerdp_settings_set_bool(s, FreeRDP_RedirectParallelPorts, FALSE) &&
           freerdp_settings_set_bool(s, FreeRDP_AudioCapture, FALSE) &&
           freerdp_settings_set_bool(s, FreeRDP_AudioPlayback, FALSE) &&
           freerdp_settings_set_uint32(s, FreeRDP_KeyboardLayout, b->layout->klid) &&
           /* Legacy RDP security carries no certificate the pin could check: never offered. */
           freerdp_settings_set_bool(s, FreeRDP_RdpSecurity, FALSE) &&
           freerdp_settings_set_bool(s, FreeRDP_NlaSecurity, TRUE) &&
           freerdp_settings_set_bool(s, FreeRDP_TlsSecurity, strcmp(security, "nla") != 0) &&
           freerdp_settings_set_bool(s, FreeRDP_NegotiateSecurityLayer, TRUE);
  return ok ? 0 : -1;
}

static char config_dir[] = "/tmp/psm-rdp-XXXXXX";

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* The private config folder goes when the bridge does, whichever way it exits. */
static void remove_config_dir(void) {
  if (config_dir[sizeof config_dir - 2] != 'X') nftw(config_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char** argv) {
  (void)argv;
  if (argc != 1) {
    fprintf(stderr, "psm-rdp-bridge takes no arguments: settings arrive on stdin\n");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGTERM); /* dies with the connector */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  setvbuf(stdout, NULL, _IOFBF, 256 * 1024);
  /* stdout carries the Guacamole stream only: FreeRDP's own log goes to stderr, warnings and up. */
  wLog* root = WLog_GetRoot();
  WLog_SetLogAppenderType(root, WLOG_APPENDER_CONSOLE);
  WLog_ConfigureAppender(WLog_GetLogAppender(root), "outputstream", "stderr");
  WLog_SetLogLevel(root, WLOG_WARN);

  static guac_reader reader;
  guac_instruction in;
  if (psm_read_connect(&reader, STDIN_FILENO, &in) != 0) {
    explicit_bzero(&reader, sizeof reader); /* it may hold part of a credential */
    send_error("bad_request", 0x0300);
    return 2;
  }
  /* Channels (clipboard, display control) are built into libfreerdp-client. */
  freerdp_register_addin_provider(freerdp_channels_load_static_addin_entry, 0);
  /* Each session gets a private, throwaway config path and HOME: FreeRDP stores nothing we reuse. */
  if (!mkdtemp(config_dir) || setenv("HOME", config_dir, 1) != 0) return 3;
  atexit(remove_config_dir);
  freerdp* instance = freerdp_new();
  if (!instance) return 3;
  instance->ContextSize = sizeof(psm_bridge);
  instance->PreConnect = pre_connect;
  instance->PostConnect = post_connect;
  instance->PostDisconnect = post_disconnect;
  instance->VerifyX509Certificate = verify_x509;
  if (!freerdp_context_new(instance)) return 3;
  psm_bridge* b = (psm_bridge*)instance->context;
  if (!freerdp_settings_set_string(instance->settings, FreeRDP_ConfigPath, config_dir)) return 3;
  int configured = configure(instance, b, &in);
  /* The credential lived in the reader's buffer (stdin is read straight into it, nowhere else): wipe
   * it now that FreeRDP holds its own copy. What came after `connect` stays, to run once connected. */
  guac_reader_wipe_consumed(&reader);
  if (configured != 0) {
    send_error("bad_request", 0x0300);
    return 2;
  }
  b->last_flush_ms = 0;

  if (!freerdp_connect(instance)) {
    const char* reason = psm_failure_reason(b->cert_mismatch, freerdp_get_last_error(instance->context), b->reached);
    psm_log("connect_failed", reason);
    send_error(reason, 0x0207);
    freerdp_context_free(instance);
    freerdp_free(instance);
    return 3;
  }
  psm_log("connected", NULL);

  fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
  HANDLE stdin_event = CreateFileDescriptorEvent(NULL, FALSE, FALSE, STDIN_FILENO, WINPR_FD_READ);
  int status = 0;
  int quit = psm_pump_input(b, &reader, STDIN_FILENO) != 0; /* what came with `connect` first */
  while (!quit && !stop_requested && !freerdp_shall_disconnect(instance)) {
    HANDLE handles[64];
    DWORD count = freerdp_get_event_handles(instance->context, handles, 63);
    if (count == 0) break;
    handles[count++] = stdin_event;
    DWORD wait = b->ndirty || b->resize_at_ms || b->server_refresh_at_ms ? FRAME_MS : 1000;
    WaitForMultipleObjects(count, handles, FALSE, wait);
    if (!freerdp_check_event_handles(instance->context)) {
      if (freerdp_get_last_error(instance->context) != FREERDP_ERROR_SUCCESS) status = 4;
      break;
    }
    if (psm_pump_input(b, &reader, STDIN_FILENO) != 0) break;
    apply_resize(b);
    refresh_from_server(b);
    flush_frame(b, 0);
  }
  psm_log("disconnecting", NULL);
  freerdp_disconnect(instance);
  CloseHandle(stdin_event);
  free(b->clip_local);
  psm_paste_free(b);
  freerdp_context_free(instance);
  freerdp_free(instance);
  return status;
}
