/* The M7 bench: instructions per operation of the release core (wasm2c)
 * and of plain-C references, under QEMU -icount shift=0 where 1 instruction
 * is 1 ns of virtual time. Prints one JSON object per line on UART0 and
 * ends QEMU through semihosting. Never part of the product firmware.
 *
 * Two peers on one core: the wasm2c runtime has one instance and one
 * linear memory, so peer A (server, the device under test) and peer B
 * (client) take turns: switching copies the instance and the linear memory
 * out and the other peer's in. Only calls into the core are timed, never
 * the switches. Each peer has its own journal storage (RAM, NOR-like).
 *
 * Timing: SysTick at 25 MHz, so one read is good to 40 instructions. A
 * batch (N operations between two reads) is used where one peer suffices;
 * single operations are timed one by one and summed, minus the calibrated
 * cost of the two reads. */
#include <stdint.h>
#include <string.h>
#include "qn_api.h"
#include "qn_probe.h"
#include "qn_port.h"
#include "qn_wasm_rt.h"
#include "qn_cm7.h"
#include "qn_crc32c.h"
#include "qn_w2c.h"
#include "qn_linear_mem.h"
#include "crc_ref.h"

#define STORE_SIZE 16384u
#define STORE_SECTOR 4096u

extern Z_qn_instance_t qn_instance;
extern uint8_t qn_linear_mem[];
extern volatile uint32_t qn_boot_ns; /* board.c: qn_port_ready writes it */

/* ---- output ---- */
static char line[256];
static unsigned pos;
static void out_s(const char *s) {
  while (*s && pos < sizeof line - 3) line[pos++] = *s++;
}
static void out_u(uint64_t v) {
  char b[24];
  int n = 0;
  do {
    b[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) {
    if (pos < sizeof line - 3)
      line[pos++] = b[--n];
    else
      n--;
  }
}
static void out_end(void) {
  line[pos++] = '\r';
  line[pos++] = '\n';
  line[pos] = 0;
  qn_port_panic_write(line);
  pos = 0;
}

void qn_fatal(const char *why, uint32_t code) {
  out_s("{\"fatal\":\"");
  out_s(why);
  out_s("\",\"code\":");
  out_u(code);
  out_s("}");
  out_end();
  qn_port_exit(1);
}
#define CHECK(cond, what, code)                    \
  do {                                             \
    if (!(cond)) qn_fatal(what, (uint32_t)(code)); \
  } while (0)

/* ---- time ---- */
static inline uint64_t now(void) { return qn_systick_now_ns(); }
static uint64_t overhead; /* ns of one now()..now() pair with nothing between */

static void calibrate(void) {
  uint64_t sum = 0;
  for (int i = 0; i < 1000; i++) {
    uint64_t a = now();
    uint64_t b = now();
    sum += b - a;
  }
  overhead = sum / 1000;
}

/* Single timed operations: every sample is kept so the report can give the
 * median. A SysTick read can land between the counter's reload and the
 * millisecond interrupt (QEMU takes the interrupt a few instructions
 * late), which makes one sample 1 ms off; the median is immune to that
 * and the mean skips samples more than 100,000 off the median ("glitches"). */
#define MAX_SAMPLES 200
typedef struct {
  uint32_t s[MAX_SAMPLES];
  uint32_t n;
} acc_t;
static void acc_add(acc_t *a, uint64_t dt) {
  dt = dt > overhead ? dt - overhead : 0;
  if (a->n < MAX_SAMPLES) a->s[a->n++] = (uint32_t)dt;
}
static void sort_u32(uint32_t *v, uint32_t n) {
  for (uint32_t i = 1; i < n; i++) {
    uint32_t x = v[i], j = i;
    while (j && v[j - 1] > x) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
}
static uint32_t sum_u32(const uint32_t *v, uint32_t n) {
  uint64_t t = 0;
  for (uint32_t i = 0; i < n; i++) t += v[i];
  return (uint32_t)t;
}
/* {"op","mode","n","median","mean","min","max","glitches"}: instructions
 * (virtual ns) per operation. */
static void report_acc(const char *op, const char *mode, acc_t *a) {
  sort_u32(a->s, a->n);
  uint32_t med = a->s[a->n / 2], kept = 0, glitches = 0;
  uint64_t total = 0;
  for (uint32_t i = 0; i < a->n; i++) {
    uint32_t d = a->s[i] > med ? a->s[i] - med : med - a->s[i];
    if (d > 100000u) {
      glitches++;
      continue;
    }
    total += a->s[i];
    kept++;
  }
  out_s("{\"op\":\"");
  out_s(op);
  out_s("\",\"mode\":\"");
  out_s(mode);
  out_s("\",\"n\":");
  out_u(a->n);
  out_s(",\"median\":");
  out_u(med);
  out_s(",\"mean\":");
  out_u(kept ? total / kept : 0);
  out_s(",\"min\":");
  out_u(a->s[0]);
  out_s(",\"max\":");
  out_u(a->s[a->n - 1]);
  out_s(",\"glitches\":");
  out_u(glitches);
  out_s("}");
  out_end();
}

#define TIMED(acc, stmt)          \
  do {                            \
    uint64_t t0_ = now();         \
    stmt;                         \
    acc_add(&(acc), now() - t0_); \
  } while (0)

/* ---- two peers ---- */
typedef struct {
  Z_qn_instance_t inst;
  uint8_t mem[QN_LINEAR_MEM_BYTES] __attribute__((aligned(8)));
  uint8_t store[STORE_SIZE];
} peer_t;
static peer_t peers[2];
static int cur = -1;

static void use(int p) {
  if (p == cur) return;
  if (cur >= 0) {
    peers[cur].inst = qn_instance;
    memcpy(peers[cur].mem, qn_linear_mem, QN_LINEAR_MEM_BYTES);
  }
  qn_instance = peers[p].inst;
  memcpy(qn_linear_mem, peers[p].mem, QN_LINEAR_MEM_BYTES);
  cur = p;
}

/* The core's imports, per peer (replaces boards/common/qn_imports.c). */
static int in_mem(qn_addr_t ptr, uint32_t len) {
  uint32_t s = qn_core_mem_size();
  return ptr <= s && len <= s - ptr;
}
int32_t qn_import_qn_storage_read(uint32_t off, qn_addr_t ptr, uint32_t len) {
  if (!in_mem(ptr, len) || off > STORE_SIZE || len > STORE_SIZE - off) return QN_ERR_ARG;
  memcpy(qn_core_mem() + ptr, peers[cur].store + off, len);
  return QN_OK;
}
int32_t qn_import_qn_storage_write(uint32_t off, qn_addr_t ptr, uint32_t len) {
  if (!in_mem(ptr, len) || off > STORE_SIZE || len > STORE_SIZE - off) return QN_ERR_ARG;
  for (uint32_t i = 0; i < len; i++) peers[cur].store[off + i] &= qn_core_mem()[ptr + i]; /* NOR: clears bits */
  return QN_OK;
}
int32_t qn_import_qn_storage_erase(uint32_t off, uint32_t len) {
  if (off % STORE_SECTOR || len % STORE_SECTOR || off > STORE_SIZE || len > STORE_SIZE - off) return QN_ERR_ARG;
  memset(peers[cur].store + off, 0xFF, len);
  return QN_OK;
}
int32_t qn_import_qn_entropy(qn_addr_t ptr, uint32_t len) {
  if (!in_mem(ptr, len)) return QN_ERR_ARG;
  return qn_port_entropy(qn_core_mem() + ptr, len);
}

static const uint8_t key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void peer_start(int p, uint32_t role, uint32_t auth) {
  use(p);
  memset(peers[p].store, 0xFF, STORE_SIZE);
  CHECK(qn_core_runtime_init() == QN_OK, "runtime init", 0);
  CHECK(qn_core_init() == QN_OK, "qn_init", 0);
  qn_core_tick((int64_t)qn_port_now_us());
  CHECK(qn_core_config_set(QN_CFG_ROLE, role) == QN_OK, "role", role);
  CHECK(qn_core_config_set(QN_CFG_AUTH, auth) == QN_OK, "auth", auth);
  memcpy(qn_core_mem() + qn_core_app_buf(), key, sizeof key);
  CHECK(qn_core_set_key(qn_core_app_buf(), sizeof key) == QN_OK, "key", 0);
  int32_t st = qn_core_journal_open(STORE_SIZE);
  CHECK(st == QN_OK, "journal", st);
}

/* Bytes a peer put on the wire, as the other side receives them. */
static uint8_t wire[4096];
static uint32_t wire_len;

static uint32_t pull_all(void) {
  uint8_t *tx = qn_core_mem() + qn_core_tx_buf();
  int32_t cap = qn_core_tx_cap(), n;
  uint32_t total = 0;
  while ((n = qn_core_tx_pull(cap)) > 0) {
    CHECK(wire_len + (uint32_t)n <= sizeof wire, "wire overflow", n);
    memcpy(wire + wire_len, tx, (size_t)n);
    wire_len += (uint32_t)n;
    total += (uint32_t)n;
  }
  return total;
}

/* Feed `wire` to the current peer: returns frames completed. */
static int32_t rx_wire(void) {
  uint8_t *rx = qn_core_mem() + qn_core_rx_buf();
  int32_t cap = qn_core_rx_cap(), frames = 0;
  for (uint32_t off = 0; off < wire_len; off += (uint32_t)cap) {
    uint32_t n = wire_len - off < (uint32_t)cap ? wire_len - off : (uint32_t)cap;
    memcpy(rx, wire + off, n);
    int32_t r = qn_core_rx((int32_t)n);
    CHECK(r >= 0, "qn_rx", r);
    frames += r;
  }
  wire_len = 0;
  return frames;
}

/* Move whatever the current peer queued to the other one (untimed). */
static void deliver(int from, int to) {
  use(from);
  wire_len = 0;
  pull_all();
  use(to);
  rx_wire();
}

static void handshake(void) {
  use(1);
  CHECK(qn_core_connect() == QN_OK, "connect", 0);
  for (int i = 0; i < 4; i++) {
    deliver(1, 0);
    deliver(0, 1);
  }
  use(0);
  CHECK(qn_core_session_stat(QN_SESSION_STAT_STATE) == QN_SESSION_UP, "server session not up",
        (uint32_t)qn_core_session_stat(QN_SESSION_STAT_REFUSAL));
  use(1);
  CHECK(qn_core_session_stat(QN_SESSION_STAT_STATE) == QN_SESSION_UP, "client session not up",
        (uint32_t)qn_core_session_stat(QN_SESSION_STAT_REFUSAL));
  use(0);
  while (qn_core_inbox_pop() > 0) {
  }
  use(1);
  while (qn_core_inbox_pop() > 0) {
  }
}

#define PAYLOAD 32
#define N_SINGLE 200
#define N_QOS2 50

/* QoS 0: B publishes a 32-byte DATA frame (encode), A receives it
 * (decode + dispatch to the inbox) and the application pops it. */
/* Peer 1 publishes a 32-byte QoS 0 frame, peer 0 receives it handed to
 * qn_core_rx `piece` bytes at a time (timed: the copies and the calls). */
static void rx_pieces(acc_t *a, uint32_t piece) {
  use(1);
  wire_len = 0;
  CHECK(qn_core_publish(1, QN_QOS_AT_MOST_ONCE, QN_PRIO_BULK, QN_CODEC_NONE, PAYLOAD) >= 0, "publish qos0 (pieces)",
        piece);
  pull_all();
  use(0);
  uint8_t *rxb = qn_core_mem() + qn_core_rx_buf();
  int32_t frames = 0;
  uint64_t t0 = now();
  for (uint32_t at = 0; at < wire_len; at += piece) {
    uint32_t k = wire_len - at < piece ? wire_len - at : piece;
    memcpy(rxb, wire + at, k);
    frames += qn_core_rx((int32_t)k);
  }
  acc_add(a, now() - t0);
  int32_t n = qn_core_inbox_pop();
  CHECK(frames == 1 && n == qn_core_header_size() + PAYLOAD, "qos0 not delivered (pieces)", piece);
  wire_len = 0;
}

static void bench_qos0(const char *mode) {
  static acc_t enc, rx, pop, full, chunked16, chunked1;
  enc.n = rx.n = pop.n = full.n = chunked16.n = chunked1.n = 0;
  uint32_t bytes = 0;
  for (int i = 0; i < N_SINGLE; i++) {
    use(1);
    memset(qn_core_mem() + qn_core_app_buf() + qn_core_header_size(), (int)(i & 0xFF), PAYLOAD);
    wire_len = 0;
    uint64_t t0 = now();
    int64_t r = qn_core_publish(1, QN_QOS_AT_MOST_ONCE, QN_PRIO_BULK, QN_CODEC_NONE, PAYLOAD);
    pull_all();
    acc_add(&enc, now() - t0);
    CHECK(r >= 0, "publish qos0", (uint32_t)r);
    bytes = wire_len;
    use(0);
    uint8_t *rxb = qn_core_mem() + qn_core_rx_buf();
    int32_t frames, n;
    uint64_t t1 = now();
    memcpy(rxb, wire, wire_len);
    frames = qn_core_rx((int32_t)wire_len);
    uint64_t t2 = now();
    n = qn_core_inbox_pop();
    uint64_t t3 = now();
    acc_add(&rx, t2 - t1);
    acc_add(&pop, t3 - t2);
    acc_add(&full, t3 - t1);
    CHECK(frames == 1 && n == qn_core_header_size() + PAYLOAD, "qos0 not delivered", (uint32_t)n);
    /* The same frame again (a fresh LSN) handed over in pieces, as a main
     * loop polling a UART ring finds it: 16 bytes (a FIFO's worth) and 1
     * byte (a wake-up per received byte) at a time. */
    rx_pieces(&chunked16, 16);
    rx_pieces(&chunked1, 1);
    wire_len = 0;
  }
  report_acc("qos0_encode_32B", mode, &enc);
  report_acc("qos0_rx_dispatch_32B_in_16B_pieces", mode, &chunked16);
  report_acc("qos0_rx_dispatch_32B_in_1B_pieces", mode, &chunked1);
  report_acc("qos0_rx_dispatch_32B", mode, &rx);
  report_acc("qos0_inbox_pop_32B", mode, &pop);
  report_acc("qos0_rx_to_app_32B", mode, &full);
  out_s("{\"op\":\"wire_bytes_32B\",\"mode\":\"");
  out_s(mode);
  out_s("\",\"bytes\":");
  out_u(bytes);
  out_s("}");
  out_end();
}

/* Timed pull of everything the current peer queued, then timed receive on
 * the other: both sides of one step of the exchange. */
static void step(acc_t *a, int from, int to) {
  use(from);
  wire_len = 0;
  uint64_t t0 = now();
  pull_all();
  acc_add(a, now() - t0);
  use(to);
  t0 = now();
  int32_t f = rx_wire();
  acc_add(a, now() - t0);
  CHECK(f >= 1, "qos2 step lost", (uint32_t)from);
}

/* QoS 2: B publishes, A accepts (journal IN) and PUBRECs, B PUBRELs, A
 * PUBCOMPs, A's application pops it (journal DELIVERED). Every core call
 * on both sides is summed. */
static void bench_qos2(const char *mode) {
  static acc_t all, one;
  all.n = 0;
  for (int i = 0; i < N_QOS2; i++) {
    one.n = 0;
    use(1);
    memset(qn_core_mem() + qn_core_app_buf() + qn_core_header_size(), (int)(i & 0xFF), PAYLOAD);
    int64_t pid;
    TIMED(one, pid = qn_core_publish(1, QN_QOS_EXACTLY_ONCE, QN_PRIO_BULK, QN_CODEC_NONE, PAYLOAD));
    CHECK(pid > 0, "publish qos2", (uint32_t)pid);
    step(&one, 1, 0); /* DATA -> A, A queues PUBREC */
    int32_t n;
    TIMED(one, n = qn_core_inbox_pop());
    CHECK(n == qn_core_header_size() + PAYLOAD, "qos2 not delivered", (uint32_t)n);
    step(&one, 0, 1); /* PUBREC -> B, B queues PUBREL */
    step(&one, 1, 0); /* PUBREL -> A, A queues PUBCOMP */
    step(&one, 0, 1); /* PUBCOMP -> B */
    use(1);
    CHECK(qn_core_qos_stat(QN_QOS_STAT_IN_FLIGHT) == 0, "qos2 still in flight",
          qn_core_qos_stat(QN_QOS_STAT_IN_FLIGHT));
    /* Each sample already had the timer overhead removed. */
    all.s[all.n++] = sum_u32(one.s, one.n);
  }
  report_acc("qos2_exchange_32B", mode, &all);
}

/* Batch timings: N operations between two reads, the batch run 5 times;
 * the median batch is reported (see acc_t for why not the mean). */
#define BATCH(name, count_, stmt)                  \
  do {                                             \
    static acc_t b_;                               \
    b_.n = 0;                                      \
    for (int r_ = 0; r_ < 5; r_++) {               \
      uint64_t t0_ = now();                        \
      for (uint32_t i_ = 0; i_ < (count_); i_++) { \
        stmt;                                      \
      }                                            \
      acc_add(&b_, now() - t0_);                   \
    }                                              \
    sort_u32(b_.s, b_.n);                          \
    out_s("{\"op\":\"");                           \
    out_s(name);                                   \
    out_s("\",\"mode\":\"-\",\"n\":");             \
    out_u(count_);                                 \
    out_s(",\"batch_median\":");                   \
    out_u(b_.s[2]);                                \
    out_s(",\"batch_min\":");                      \
    out_u(b_.s[0]);                                \
    out_s(",\"batch_max\":");                      \
    out_u(b_.s[4]);                                \
    out_s("}");                                    \
    out_end();                                     \
  } while (0)

static volatile uint32_t sink;

static void bench_primitives(void) {
  use(0);
  /* An empty loop, to show what the batch loop itself costs. */
  BATCH("empty_loop", 10000, __asm volatile(""));
  BATCH("pool_alloc_free_32B", 2000, {
    qn_addr_t b = qn_core_pool_alloc(32);
    sink = (uint32_t)qn_core_pool_free(b);
  });
  static uint8_t buf[256];
  for (int i = 0; i < 256; i++) buf[i] = (uint8_t)(i * 7 + 3);
  uint8_t *mem = qn_core_mem();
  /* The linear memory has no room past the core's static data (it is sized
   * to it), so the exchange areas serve as scratch: source in the
   * application area, COBS output in the transmit staging area, decoded
   * bytes in the receive staging area. */
  qn_addr_t scratch = qn_core_app_buf(), enc = qn_core_tx_buf(), dec = qn_core_rx_buf();
  CHECK(qn_core_tx_cap() >= 64 && qn_core_rx_cap() >= 64, "staging areas too small", qn_core_tx_cap());
  memcpy(mem + scratch, buf, sizeof buf);
  uint32_t a = qn_core_crc32c(scratch, 256), b = crc32c_bytewise(buf, 256), c = qn_crc32c_buf(buf, 256);
  CHECK(a == b && b == c && crc32c_wordwise(buf, 256) == a, "crc implementations disagree", a);
  CHECK(crc32c_wordwise(buf + 1, 255) == qn_core_crc32c(scratch + 1, 255), "crc tails disagree", 255);
  BATCH("crc32c_wasm2c_32B", 1000, sink = qn_core_crc32c(scratch, 32));
  BATCH("crc32c_c_bytetable_32B", 1000, sink = crc32c_bytewise(buf, 32));
  BATCH("crc32c_c_wordwise_32B", 1000, sink = crc32c_wordwise(buf, 32));
  BATCH("crc32c_c_nibble_32B", 1000, sink = qn_crc32c_buf(buf, 32));
  BATCH("crc32c_wasm2c_256B", 1000, sink = qn_core_crc32c(scratch, 256));
  BATCH("crc32c_c_bytetable_256B", 1000, sink = crc32c_bytewise(buf, 256));
  BATCH("crc32c_c_wordwise_256B", 1000, sink = crc32c_wordwise(buf, 256));
  BATCH("crc32c_c_nibble_256B", 1000, sink = qn_crc32c_buf(buf, 256));
  /* Frame primitives on a 32-byte-payload frame: header 24 + 32 + CRC 4. */
  uint32_t raw = 24 + 32 + 4;
  BATCH("cobs_encode_60B", 1000, sink = (uint32_t)qn_core_cobs_encode(scratch, (int32_t)raw, enc, qn_core_tx_cap()));
  int32_t w = qn_core_cobs_encode(scratch, (int32_t)raw, enc, qn_core_tx_cap());
  CHECK(w > 0, "cobs encode", w);
  /* qn_core_cobs_encode appends the delimiter; the decoder takes the frame without it. */
  BATCH("cobs_decode_60B", 1000, sink = (uint32_t)qn_core_cobs_decode(enc, w - 1, dec, qn_core_rx_cap()));
  BATCH("crc32c_wasm2c_60B", 1000, sink = qn_core_crc32c(scratch, 60));
  BATCH("hmac_sha256_56B", 100, qn_core_hmac(scratch, 32, scratch + 32, 56, scratch + 100));
  /* Chaskey-12, the frame MAC since protocol version 2 (with its key
   * schedule and the tag copy-out of the test export): a 56-byte frame body
   * is 4 blocks, 64 bytes 5 (a whole last block still costs one). */
  BATCH("chaskey12_56B", 100, qn_core_chaskey(scratch, scratch + 32, 56, scratch + 100));
  BATCH("chaskey12_64B", 100, qn_core_chaskey(scratch, scratch + 32, 64, scratch + 100));
}

int main(void) {
  qn_port_init();
  qn_port_ready();
  calibrate();
  out_s("{\"hello\":\"qn-bench-m7\",\"timer_overhead\":");
  out_u(overhead);
  out_s(",\"boot_ns\":");
  out_u(qn_boot_ns);
  out_s("}");
  out_end();
  static qn_trap_target_t t;
  int code = QN_TRY(t);
  if (code != 0) qn_fatal("core trapped", (uint32_t)code);
  static const uint32_t modes[] = {QN_AUTH_NONE, QN_AUTH_FRAME_MAC};
  static const char *const mode_names[] = {"auth0", "auth2"};
  for (int m = 0; m < 2; m++) {
    cur = -1;
    peer_start(0, QN_ROLE_SERVER, modes[m]);
    peer_start(1, QN_ROLE_CLIENT, modes[m]);
    handshake();
    bench_qos0(mode_names[m]);
    bench_qos2(mode_names[m]);
    if (m == 0) bench_primitives();
  }
  qn_wasm_rt_disarm();
  out_s("{\"done\":true}");
  out_end();
  qn_port_exit(0);
}
