/* The server's receive path under the fuzzer: fixtures, the client side of
 * the harness, the oracles (fuzz_rx.h lists them) and the op interpreter.
 *
 * An input is a header byte (bits 0-3: rx chunk size, 0 = the staging
 * area's whole 256 bytes, else 16 n + 1; bit 4: no automatic pull after
 * each op) and then ops, one byte each (low nibble) with their arguments:
 *   0-5, 12-15  frame: ctl, type, flags, codec, channel, packet u32,
 *               payload length u8 (+u8 with CTL_LONG), payload, then what
 *               ctl asks for (see CTL_*). The harness fills in version 2,
 *               the server's session id, the next LSN, the MAC under the
 *               session key, the CRC, COBS and the delimiter.
 *   6   raw bytes: length u8, bytes, fed as they are
 *   7   time: u16 ms (high nibble of the op: times 16)
 *   8   application: pop, check and echo (1 + high nibble times)
 *   9   pull u8 + 1 bytes of the server's output
 *   10  handshake as a client: ctl, nonce (16), fields per ctl
 *   11  a 0x00 on the line
 * After the ops: a 0x00, the application drains the inbox, everything is
 * pulled, and the invariants are checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_rx.h"
#include "qn_probe.h"

#define CTL_SESSION 0x01  /* session id from the input (else the server's) */
#define CTL_LSN 0x02      /* LSN and time from the input (else the next LSN) */
#define CTL_VERSION 0x04  /* version byte from the input (else 2) */
#define CTL_NOMAC 0x08    /* no MAC from the harness: the flags say, MAC bytes from the input */
#define CTL_BADCRC 0x10   /* a CRC with one bit flipped */
#define CTL_LONG 0x20     /* payload length + a second u8 (oversize frames) */
#define CTL_LENLIE 0x40   /* length field u16 from the input */
#define CTL_RESERVED 0x80 /* reserved byte from the input */

#define HS_VERSION 0x01 /* HELLO version from the input */
#define HS_TOKEN 0x02   /* present the last resume token */
#define HS_AUTH 0x04    /* HELLO auth mode from the input */
#define HS_NO_CONFIRM 0x08
#define HS_BAD_PROOF 0x10
#define HS_BASES 0x20 /* QoS bases and epoch from the input */
/* The capabilities the harness's client announces in HELLO: as many
 * priority classes as the core has, a journal, protobuf and JSON. */
#define HELLO_CAPS \
  ((uint32_t)QN_PRIO_CLASSES << QN_CAP_PRIO_SHIFT | QN_CAP_JOURNAL | 1u << QN_CODEC_PB | 1u << QN_CODEC_JSON)

/* Where a frame in the inbox came from, for the authentication oracle. */
enum { D_UP, D_OPEN, D_RECOVERED };
typedef struct {
  uint8_t cls;
  uint32_t gen;
} shadow_t;

static struct {
  fz_fixture_t *fx;
  fz_ref_t in, out; /* what the server was fed, what it sent */
  int have_key;
  uint8_t ks[16];
  uint32_t key_gen; /* bumped at every new session key */
  uint32_t lsn;
  size_t chunk;
  int auto_pull;
  shadow_t shadow[16]; /* one per inbox entry, oldest first */
  unsigned shadow_n;
  struct {
    uint32_t gen, lsn;
  } seen[FZ_REF_FRAMES];
  int seen_n;
  int out_checked;
  uint8_t token[8];
  int have_token;
  struct {
    int active, qos, prio, codec, channel, len, traced;
  } echo;
  int trace; /* FUZZ_TRACE=1: say what each op did (replaying one input) */
} X;

static int session_up(void) { return qn_core_session_stat(QN_SESSION_STAT_STATE) == QN_SESSION_UP; }

static void shadow_push(uint8_t cls) {
  if (X.shadow_n == sizeof X.shadow / sizeof X.shadow[0]) fuzz_fail("harness: inbox shadow overflow");
  X.shadow[X.shadow_n++] = (shadow_t){cls, X.key_gen};
}

static void use_key(const uint8_t *ks) {
  X.have_key = ks != NULL;
  if (ks) memcpy(X.ks, ks, 16);
  X.key_gen++;
  fz_ref_set_key(&X.in, ks);
  fz_ref_set_key(&X.out, ks);
}

/* HMAC-SHA-256 through the current core's qn_core_hmac, staged in the
 * application area (saved and put back: an echo may be pending there). */
static void core_hmac(const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen, uint8_t out[32]) {
  uint8_t *app = qn_core_mem() + qn_core_app_buf();
  uint8_t saved[160];
  memcpy(saved, app, sizeof saved);
  memcpy(app, key, klen);
  memcpy(app + 32, msg, mlen);
  qn_core_hmac(qn_core_app_buf(), (int32_t)klen, qn_core_app_buf() + 32, (int32_t)mlen, qn_core_app_buf() + 96);
  memcpy(out, app + 96, 32);
  memcpy(app, saved, sizeof saved);
}

/* proof or key = HMAC(K, tag3 || a || b || sid as 8 bytes LE) (PROTOCOL.md 6). */
static void hs_hmac(const char *tag, const uint8_t a[16], const uint8_t b[16], uint64_t sid, uint8_t out[32]) {
  uint8_t m[3 + 16 + 16 + 8];
  memcpy(m, tag, 3);
  memcpy(m + 3, a, 16);
  memcpy(m + 19, b, 16);
  fz_put32(m + 35, (uint32_t)sid);
  fz_put32(m + 39, (uint32_t)(sid >> 32));
  core_hmac(fuzz_key, sizeof fuzz_key, m, sizeof m, out);
}

/* ---- fixtures ---- */

void fz_fixture_fresh(fz_fixture_t *f, uint32_t auth) {
  FUZZ_GUARD();
  memset(f, 0, sizeof *f);
  f->auth = auth;
  f->lsn = 1;
  fuzz_now = 1000000;
  fuzz_rng = 0x9E3779B97F4A7C15ull;
  memset(fuzz_flash, 0xFF, sizeof fuzz_flash);
  if (fuzz_boot(QN_ROLE_SERVER, auth) != QN_OK) fuzz_fail("harness: journal did not open on erased storage");
  fuzz_pull_all(NULL, 0);
  fuzz_save(&f->server);
  FUZZ_UNGUARD();
}

/* The first frame of type t among the intact frames in wire[0..n). */
static const fz_frame_t *frame_of(fz_ref_t *r, const uint8_t *wire, size_t n, uint8_t t) {
  fz_ref_init(r);
  fz_ref_set_key(r, X.have_key ? X.ks : NULL);
  fz_ref_feed(r, wire, n);
  for (int i = 0; i < r->count; i++)
    if (r->frames[i].raw[QN_H_TYPE] == t && r->frames[i].crc_ok) return &r->frames[i];
  fuzz_fail("harness: no intact frame of type 0x%02x in the handshake", t);
}

static const uint8_t *field_bytes(const fz_frame_t *f, uint32_t tag, size_t want) {
  const uint8_t *b;
  size_t n;
  if (!fz_pb_find(f->raw + QN_HEADER_SIZE, fz_le16(f->raw + QN_H_LENGTH), tag, NULL, &b, &n) || n != want)
    fuzz_fail("harness: handshake frame 0x%02x has no %zu-byte field %u", f->raw[QN_H_TYPE], want, tag);
  return b;
}

void fz_fixture_session(fz_fixture_t *f, uint32_t auth) {
  FUZZ_GUARD();
  static fuzz_core_t client;
  static uint8_t wire[4096];
  uint8_t nc[16], ns[16], ks[32];
  uint64_t sid = 0;
  memset(f, 0, sizeof *f);
  memset(&X, 0, sizeof X);
  f->auth = auth;
  fuzz_now = 1000000;
  memset(fuzz_flash, 0xFF, sizeof fuzz_flash);
  fuzz_rng = 0xC11E17ull;
  fuzz_boot(QN_ROLE_CLIENT, auth);
  fuzz_pull_all(NULL, 0);
  if (qn_core_connect() != QN_OK) fuzz_fail("harness: client refused to connect");
  size_t n = fuzz_pull_all(wire, sizeof wire);
  memcpy(nc, field_bytes(frame_of(&X.in, wire, n, QN_T_HELLO), 4, 16), 16);
  fuzz_save(&client);

  memset(fuzz_flash, 0xFF, sizeof fuzz_flash);
  fuzz_rng = 0x5E4E4ull;
  fuzz_boot(QN_ROLE_SERVER, auth);
  fuzz_pull_all(NULL, 0);
  fuzz_rx_bytes(wire, n, 0);
  n = fuzz_pull_all(wire, sizeof wire);
  const fz_frame_t *w = frame_of(&X.in, wire, n, QN_T_WELCOME);
  memcpy(ns, field_bytes(w, 5, 16), 16);
  if (!fz_pb_find(w->raw + QN_HEADER_SIZE, fz_le16(w->raw + QN_H_LENGTH), 6, &sid, NULL, NULL))
    fuzz_fail("harness: WELCOME without a session id");
  fuzz_save(&f->server);

  fuzz_load(&client);
  fuzz_rx_bytes(wire, n, 0);
  n = fuzz_pull_all(wire, sizeof wire);
  if (!session_up()) fuzz_fail("harness: client not up after WELCOME");
  fuzz_save(&client);

  fuzz_load(&f->server);
  fuzz_rx_bytes(wire, n, 0);
  if (!session_up()) fuzz_fail("harness: server not up after CONFIRM");
  fuzz_pull_all(NULL, 0);
  fuzz_save(&f->server);

  /* The session key from the transcript, checked on a MAC'd PING from the
   * client and on the server's MAC'd PONG. */
  fuzz_load(&client);
  hs_hmac("QNK", nc, ns, sid, ks);
  memcpy(f->ks, ks, 16);
  f->have_key = auth == QN_AUTH_FRAME_MAC;
  f->knows_key = 1;
  X.have_key = f->have_key;
  memcpy(X.ks, f->ks, 16);
  if (qn_core_send(QN_T_PING, QN_PRIO_CONTROL, QN_CODEC_NONE, 0, qn_core_next_packet(), 0) != QN_OK)
    fuzz_fail("harness: client refused a PING");
  n = fuzz_pull_all(wire, sizeof wire);
  const fz_frame_t *ping = frame_of(&X.in, wire, n, QN_T_PING);
  if (f->have_key && !(ping->mac_flag && ping->mac_ok))
    fuzz_fail("harness: session key derivation disagrees with the client's MAC");
  f->lsn = fz_le32(ping->raw + QN_H_LSN) + 1;
  fuzz_save(&client);

  fuzz_load(&f->server);
  fuzz_rx_bytes(wire, n, 0);
  n = fuzz_pull_all(wire, sizeof wire);
  const fz_frame_t *pong = frame_of(&X.in, wire, n, QN_T_PONG);
  if (f->have_key && !(pong->mac_flag && pong->mac_ok)) fuzz_fail("harness: the server's PONG MAC does not verify");
  fuzz_save(&f->server);
  FUZZ_UNGUARD();
}

/* ---- one input ---- */

void fz_rx_begin(fz_fixture_t *f) {
  fuzz_load(&f->server);
  X.fx = f;
  fz_ref_init(&X.in);
  fz_ref_init(&X.out);
  X.key_gen = 0;
  use_key(f->have_key ? f->ks : NULL);
  X.lsn = f->lsn;
  X.chunk = 0;
  X.auto_pull = 1;
  X.shadow_n = 0;
  X.seen_n = 0;
  X.out_checked = 0;
  X.have_token = 0;
  memset(&X.echo, 0, sizeof X.echo);
  static int trace = -1;
  if (trace < 0) trace = getenv("FUZZ_TRACE") != NULL;
  X.trace = trace;
  fuzz_storage_fail_at = 0;
  fuzz_storage_failed = 0;
}

void fz_rx_feed(const uint8_t *p, size_t n) {
  fz_ref_feed(&X.in, p, n);
  size_t cap = (size_t)qn_core_rx_cap(), chunk = X.chunk && X.chunk < cap ? X.chunk : cap;
  for (size_t at = 0; at < n; at += chunk) {
    size_t k = n - at < chunk ? n - at : chunk;
    int up0 = session_up();
    int32_t c0 = qn_core_inbox_count();
    memcpy(qn_core_mem() + qn_core_rx_buf(), p + at, k);
    qn_core_rx((int32_t)k);
    int up1 = session_up();
    int32_t c1 = qn_core_inbox_count();
    if (c1 < c0) fuzz_fail("inbox shrank from %d to %d inside qn_core_rx", (int)c0, (int)c1);
    /* Up before and after means up throughout: nothing the fuzzer can
     * send brings a session back up without the key. */
    for (int32_t i = c0; i < c1; i++) shadow_push(up0 && up1 ? D_UP : D_OPEN);
  }
}

/* The server's session id as frames carry it: the 64-bit id folded to 32
 * bits (docs/PROTOCOL.md section 6). */
static uint32_t server_sid(void) {
  uint64_t id = (uint64_t)qn_core_session_stat(QN_SESSION_STAT_ID);
  return (uint32_t)(id ^ (id >> 32));
}

static int is_handshake(uint8_t t) { return t == QN_T_HELLO || t == QN_T_WELCOME || t == QN_T_CONFIRM; }

void fz_rx_send(uint8_t type, uint8_t flags, uint8_t codec, const uint8_t *payload, size_t plen) {
  static uint8_t wire[FZ_WIRE_MAX];
  fz_hdr_t h = {.version = QN_PROTOCOL_VERSION,
                .type = type,
                .flags = flags,
                .codec = codec,
                .len = (uint16_t)plen,
                .session = server_sid(),
                .lsn = X.lsn++};
  int mac = X.have_key && !is_handshake(type);
  if (mac)
    h.flags |= QN_F_MAC;
  else
    h.flags &= (uint8_t)~QN_F_MAC;
  size_t w = fz_frame_wire(&h, payload, plen, mac ? X.ks : NULL, NULL, 0, wire);
  fz_rx_feed(wire, w);
}

/* The server's output oracle: a MAC'd frame it sends must verify under
 * the session key (a corrupted key or a frame sealed from stale bytes
 * would not). */
static void check_out(void) {
  for (; X.out_checked < X.out.count; X.out_checked++) {
    const fz_frame_t *f = &X.out.frames[X.out_checked];
    if (X.have_key && f->crc_ok && f->mac_flag && !f->mac_ok)
      fuzz_fail("server sent a MAC'd frame (type 0x%02x, LSN %u) whose MAC does not verify under the session key",
                f->raw[QN_H_TYPE], fz_le32(f->raw + QN_H_LSN));
  }
  if (X.out.count > FZ_REF_FRAMES - 32) {
    X.out.count = 0;
    X.out_checked = 0;
    X.out.full = 0;
  }
}

void fz_rx_pull(size_t max) {
  const uint8_t *tx = qn_core_mem() + qn_core_tx_buf();
  for (size_t got = 0; got < max;) {
    size_t want = max - got < (size_t)qn_core_tx_cap() ? max - got : (size_t)qn_core_tx_cap();
    int32_t k = qn_core_tx_pull((int32_t)want);
    if (k <= 0) break;
    fz_ref_feed(&X.out, tx, (size_t)k);
    got += (size_t)k;
  }
  check_out();
}

fz_ref_t *fz_rx_output(void) { return &X.out; }

/* The frame the application just popped (app[0..n)): the oracles. */
static void check_popped(const uint8_t *app, int32_t n) {
  if (X.shadow_n == 0) fuzz_fail("harness: the inbox gave a frame its shadow never saw arrive");
  shadow_t s = X.shadow[0];
  memmove(X.shadow, X.shadow + 1, --X.shadow_n * sizeof X.shadow[0]);
  if (n < QN_HEADER_SIZE || n > QN_HEADER_SIZE + QN_MAX_PAYLOAD || n != QN_HEADER_SIZE + fz_le16(app + QN_H_LENGTH))
    fuzz_fail("inbox frame of %d bytes whose length field says %u", (int)n, fz_le16(app + QN_H_LENGTH));
  const fz_frame_t *f = fz_ref_find(&X.in, app, (size_t)n);
  if (!f && X.in.full) return; /* more frames than the reference keeps: no verdict */
  if (!f)
    fuzz_fail("inbox frame (type 0x%02x, flags 0x%02x, %d bytes) was never fed intact: not validly framed",
              app[QN_H_TYPE], app[QN_H_FLAGS], (int)n);
  if (X.fx->auth != QN_AUTH_FRAME_MAC) return;
  if (s.cls == D_OPEN) {
    if (app[QN_H_TYPE] != QN_T_PONG) fuzz_fail("auth 2: frame type 0x%02x delivered outside a session", app[QN_H_TYPE]);
    return;
  }
  if (!f->mac_ok) fuzz_fail("auth 2: frame type 0x%02x delivered in a session without a valid MAC", app[QN_H_TYPE]);
  if (s.cls != D_UP || app[QN_H_TYPE] == QN_T_PONG) return;
  uint32_t lsn = fz_le32(app + QN_H_LSN);
  for (int i = 0; i < X.seen_n; i++)
    if (X.seen[i].gen == s.gen && X.seen[i].lsn == lsn)
      fuzz_fail("auth 2: LSN %u delivered twice in one session (replay)", lsn);
  if (X.seen_n < FZ_REF_FRAMES) X.seen[X.seen_n++] = (typeof(X.seen[0])){s.gen, lsn};
}

/* A RESET_REQ: the firmware resets; the core boots again over the same
 * storage and recovers what its journal holds. */
static void reset(void) {
  memset(&X.echo, 0, sizeof X.echo);
  fuzz_boot(QN_ROLE_SERVER, X.fx->auth);
  /* The new core's decoder starts afresh: bytes of a frame begun before
   * the reset are the start of the next one for it, and for the reference. */
  X.in.seglen = 0;
  X.in.overflow = 0;
  X.out.seglen = 0;
  X.out.overflow = 0;
  X.shadow_n = 0;
  for (int32_t i = qn_core_inbox_count(); i > 0; i--) shadow_push(D_RECOVERED);
}

/* main.c's app_service, checked. */
void fz_rx_app(void) {
  uint8_t *app = qn_core_mem() + qn_core_app_buf();
  if (!X.echo.active) {
    int32_t n = qn_core_inbox_pop();
    if (n <= 0) return;
    check_popped(app, n);
    if (X.trace)
      fprintf(stderr, "qn-fuzz: app took type 0x%02x flags 0x%02x packet %u (%d bytes)\n", app[QN_H_TYPE],
              app[QN_H_FLAGS], fz_le32(app + QN_H_PACKET), (int)n);
    if (app[QN_H_TYPE] == QN_T_RESET_REQ) {
      reset();
      return;
    }
    if (app[QN_H_TYPE] != QN_T_DATA) return;
    uint8_t flags = app[QN_H_FLAGS];
    X.echo.qos = (flags & QN_F_QOS_MASK) >> QN_F_QOS_SHIFT;
    if (X.echo.qos == QN_QOS_EXACTLY_ONCE) return;
    X.echo.prio = flags & QN_F_PRIO_MASK;
    X.echo.traced = (flags & QN_F_TRACE) != 0;
    X.echo.codec = app[QN_H_CODEC];
    X.echo.channel = app[QN_H_CHANNEL];
    X.echo.len = fz_le16(app + QN_H_LENGTH);
    X.echo.active = 1;
  }
  int64_t r = X.echo.traced ? qn_core_publish_traced(X.echo.channel, X.echo.qos, X.echo.prio, X.echo.codec, X.echo.len)
                            : qn_core_publish(X.echo.channel, X.echo.qos, X.echo.prio, X.echo.codec, X.echo.len);
  if (r == QN_ERR_WINDOW || r == QN_ERR_POOL_EMPTY || r == QN_ERR_RING_FULL) return;
  X.echo.active = 0;
}

void fz_rx_end(void) {
  static const uint8_t delim = 0;
  fz_rx_feed(&delim, 1);
  for (int round = 0; round < 64 && (qn_core_inbox_count() > 0 || X.echo.active); round++) {
    fz_rx_app();
    fz_rx_pull(SIZE_MAX);
  }
  fz_rx_pull(SIZE_MAX);
  for (int p = 0; p < QN_PRIO_CLASSES; p++)
    if (qn_core_tx_pending(p) != 0)
      fuzz_fail("outbox %d still holds %d frames after every byte was pulled", p, (int)qn_core_tx_pending(p));
  if (qn_core_tx_in_flight() != 0) fuzz_fail("a frame is still in flight after every byte was pulled");
  uint32_t used = 0;
  for (int i = 0; i < qn_core_pool_count(); i++) used += qn_core_pool_stat(i, QN_POOL_STAT_IN_USE);
  /* Frames held past a gap (selective repeat) keep their blocks until the
   * gap fills or the session ends. */
  uint32_t held =
      (uint32_t)qn_core_inbox_count() + qn_core_qos_stat(QN_QOS_STAT_IN_FLIGHT) + qn_core_qos_stat(QN_QOS_STAT_HELD);
  if (used > held)
    fuzz_fail("pool leak: %u blocks in use after draining, the inbox, QoS window and held frames account for %u", used,
              held);
}

/* ---- ops ---- */

static void op_frame(fz_in_t *in) {
  static uint8_t payload[2 * QN_MAX_PAYLOAD], wire[FZ_WIRE_MAX];
  uint8_t ctl = fz_u8(in);
  fz_hdr_t h = {.version = QN_PROTOCOL_VERSION};
  h.type = fz_u8(in);
  h.flags = fz_u8(in);
  h.codec = fz_u8(in);
  h.channel = fz_u8(in);
  h.packet = fz_u32(in);
  size_t plen = fz_u8(in);
  if (ctl & CTL_LONG) plen += fz_u8(in);
  plen = fz_bytes(in, payload, plen);
  h.len = (ctl & CTL_LENLIE) ? fz_u16(in) : (uint16_t)plen;
  h.session = (ctl & CTL_SESSION) ? fz_u32(in) : server_sid();
  if (ctl & CTL_LSN) {
    h.lsn = fz_u32(in);
    h.time = fz_u32(in);
  } else {
    h.lsn = X.lsn++;
  }
  if (ctl & CTL_VERSION) h.version = fz_u8(in);
  if (ctl & CTL_RESERVED) h.reserved = fz_u8(in);
  uint8_t mac[QN_MAC_BYTES] = {0};
  const uint8_t *key = NULL;
  if (X.have_key && !(ctl & CTL_NOMAC) && !is_handshake(h.type)) {
    h.flags |= QN_F_MAC;
    key = X.ks;
  } else if (h.flags & QN_F_MAC) {
    fz_bytes(in, mac, sizeof mac);
  }
  size_t w = fz_frame_wire(&h, payload, plen, key, mac, (ctl & CTL_BADCRC) != 0, wire);
  fz_rx_feed(wire, w);
}

static void op_raw(fz_in_t *in) {
  uint8_t buf[256];
  size_t n = fz_bytes(in, buf, fz_u8(in));
  fz_rx_feed(buf, n);
}

/* The newest intact WELCOME the server sent since mark. */
static const fz_frame_t *last_welcome(int mark) {
  for (int i = X.out.count - 1; i >= mark && i >= 0; i--)
    if (X.out.frames[i].raw[QN_H_TYPE] == QN_T_WELCOME && X.out.frames[i].crc_ok) return &X.out.frames[i];
  return NULL;
}

/* A handshake as the client: HELLO with the fuzzer's nonce and fields,
 * then (unless asked not to) CONFIRM with a real proof under the shared
 * key, so sessions can be renewed, resumed and refused from any state. */
static void op_handshake(fz_in_t *in) {
  uint8_t ctl = fz_u8(in), nc[16] = {0}, pl[160];
  fz_bytes(in, nc, sizeof nc);
  fz_rx_pull(SIZE_MAX); /* what is queued goes out under the current key */
  size_t n = 0;
  n += fz_pb_uint(pl + n, 1, (ctl & HS_VERSION) ? fz_u8(in) : QN_PROTOCOL_VERSION);
  n += fz_pb_uint(pl + n, 2, HELLO_CAPS | X.fx->auth << QN_CAP_AUTH_SHIFT);
  n += fz_pb_uint(pl + n, 3, QN_MAX_PAYLOAD);
  n += fz_pb_bytes(pl + n, 4, nc, sizeof nc);
  if ((ctl & HS_TOKEN) && X.have_token) n += fz_pb_bytes(pl + n, 5, X.token, sizeof X.token);
  n += fz_pb_uint(pl + n, 6, 0);
  n += fz_pb_uint(pl + n, 7, (ctl & HS_AUTH) ? fz_u8(in) : X.fx->auth);
  if (ctl & HS_BASES) {
    n += fz_pb_uint(pl + n, 8, fz_u32(in));
    n += fz_pb_uint(pl + n, 9, fz_u32(in));
    n += fz_pb_uint(pl + n, 10, fz_u32(in));
  } else {
    n += fz_pb_uint(pl + n, 8, 1);
    n += fz_pb_uint(pl + n, 9, 1);
    n += fz_pb_uint(pl + n, 10, 0x0E90C4u);
  }
  int mark = X.out.count;
  fz_rx_send(QN_T_HELLO, QN_PRIO_CONTROL, QN_CODEC_PB, pl, n);
  fz_rx_pull(SIZE_MAX);
  const fz_frame_t *w = last_welcome(mark);
  const uint8_t *ns, *tok;
  size_t nsl = 0, tokl = 0;
  uint64_t sid;
  if (!w) return;
  const uint8_t *wp = w->raw + QN_HEADER_SIZE;
  size_t wn = fz_le16(w->raw + QN_H_LENGTH);
  if (!fz_pb_find(wp, wn, 5, NULL, &ns, &nsl) || nsl != 16 || !fz_pb_find(wp, wn, 6, &sid, NULL, NULL)) return;
  uint8_t nsv[16];
  memcpy(nsv, ns, 16);
  if (fz_pb_find(wp, wn, 9, NULL, &tok, &tokl) && tokl == 8) {
    memcpy(X.token, tok, 8);
    X.have_token = 1;
  }
  if (ctl & HS_NO_CONFIRM) return;
  uint8_t proof[32] = {0};
  if (X.fx->knows_key)
    hs_hmac("QNC", nsv, nc, sid, proof);
  else if (X.fx->auth != QN_AUTH_NONE)
    fz_bytes(in, proof, sizeof proof); /* a guess: all a peer without the key has */
  if (ctl & HS_BAD_PROOF) proof[fz_u8(in) & 31] ^= 1;
  n = 0;
  n += fz_pb_bytes(pl + n, 1, proof, sizeof proof);
  n += fz_pb_uint(pl + n, 2, sid);
  fz_rx_send(QN_T_CONFIRM, QN_PRIO_CONTROL, QN_CODEC_PB, pl, n);
  /* Up now means up in the session this HELLO got (a new one, or the same
   * one again for a repeated HELLO): its key replaces the old one before
   * anything the server sends in it is pulled. */
  if (session_up() && X.fx->auth == QN_AUTH_FRAME_MAC && X.fx->knows_key) {
    uint8_t ks[32];
    hs_hmac("QNK", nc, nsv, sid, ks);
    use_key(ks);
  }
  fz_rx_pull(SIZE_MAX);
}

void fz_rx_ops(fz_in_t *in) {
  uint8_t h = fz_u8(in);
  X.chunk = (h & 0x0F) ? (size_t)(h & 0x0F) * 16 + 1 : 0;
  X.auto_pull = !(h & 0x10);
  while (fz_more(in)) {
    uint8_t op = fz_u8(in);
    switch (op & 0x0F) {
    case 6:
      op_raw(in);
      break;
    case 7:
      fuzz_tick((int64_t)fz_u16(in) * 1000 * (1 + (op >> 4) * 15));
      break;
    case 8:
      for (int i = 0; i <= op >> 4; i++) fz_rx_app();
      break;
    case 9:
      fz_rx_pull((size_t)fz_u8(in) + 1);
      break;
    case 10:
      op_handshake(in);
      break;
    case 11: {
      static const uint8_t delim = 0;
      fz_rx_feed(&delim, 1);
      break;
    }
    default:
      op_frame(in);
      break;
    }
    if (X.auto_pull) fz_rx_pull(SIZE_MAX);
    if (X.trace)
      fprintf(stderr, "qn-fuzz: op %2u: session state %d id %08x, inbox %d, server sent %d frames, %d fed intact\n",
              op & 0x0F, (int)qn_core_session_stat(QN_SESSION_STAT_STATE), server_sid(), (int)qn_core_inbox_count(),
              X.out.count, X.in.count);
  }
  fz_rx_end();
}
