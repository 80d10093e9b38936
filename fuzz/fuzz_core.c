/* The in-memory port, core snapshots and boot for the fuzz harnesses
 * (fuzz_core.h says why each exists). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_core.h"
#include "qn_port.h"

uint8_t fuzz_flash[FUZZ_FLASH_SIZE];
uint64_t fuzz_rng = 1;
int64_t fuzz_now;
uint32_t fuzz_storage_fail_at;
int fuzz_storage_failed;

const uint8_t fuzz_key[32] = "qn-fuzz-harness-key-0123456789ab";

/* The runtime's single instance and linear memory (qn_api_wasm2c.c,
 * qn_wasm_rt.c). */
extern Z_qn_instance_t qn_instance;
extern uint8_t qn_linear_mem[QN_LINEAR_MEM_BYTES];

void fuzz_save(fuzz_core_t *c) {
  c->inst = qn_instance;
  memcpy(c->mem, qn_linear_mem, sizeof c->mem);
  memcpy(c->flash, fuzz_flash, sizeof c->flash);
  c->rng = fuzz_rng;
  c->now = fuzz_now;
}

void fuzz_load(const fuzz_core_t *c) {
  qn_instance = c->inst;
  memcpy(qn_linear_mem, c->mem, sizeof c->mem);
  memcpy(fuzz_flash, c->flash, sizeof c->flash);
  fuzz_rng = c->rng;
  fuzz_now = c->now;
}

void fuzz_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "\n==qn-fuzz== FINDING: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

int fuzz_known(const char *id) {
  const char *list = getenv("QN_FUZZ_KNOWN");
  size_t n = strlen(id);
  for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
    if (strncmp(p, id, n) == 0 && (p[n] == ',' || p[n] == 0)) return 1;
  return 0;
}

void fuzz_trapped(int code) { fuzz_fail("wasm trap %d (%s) in the core", code, qn_wasm_rt_trap_str(code)); }

/* qn_wasm_rt.c reports what it cannot handle here (a trap with nothing
 * armed, a runtime limit): always a finding or a harness bug. */
void qn_fatal(const char *why, uint32_t code) { fuzz_fail("qn_fatal: %s 0x%08x", why, (unsigned)code); }

size_t fz_bytes(fz_in_t *in, uint8_t *dst, size_t n) {
  size_t k = in->n - in->at < n ? in->n - in->at : n;
  memcpy(dst, in->p + in->at, k);
  in->at += k;
  return k;
}

/* ---- the port: what qn_imports.c calls ---- */

uint32_t qn_port_storage_size(void) { return FUZZ_FLASH_SIZE; }
uint32_t qn_port_storage_sector(void) { return FUZZ_FLASH_SECTOR; }
uint32_t qn_port_storage_unit(void) { return 1; }

static int in_range(uint32_t off, uint32_t len) { return off <= FUZZ_FLASH_SIZE && len <= FUZZ_FLASH_SIZE - off; }

/* Counts down to an injected failure; true when this operation fails. */
static int inject_failure(void) {
  if (fuzz_storage_fail_at == 0) return 0;
  if (--fuzz_storage_fail_at != 0) return 0;
  fuzz_storage_failed = 1;
  return 1;
}

int32_t qn_port_storage_read(uint32_t off, uint8_t *dst, uint32_t len) {
  if (!in_range(off, len)) return QN_ERR_ARG;
  memcpy(dst, fuzz_flash + off, len);
  return QN_OK;
}

/* NOR flash: a write only clears bits. A failing write programs its first
 * half, as a write cut by a power failure would. */
int32_t qn_port_storage_write(uint32_t off, const uint8_t *src, uint32_t len) {
  if (!in_range(off, len)) return QN_ERR_ARG;
  int fail = inject_failure();
  uint32_t n = fail ? len / 2 : len;
  for (uint32_t i = 0; i < n; i++) fuzz_flash[off + i] &= src[i];
  return fail ? QN_ERR_STORAGE : QN_OK;
}

int32_t qn_port_storage_erase(uint32_t off) {
  if (off % FUZZ_FLASH_SECTOR != 0 || off >= FUZZ_FLASH_SIZE) return QN_ERR_ARG;
  if (inject_failure()) return QN_ERR_STORAGE;
  memset(fuzz_flash + off, 0xFF, FUZZ_FLASH_SECTOR);
  return QN_OK;
}

/* xorshift64*: deterministic, so a saved input replays exactly. */
int32_t qn_port_entropy(uint8_t *dst, uint32_t len) {
  for (uint32_t i = 0; i < len; i++) {
    fuzz_rng ^= fuzz_rng >> 12;
    fuzz_rng ^= fuzz_rng << 25;
    fuzz_rng ^= fuzz_rng >> 27;
    dst[i] = (uint8_t)((fuzz_rng * 0x2545F4914F6CDD1Dull) >> 56);
  }
  return QN_OK;
}

/* ---- driving the core ---- */

/* main.c's send_status_error: QN_T_ERROR {1: status} to the peer. */
static void send_status_error(int32_t status) {
  qn_core_msg_reset();
  if (qn_core_msg_add(1, QN_K_SINT, (uint64_t)(int64_t)status, 0) != QN_OK) return;
  int32_t n = qn_core_encode(QN_CODEC_PB, qn_core_app_buf() + (uint32_t)qn_core_header_size(), qn_core_max_payload());
  if (n >= 0) qn_core_send(QN_T_ERROR, QN_PRIO_CONTROL, QN_CODEC_PB, 0, qn_core_next_packet(), n);
}

int32_t fuzz_boot(uint32_t role, uint32_t auth) {
  if (qn_core_runtime_init() != QN_OK) fuzz_fail("harness: qn_core_runtime_init failed");
  if (qn_core_heap_base() > qn_core_mem_size()) fuzz_fail("harness: core needs more linear memory than built in");
  if (qn_core_init() != QN_OK) fuzz_fail("harness: qn_core_init failed");
  qn_core_tick(fuzz_now);
  static const char name[] = "posix";
  memcpy(qn_core_mem() + qn_core_app_buf(), name, sizeof name - 1);
  qn_core_board_info(0, qn_core_mem_size(), qn_core_app_buf(), (int32_t)sizeof name - 1);
  if (qn_core_config_set(QN_CFG_ROLE, role) != QN_OK || qn_core_config_set(QN_CFG_AUTH, auth) != QN_OK)
    fuzz_fail("harness: core refused role %u auth %u", role, auth);
  uint8_t *stage = qn_core_mem() + qn_core_app_buf();
  memcpy(stage, fuzz_key, sizeof fuzz_key);
  int32_t st = qn_core_set_key(qn_core_app_buf(), (int32_t)sizeof fuzz_key);
  memset(stage, 0, sizeof fuzz_key);
  if (st != QN_OK) fuzz_fail("harness: core refused the key");
  int32_t journal = qn_core_journal_open(FUZZ_FLASH_SIZE);
  if (journal != QN_OK) send_status_error(journal);
  qn_core_event(QN_EV_BOOT, 0);
  return journal;
}

void fuzz_tick(int64_t us) {
  fuzz_now += us;
  qn_core_tick(fuzz_now);
}

size_t fuzz_pull_all(uint8_t *out, size_t cap) {
  size_t got = 0;
  const uint8_t *tx = qn_core_mem() + qn_core_tx_buf();
  for (;;) {
    int32_t k = qn_core_tx_pull(qn_core_tx_cap());
    if (k <= 0) return got;
    size_t room = !out ? (size_t)k : cap - got < (size_t)k ? cap - got : (size_t)k;
    if (out) memcpy(out + got, tx, room);
    got += room;
  }
}

void fuzz_rx_bytes(const uint8_t *p, size_t n, size_t chunk) {
  size_t cap = (size_t)qn_core_rx_cap();
  if (chunk == 0 || chunk > cap) chunk = cap;
  for (size_t at = 0; at < n; at += chunk) {
    size_t k = n - at < chunk ? n - at : chunk;
    memcpy(qn_core_mem() + qn_core_rx_buf(), p + at, k);
    qn_core_rx((int32_t)k);
  }
}
