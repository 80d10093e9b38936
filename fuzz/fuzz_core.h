/* fuzz_core.h: the QN core as the device runs it (wasm2c output, the boards'
 * runtime boards/common/qn_wasm_rt.c and imports qn_imports.c), inside a
 * libFuzzer process.
 *
 * The port is in memory: storage is a RAM array with NOR semantics sized as
 * on mps2-an500, entropy a seeded generator (a finding must replay), time
 * what the harness says. Everything a core is lives in four places: the
 * wasm2c instance (its globals), its linear memory, its storage and its
 * entropy state. fuzz_save/fuzz_load copy all four, which gives two things:
 * a snapshot taken once (a server after a real handshake) and restored
 * before every input, and a second core (the client of the handshake) in
 * the same process, since the runtime has one linear memory.
 *
 * Every call into the core runs under FUZZ_GUARD: a wasm trap on any input
 * is a finding, reported and aborted so libFuzzer keeps the input. */
#ifndef QN_FUZZ_CORE_H
#define QN_FUZZ_CORE_H

#include <stddef.h>
#include <stdint.h>
#include "qn_api.h"
#include "qn_wasm_rt.h"
#include "qn_w2c.h"
#include "qn_linear_mem.h"

/* mps2-an500's journal region: 16 KiB in 4 KiB sectors, unit 1. */
#define FUZZ_FLASH_SIZE 16384u
#define FUZZ_FLASH_SECTOR 4096u

/* The largest frame: header, payload, MAC and CRC. Every number of the
 * frame layout, every frame type, flag and selector is the core's own
 * (build/qn_api.h, QN_*): the harness's frame code is written from
 * docs/PROTOCOL.md, not from assembly/, but names the same integers. */
#define FZ_MAX_FRAME (QN_HEADER_SIZE + QN_MAX_PAYLOAD + QN_MAC_BYTES + QN_CRC_SIZE)

typedef struct {
  Z_qn_instance_t inst;
  uint8_t mem[QN_LINEAR_MEM_BYTES];
  uint8_t flash[FUZZ_FLASH_SIZE];
  uint64_t rng;
  int64_t now;
} fuzz_core_t;

/* The live core's storage, entropy state and clock. */
extern uint8_t fuzz_flash[FUZZ_FLASH_SIZE];
extern uint64_t fuzz_rng;
extern int64_t fuzz_now;
/* Storage fault injection: the n-th write or erase from now fails with
 * QN_ERR_STORAGE (a write after programming half its bytes); 0 = never.
 * fuzz_storage_failed says whether one did. */
extern uint32_t fuzz_storage_fail_at;
extern int fuzz_storage_failed;

/* The pre-shared key both ends of the harness use. The fuzzer never sees
 * it: its frames get their MACs from the harness, as a peer's would. */
extern const uint8_t fuzz_key[32];

void fuzz_save(fuzz_core_t *c);
void fuzz_load(const fuzz_core_t *c);

/* A fresh core over the current storage, set up as boards/common/main.c
 * sets it up (init, clock, board info, role, auth mode, key, journal, boot
 * event); a journal that does not open is reported to the peer as T_ERROR,
 * as main.c does. Returns the status of qn_journal_open. */
int32_t fuzz_boot(uint32_t role, uint32_t auth);

/* Advance the live core's clock by us microseconds. */
void fuzz_tick(int64_t us);

/* Pull every byte the core has to send into out (cap bytes; the rest is
 * dropped; out may be NULL to discard all); returns how many were kept. */
size_t fuzz_pull_all(uint8_t *out, size_t cap);

/* Hand bytes to the core's receive path in chunks of at most chunk bytes. */
void fuzz_rx_bytes(const uint8_t *p, size_t n, size_t chunk);

/* Is the open finding id (a name its oracle gives it) listed in
 * QN_FUZZ_KNOWN (comma-separated)? A campaign lists the findings already
 * reported, so it can go past them; fuzz-regress and fuzz-smoke never do. */
int fuzz_known(const char *id);

/* A finding: print why and abort (libFuzzer saves the input). */
void fuzz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Wrap every call into the core: FUZZ_GUARD at the top of the function
 * that makes the calls (setjmp rule), FUZZ_UNGUARD before it returns. */
void fuzz_trapped(int code) __attribute__((noreturn));
#define FUZZ_GUARD()                        \
  static qn_trap_target_t fuzz_trap_target; \
  do {                                      \
    int code_ = QN_TRY(fuzz_trap_target);   \
    if (code_ != 0) fuzz_trapped(code_);    \
  } while (0)
#define FUZZ_UNGUARD() qn_wasm_rt_disarm()

static inline uint16_t fz_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t fz_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void fz_put16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void fz_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/* The fuzz input as a stream of fields; reads past the end give zeros and
 * set the end flag. */
typedef struct {
  const uint8_t *p;
  size_t n, at;
} fz_in_t;
static inline int fz_more(const fz_in_t *in) { return in->at < in->n; }
static inline uint8_t fz_u8(fz_in_t *in) { return in->at < in->n ? in->p[in->at++] : 0; }
static inline uint16_t fz_u16(fz_in_t *in) {
  uint16_t v = fz_u8(in);
  return (uint16_t)(v | fz_u8(in) << 8);
}
static inline uint32_t fz_u32(fz_in_t *in) {
  uint32_t v = fz_u16(in);
  return v | (uint32_t)fz_u16(in) << 16;
}
/* Up to n bytes; returns how many there were. */
size_t fz_bytes(fz_in_t *in, uint8_t *dst, size_t n);

#endif /* QN_FUZZ_CORE_H */
