/* Tests of the RDP bridge's reader and dispatcher without a connection, built with ASan and UBSan
 * (`make test`; run by connector/rdp/bridge-sanitized.test.ts): the clipboard sequences that once
 * freed the paste buffer twice, the reader's split property (any split of a stream gives the same
 * instructions as the whole), and `connect`: what follows it in the same read is kept, and no byte
 * of the credential is left in the reader; keys (keymap-test.c); failure reasons (a server that drops
 * the connection during NLA refused the credential). Exits non-zero on any failed check. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bridge.h"
#include "../failure.h"
#include "fake-rdp.h"
#include "keymap-test.h"
#include "stream.h"

static int failures;
#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
      failures++;                                                                     \
    }                                                                                 \
  } while (0)

/* ---- helpers ------------------------------------------------------------------------------ */

/* A growable string the streams are built in. */
typedef struct {
  char* s;
  size_t len, cap;
} text;

static void append(text* t, const char* s, size_t n) {
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->len + n + 1) cap *= 2;
    t->s = realloc(t->s, cap);
    if (!t->s) abort();
    t->cap = cap;
  }
  memcpy(t->s + t->len, s, n);
  t->len += n;
  t->s[t->len] = '\0';
}

/* Code points in UTF-8 text: what an element's LENGTH counts. */
static size_t code_points(const char* s) {
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xc0) != 0x80) n++;
  return n;
}

/* Appends one instruction; `argv` ends with NULL. */
static void instruction(text* t, const char* opcode, const char* const* argv) {
  char head[32];
  snprintf(head, sizeof head, "%zu.", code_points(opcode));
  append(t, head, strlen(head));
  append(t, opcode, strlen(opcode));
  for (int i = 0; argv && argv[i]; i++) {
    snprintf(head, sizeof head, ",%zu.", code_points(argv[i]));
    append(t, head, strlen(head));
    append(t, argv[i], strlen(argv[i]));
  }
  append(t, ";", 1);
}

#define INS(t, op, ...) instruction(t, op, (const char* const[]){__VA_ARGS__, NULL})

/* Runs a stream through a reader and the dispatcher, as the bridge does. Returns the reader's last
 * answer (0 or -1), or -2 when an instruction asked to disconnect. */
static int dispatch(psm_bridge* b, const char* stream) {
  guac_reader* r = calloc(1, sizeof *r);
  guac_instruction in;
  int rc = 0;
  size_t n = strlen(stream), at = 0;
  while (rc >= 0 && at < n) {
    at += guac_reader_feed(r, stream + at, n - at);
    while ((rc = guac_reader_next(r, &in)) == 1)
      if (psm_dispatch(b, &in) != 0) {
        rc = -2;
        break;
      }
  }
  free(r);
  return rc;
}

static unsigned long long rng_state;
static unsigned long long rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* ---- (a) the dispatcher: clipboard sequences ---------------------------------------------- */

static void test_paste_sequences(void) {
  const char* open0 = "9.clipboard,1.0,10.text/plain;";
  const char* empty0 = "4.blob,1.0,0.;";
  const char* end0 = "3.end,1.0;";
  const char* hello0 = "4.blob,1.0,8.aGVsbG8=;"; /* "hello" */

  /* The sequences: two empty blobs in a row, then `end`, a new `clipboard`, another `blob`.
   * Before the fix the second freed the buffer the first had freed (realloc to 0), and each of the
   * others freed or wrote it again. */
  const char* followers[] = {end0, open0, hello0, empty0};
  for (size_t i = 0; i < sizeof followers / sizeof *followers; i++) {
    psm_bridge* b = fake_bridge(1, 65536);
    text t = {0};
    append(&t, open0, strlen(open0));
    append(&t, empty0, strlen(empty0));
    append(&t, empty0, strlen(empty0));
    append(&t, followers[i], strlen(followers[i]));
    append(&t, end0, strlen(end0));
    CHECK(dispatch(b, t.s) == 0);
    CHECK(b->clip_local == NULL); /* an empty blob is malformed: nothing is offered */
    /* A good paste afterwards still works. */
    CHECK(dispatch(b, "9.clipboard,1.0,10.text/plain;4.blob,1.0,8.aGVsbG8=;3.end,1.0;") == 0);
    CHECK(b->clip_local && strcmp(b->clip_local, "hello") == 0);
    CHECK(fake.format_lists == 1 && fake.last_format_count == 1);
    fake_remote_paste(b);
    CHECK(fake.response_ok && strcmp(fake.response, "hello") == 0);
    fake_bridge_free(b);
    free(t.s);
  }

  /* Blobs after a failed one, `end` twice, a blob and end with no stream open. */
  psm_bridge* b = fake_bridge(1, 65536);
  CHECK(dispatch(b, "4.blob,1.0,0.;3.end,1.0;3.end,1.0;4.blob,1.5,4.aGk=;") == 0);
  CHECK(dispatch(b, "9.clipboard,1.0,10.text/plain;4.blob,1.0,0.;4.blob,1.0,8.aGVsbG8=;3.end,1.0;3.end,1.0;") == 0);
  CHECK(b->clip_local == NULL && fake.format_lists == 0);
  fake_bridge_free(b);

  /* Stream 0 (guacamole-common-js's first) and several blobs, each base64 of its own bytes. */
  b = fake_bridge(1, 65536);
  CHECK(dispatch(b, "9.clipboard,1.0,10.text/plain;4.blob,1.0,4.aGk=;4.blob,1.0,8.IHRoZXJl;"
                    "4.blob,1.0,4.IQ==;3.end,1.0;") == 0);
  CHECK(b->clip_local && strcmp(b->clip_local, "hi there!") == 0);
  fake_bridge_free(b);

  /* Malformed base64: ragged, padding inside, padding too long, a stray character. */
  const char* bad[] = {"7.aGVsbG8", "4.aG=v", "4.a===", "4.====", "8.aGVs!G8=", "8.aGk=aGk="};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    b = fake_bridge(1, 65536);
    char s[256];
    snprintf(s, sizeof s, "9.clipboard,1.0,10.text/plain;4.blob,1.0,%s;4.blob,1.0,4.aGk=;3.end,1.0;", bad[i]);
    CHECK(dispatch(b, s) == 0);
    CHECK(b->clip_local == NULL);
    fake_bridge_free(b);
  }

  /* The cap counts decoded bytes: 5 fit in 5, not in 4; the dropped one leaves the last text in place. */
  b = fake_bridge(1, 5);
  CHECK(dispatch(b, "9.clipboard,2.12,10.text/plain;4.blob,2.12,8.aGVsbG8=;3.end,2.12;") == 0);
  CHECK(b->clip_local && strcmp(b->clip_local, "hello") == 0);
  b->clip_max = 4;
  CHECK(dispatch(b, "9.clipboard,1.3,10.text/plain;4.blob,1.3,4.aGk=;4.blob,1.3,4.aGk=;"
                    "4.blob,1.3,4.aGk=;3.end,1.3;") == 0);
  CHECK(strcmp(b->clip_local, "hello") == 0);
  fake_bridge_free(b);

  /* A cap of 0 takes nothing, and never reallocates to 0 bytes. */
  b = fake_bridge(1, 0);
  CHECK(dispatch(b, "9.clipboard,1.0,10.text/plain;4.blob,1.0,4.aGk=;3.end,1.0;") == 0);
  CHECK(b->clip_local == NULL);
  fake_bridge_free(b);

  /* Policy: paste off, or another mimetype, or another stream: nothing is taken. */
  b = fake_bridge(0, 65536);
  CHECK(dispatch(b, "9.clipboard,1.0,10.text/plain;4.blob,1.0,4.aGk=;3.end,1.0;") == 0);
  CHECK(b->clip_local == NULL);
  fake_bridge_free(b);
  b = fake_bridge(1, 65536);
  CHECK(dispatch(b, "9.clipboard,1.0,9.text/html;4.blob,1.0,4.aGk=;3.end,1.0;") == 0);
  CHECK(dispatch(b, "9.clipboard,1.0,10.text/plain;4.blob,1.1,4.aGk=;3.end,1.1;3.end,2.00;") == 0);
  CHECK(dispatch(b, "9.clipboard,5.12345,10.text/plain;4.blob,5.12345,4.aGk=;3.end,5.12345;") == 0);
  CHECK(b->clip_local == NULL);
  fake_bridge_free(b);

  /* A large paste in many blobs, within the cap. */
  b = fake_bridge(1, 64 * 1024);
  text t = {0};
  INS(&t, "clipboard", "7", "text/plain");
  char raw[6048], b64[8200];
  for (int k = 0; k < 10; k++) {
    memset(raw, 'a' + k, sizeof raw);
    b64[psm_base64((const uint8_t*)raw, sizeof raw, b64)] = '\0';
    INS(&t, "blob", "7", b64);
  }
  INS(&t, "end", "7");
  CHECK(dispatch(b, t.s) == 0);
  CHECK(b->clip_local && b->clip_local_len == 60480 && b->clip_local[60479] == 'j');
  free(t.s);
  fake_bridge_free(b);
}

/* ---- (a) the dispatcher: everything else, with no connection ------------------------------ */

static void test_dispatch_other(void) {
  psm_bridge* b = fake_bridge(1, 65536);
  CHECK(dispatch(b, "3.key,2.65,1.1;3.key,2.65,1.0;") == 0);
  CHECK(fake.keys == 4); /* Shift down, A down, Shift up; A up */
  CHECK(dispatch(b, "3.key,8.16785580,1.1;") == 0 && fake.unicode_keys == 1); /* U+20AC: no key, sent as Unicode */
  CHECK(dispatch(b, "5.mouse,6.-99999,12.999999999999,1.1;") == 0);
  CHECK(fake.last_x == 0 && fake.last_y == 65535);
  CHECK(dispatch(b, "4.size,5.99999,3.768;4.size,4.-800,3.600;") == 0 && b->want_w == 0);
  CHECK(dispatch(b, "4.size,4.1025,3.768;") == 0 && b->want_w == 1024 && b->want_h == 768);
  /* Each side in range, but 64 Mpx (256 MiB a frame buffer): ignored; 5K fits. */
  CHECK(dispatch(b, "4.size,4.8192,4.8192;") == 0 && b->want_w == 1024 && b->want_h == 768);
  CHECK(dispatch(b, "4.size,4.5120,4.2880;") == 0 && b->want_w == 5120 && b->want_h == 2880);
  b->unacked = 2;
  CHECK(dispatch(b, "4.sync,1.0;7.refresh;") == 0 && b->unacked == 0); /* refresh with no screen yet */
  CHECK(dispatch(b, "3.key;5.mouse;4.blob;3.end;9.clipboard,1.0;0.;7.unknown,1.x;") == 0);
  CHECK(dispatch(b, "10.disconnect;3.key,2.65,1.1;") == -2);
  fake_bridge_free(b);
}

/* ---- (b) the reader: any split gives the same instructions -------------------------------- */

static size_t random_piece(void* state, size_t left) {
  (void)state;
  (void)left;
  switch (rng() % 4) {
    case 0: return 1 + rng() % 8;        /* tiny: inside LENGTH, inside a UTF-8 sequence */
    case 1: return 1 + rng() % 512;
    case 2: return 1 + rng() % 16384;    /* a pipe read */
    default: return 1 + rng() % 100000;  /* larger than the reader */
  }
}

static size_t one_byte(void* state, size_t left) {
  (void)state, (void)left;
  return 1;
}

static void check_splits(const char* label, const char* data, size_t n, int iterations, int expect_status,
                         int expect_instructions) {
  static guac_reader reader; /* one for every run: stream_run resets it */
  guac_reader* r = &reader;
  static stream_result split; /* reused from run to run */
  stream_result whole = {0};
  stream_run(r, data, n, NULL, NULL, &whole);
  if (expect_status != 2) CHECK(whole.status == expect_status);
  if (expect_instructions >= 0) CHECK(whole.instructions == expect_instructions);
  int differ = 0;
  for (int i = 0; i < iterations; i++) {
    stream_run(r, data, n, i == 0 ? one_byte : random_piece, NULL, &split);
    if (!stream_result_equal(&whole, &split)) differ++;
  }
  if (differ) fprintf(stderr, "%s: %d of %d splits differ from the whole\n", label, differ, iterations);
  CHECK(differ == 0);
  stream_result_free(&whole);
}

static void test_reader_splits(void) {
  text t = {0};
  /* A `connect` longer than one read (16 KiB password), UTF-8 of every width, empty elements. */
  char* password = malloc(16385);
  for (int i = 0; i < 16384; i++) password[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
  password[16384] = '\0';
  INS(&t, "connect", "127.0.0.1", "3389", "usér😀", password, "", "1280", "800", "SHA256:x", "any", "1", "1",
      "1", "65536", "en-us");
  INS(&t, "key", "65", "1");
  INS(&t, "size", "1024", "768");
  instruction(&t, "nop", NULL);
  INS(&t, "clipboard", "0", "text/plain");
  /* A large paste blob: ~60 KiB of base64, near the 64 KiB bound. */
  size_t big = 60 * 1024;
  char* b64 = malloc(big + 1);
  for (size_t i = 0; i < big; i++) b64[i] = "QUJD"[i % 4];
  b64[big] = '\0';
  INS(&t, "blob", "0", b64);
  INS(&t, "end", "0");
  INS(&t, "mouse", "10", "20", "1");
  INS(&t, "é", "ü", "€", "😀😀", "");
  /* An instruction exactly at the bound: 64 KiB with its `;` (`4.blob,1.1,65518.` is 17 bytes). */
  size_t fill = GUAC_MAX_INSTRUCTION - 18;
  char* exact = malloc(fill + 2);
  memset(exact, 'A', fill);
  exact[fill] = '\0';
  size_t before = t.len;
  INS(&t, "blob", "1", exact);
  CHECK(t.len - before == GUAC_MAX_INSTRUCTION);
  INS(&t, "sync", "1");
  check_splits("valid stream", t.s, t.len, 400, 0, 11);

  /* One byte over the bound is refused, however it arrives; what came before it is the same. */
  text over = {0};
  append(&over, t.s, t.len);
  memset(exact, 'B', fill + 1);
  exact[fill + 1] = '\0';
  before = over.len;
  INS(&over, "blob", "1", exact);
  CHECK(over.len - before == GUAC_MAX_INSTRUCTION + 1);
  INS(&over, "key", "65", "1");
  check_splits("over the bound", over.s, over.len, 100, -1, 11);

  /* An incomplete instruction at the end waits, the same in any split. */
  check_splits("incomplete end", t.s, t.len - 3, 100, 0, 10);

  /* Random damage to the stream: whatever the verdict, it does not depend on the split. */
  char* damaged = malloc(t.len);
  for (int i = 0; i < 300; i++) {
    memcpy(damaged, t.s, t.len);
    int hits = 1 + (int)(rng() % 4);
    for (int k = 0; k < hits; k++) damaged[rng() % t.len] = (char)(rng() & 0xff);
    check_splits("damaged stream", damaged, t.len, 8, 2, -1);
  }
  /* Short random streams from the protocol's own characters. */
  const char alphabet[] = "0123456789.,;abc\xc3\xa9\xf0\x9f\x98\x80";
  char small[64];
  for (int i = 0; i < 3000; i++) {
    size_t n = rng() % sizeof small;
    for (size_t k = 0; k < n; k++) small[k] = alphabet[rng() % (sizeof alphabet - 1)];
    check_splits("random stream", small, n, 4, 2, -1);
  }
  free(damaged);
  free(password);
  free(b64);
  free(exact);
  free(t.s);
  free(over.s);
}

/* ---- (c) `connect`: what follows it is kept, and the credential is wiped ------------------ */

static const char* CANARY = "canary-9f8e7d6c5b4a";

/* The bridge's `connect`, with a password of `password_len` characters that starts with CANARY. */
static void connect_instruction(text* t, size_t password_len) {
  char* password = malloc(password_len + 1);
  for (size_t i = 0; i < password_len; i++) password[i] = i < strlen(CANARY) ? CANARY[i] : "pQ7"[i % 3];
  password[password_len] = '\0';
  INS(t, "connect", "127.0.0.1", "3389", "psm", password, "", "1280", "800", "SHA256:pin", "any", "1", "1", "1",
      "65536", "de-de");
  free(password);
}

typedef struct {
  int fd;
  const char* data;
  size_t len, piece;
} writer_job;

/* Writes in small pieces with pauses, so the bridge gets `connect` over many reads. */
static void* slow_writer(void* arg) {
  writer_job* job = arg;
  for (size_t at = 0; at < job->len;) {
    size_t n = job->len - at < job->piece ? job->len - at : job->piece;
    ssize_t w = write(job->fd, job->data + at, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) break;
    at += (size_t)w;
    usleep(200);
  }
  return NULL;
}

static int credential_left(const guac_reader* r) {
  return memmem(r->buf, sizeof r->buf, CANARY, strlen(CANARY)) != NULL ||
         memmem(r->buf, sizeof r->buf, "pQ7pQ7pQ7", 9) != NULL;
}

static void test_connect(size_t password_len, size_t piece) {
  text t = {0};
  connect_instruction(&t, password_len);
  size_t connect_len = t.len;
  INS(&t, "key", "65", "1");
  INS(&t, "size", "1024", "768");
  append(&t, "3.key,5.653", 11); /* and the start of one more, finished later */

  int fds[2];
  CHECK(pipe(fds) == 0);
  pthread_t writer;
  writer_job job = {fds[1], t.s, t.len, piece};
  if (piece) pthread_create(&writer, NULL, slow_writer, &job);
  else CHECK(write(fds[1], t.s, t.len) == (ssize_t)t.len); /* all in one read */

  guac_reader* r = calloc(1, sizeof *r);
  guac_instruction in;
  int rc = psm_read_connect(r, fds[0], &in);
  CHECK(rc == 0);
  if (piece) pthread_join(writer, NULL);
  if (rc == 0) {
    CHECK(in.argc == 14 && strlen(in.argv[3]) == password_len && strncmp(in.argv[3], CANARY, strlen(CANARY)) == 0);
    CHECK(r->consumed == connect_len);
  }
  guac_reader_wipe_consumed(r);
  CHECK(!credential_left(r));

  psm_bridge* b = fake_bridge(1, 65536);
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  CHECK(psm_pump_input(b, r, fds[0]) == 0); /* pipe still open, nothing more yet */
  CHECK(fake.keys == 3 && b->want_w == 1024 && b->want_h == 768);
  CHECK(write(fds[1], "07,1.1;", 7) == 7);
  CHECK(psm_pump_input(b, r, fds[0]) == 0);
  CHECK(fake.keys == 4); /* 65307 (0xff1b) is Escape: one key event */
  close(fds[1]);
  CHECK(psm_pump_input(b, r, fds[0]) == -1); /* stdin closed: the session is over */
  close(fds[0]);
  CHECK(!credential_left(r));
  fake_bridge_free(b);
  free(r);
  free(t.s);
}

static void test_connect_refused(void) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  const char* not_connect = "3.key,2.65,1.1;";
  CHECK(write(fds[1], not_connect, strlen(not_connect)) == (ssize_t)strlen(not_connect));
  close(fds[1]);
  guac_reader* r = calloc(1, sizeof *r);
  guac_instruction in;
  CHECK(psm_read_connect(r, fds[0], &in) == -1);
  close(fds[0]);
  free(r);
}

/* A `connect` without its keyboard layout (13 arguments, as before issue 21's layouts) is refused. */
static void test_connect_without_layout(void) {
  text t = {0};
  INS(&t, "connect", "127.0.0.1", "3389", "psm", "pw", "", "1280", "800", "SHA256:pin", "any", "1", "1", "1", "65536");
  int fds[2];
  CHECK(pipe(fds) == 0);
  CHECK(write(fds[1], t.s, t.len) == (ssize_t)t.len);
  close(fds[1]);
  guac_reader* r = calloc(1, sizeof *r);
  guac_instruction in;
  CHECK(psm_read_connect(r, fds[0], &in) == -1);
  close(fds[0]);
  free(r);
  free(t.s);
}

/* What a failed connect is reported as: from the pin, FreeRDP's last error and the state it reached. */
static void test_failure_reasons(void) {
  const UINT32 transport = FREERDP_ERROR_CONNECT_TRANSPORT_FAILED;
  /* The pin comes first: nothing of the credential went to that server. */
  CHECK(strcmp(psm_failure_reason(1, transport, CONNECTION_STATE_NEGO), "certificate_mismatch") == 0);
  CHECK(strcmp(psm_failure_reason(1, FREERDP_ERROR_CONNECT_LOGON_FAILURE, CONNECTION_STATE_NLA),
               "certificate_mismatch") == 0);
  /* Windows names the NLA failure (TSRequest errorCode): auth_failed whatever the state. */
  const UINT32 named[] = {FREERDP_ERROR_CONNECT_LOGON_FAILURE,   FREERDP_ERROR_CONNECT_WRONG_PASSWORD,
                          FREERDP_ERROR_AUTHENTICATION_FAILED,   FREERDP_ERROR_CONNECT_ACCOUNT_LOCKED_OUT,
                          FREERDP_ERROR_CONNECT_ACCESS_DENIED,   FREERDP_ERROR_CONNECT_ACCOUNT_RESTRICTION,
                          FREERDP_ERROR_CONNECT_PASSWORD_EXPIRED, FREERDP_ERROR_CONNECT_LOGON_TYPE_NOT_GRANTED};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
    CHECK(strcmp(psm_failure_reason(0, named[i], CONNECTION_STATE_NLA), "auth_failed") == 0);
  /* A server that closes the connection during NLA (FreeRDP's shadow server, CredSSP before version 3)
   * refused the credential: before issue 21 this was reported as unreachable. */
  CHECK(strcmp(psm_failure_reason(0, transport, CONNECTION_STATE_NLA), "auth_failed") == 0);
  /* Closed before NLA began (no TLS, no server) or after it succeeded: not a credential problem. */
  CHECK(strcmp(psm_failure_reason(0, transport, CONNECTION_STATE_NEGO), "unreachable") == 0);
  CHECK(strcmp(psm_failure_reason(0, transport, CONNECTION_STATE_INITIAL), "unreachable") == 0);
  CHECK(strcmp(psm_failure_reason(0, transport, CONNECTION_STATE_MCS_CONNECT), "unreachable") == 0);
  CHECK(strcmp(psm_failure_reason(0, transport, CONNECTION_STATE_CAPABILITIES_EXCHANGE), "unreachable") == 0);
  CHECK(strcmp(psm_failure_reason(0, FREERDP_ERROR_SECURITY_NEGO_CONNECT_FAILED, CONNECTION_STATE_NEGO),
               "security_refused") == 0);
  /* A server that stops answering during NLA is not a refusal (FreeRDP sets no error on that timeout). */
  CHECK(strcmp(psm_failure_reason(0, FREERDP_ERROR_SUCCESS, CONNECTION_STATE_NLA), "unreachable") == 0);
  CHECK(strcmp(psm_failure_reason(0, FREERDP_ERROR_CONNECT_FAILED, CONNECTION_STATE_NEGO), "unreachable") == 0);
  /* Another class's code with the same low bits as a connect error is not that error. */
  CHECK(strcmp(psm_failure_reason(0, MAKE_FREERDP_ERROR(ERRINFO, ERRCONNECT_LOGON_FAILURE), CONNECTION_STATE_NLA),
               "unreachable") == 0);
}

int main(void) {
  rng_state = 0x9e3779b97f4a7c15ULL; /* fixed seed: a failure reproduces */
  test_paste_sequences();
  test_dispatch_other();
  test_reader_splits();
  test_connect(64, 0);         /* connect and what follows in one read */
  test_connect(40000, 997);    /* connect over many reads */
  test_connect(60000, 16384);  /* near the bound, in pipe-sized reads */
  test_connect_refused();
  test_connect_without_layout();
  test_failure_reasons();
  failures += keymap_tests();
  if (failures) {
    fprintf(stderr, "bridge-test: %d checks failed\n", failures);
    return 1;
  }
  printf("bridge-test: all checks passed\n");
  return 0;
}
