/* Fuzz target journal: a device booting over arbitrary storage contents.
 *
 * Input: flags u8, split u16, then the image: the first split bytes go to
 * the start of half 0, the rest to the start of half 1 (each cut at the
 * half's 8 KiB; the region is 16 KiB as on mps2-an500, erased elsewhere).
 *   flags bit 0  recompute the CRC of every record the journal's layout
 *                finds (docs/PROTOCOL.md section 7), so the fuzzer reaches
 *                what lies behind the CRC check instead of dying on it
 *   flags bit 1  the next byte n: the n-th storage write or erase fails
 *                (half written), as a power cut would leave it
 *
 * The device boots (journal open, recovery), boots again over what the
 * first boot left, takes every frame the inbox offers, runs its clock, and
 * boots a third time. Oracles: no trap anywhere; two boots with nothing
 * taken in between recover the same QoS 2 state and the same inbox
 * (recovery is idempotent); every frame the inbox gives is a QoS 2 DATA
 * frame (the only frame journalled as received) whose length field is the
 * length the inbox gave; and, with no storage failure, a frame taken is
 * never given again after the next boot (exactly once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_core.h"
#include "qn_crc32c.h"

#define HALF (FUZZ_FLASH_SIZE / 2)
/* The journal record (assembly/journal.ts): magic, type, u16 data length,
 * u32 LSN, u32 time, data, CRC-32C of everything before it, padded to 32. */
#define REC_MAGIC 0xA5
#define REC_HEAD 12
#define REC_ALIGN 32
#define REC_MAX_DATA (FZ_MAX_FRAME + 16)
#define FLAG_FIX_CRC 0x01
#define FLAG_FAIL 0x02

/* Walk the records of a half as the journal lays them out; re-seal each
 * one's CRC when fix is set. Returns where the log ends. */
static uint32_t walk(uint8_t *half, int fix) {
  uint32_t off = 0;
  while (off + REC_HEAD + QN_CRC_SIZE <= HALF) {
    uint8_t *r = half + off;
    uint32_t len = fz_le16(r + 2);
    uint32_t padded = (REC_HEAD + len + QN_CRC_SIZE + REC_ALIGN - 1) & ~(uint32_t)(REC_ALIGN - 1);
    if (r[0] != REC_MAGIC || len > REC_MAX_DATA || off + padded > HALF) break;
    /* Open finding journal-type0 (fuzz/README.md): a campaign that lists
     * it leaves records of type 0 unsealed, so it can get past them. */
    int sealed = fz_le32(r + REC_HEAD + len) == qn_crc32c_buf(r, REC_HEAD + len);
    if (fix && !(r[1] == 0 && fuzz_known("journal-type0"))) {
      fz_put32(r + REC_HEAD + len, qn_crc32c_buf(r, REC_HEAD + len));
      sealed = 1;
    }
    if (!sealed) break;
    off += padded;
  }
  return off;
}

/* Open finding journal-foreign-tail (fuzz/README.md): a campaign that
 * lists it erases what follows a log whose first free word reads erased,
 * so it can get past appends that land on foreign bytes. */
static void erase_after_log(uint8_t *half) {
  uint32_t end = walk(half, 0);
  if (end + 4 <= HALF && fz_le32(half + end) == 0xFFFFFFFFu) memset(half + end, 0xFF, HALF - end);
}

/* What recovery rebuilt: the QoS 2 figures and the inbox's frames. */
static const int32_t figures[] = {
    QN_QOS_STAT_Q2_NEXT, QN_QOS_STAT_Q2_EXPECTED, QN_QOS_STAT_Q2_DELIVERED,
    QN_QOS_STAT_Q2_DONE, QN_QOS_STAT_IN_FLIGHT,   QN_QOS_STAT_Q2_RELEASED,
    QN_QOS_STAT_DIGEST,  QN_QOS_STAT_EPOCH,       QN_QOS_STAT_PEER_EPOCH,
};
#define NFIG (sizeof figures / sizeof figures[0])
typedef struct {
  uint32_t fig[NFIG];
  int32_t n;
  uint8_t frames[8][FZ_MAX_FRAME];
  int32_t len[8];
} recovered_t;

/* FUZZ_TRACE=1: what each boot found (replaying one input). */
static void trace_boot(const char *which, int32_t st) {
  static int trace = -1;
  if (trace < 0) trace = getenv("FUZZ_TRACE") != NULL;
  if (!trace) return;
  fprintf(stderr,
          "qn-fuzz: %s boot: journal %d, generation %u, tail %u, compactions %u, torn %u, bad records %u, inbox %d;"
          " qos",
          which, (int)st, qn_core_journal_stat(QN_JOURNAL_STAT_GENERATION), qn_core_journal_stat(QN_JOURNAL_STAT_TAIL),
          qn_core_journal_stat(QN_JOURNAL_STAT_COMPACTIONS), qn_core_journal_stat(QN_JOURNAL_STAT_TORN_DROPPED),
          qn_core_qos_stat(QN_QOS_STAT_BAD_RECORDS), (int)qn_core_inbox_count());
  for (size_t i = 0; i < NFIG; i++) fprintf(stderr, " %d=%u", (int)figures[i], qn_core_qos_stat(figures[i]));
  fprintf(stderr, "\n");
}

static void take_state(recovered_t *s) {
  for (size_t i = 0; i < NFIG; i++) s->fig[i] = qn_core_qos_stat(figures[i]);
  s->n = qn_core_inbox_count();
  if (s->n > 8) fuzz_fail("inbox holds %d frames, more than its 8 slots", (int)s->n);
  for (int32_t i = 0; i < s->n; i++) {
    s->len[i] = qn_core_inbox_peek(i);
    if (s->len[i] < 0 || s->len[i] > FZ_MAX_FRAME) fuzz_fail("inbox peek gave %d bytes", (int)s->len[i]);
    memcpy(s->frames[i], qn_core_mem() + qn_core_app_buf(), (size_t)s->len[i]);
  }
}

/* Open findings journal-idempotent (fuzz/README.md): a campaign that lists
 * it does not compare the two boots. */
static void same_state(const recovered_t *a, const recovered_t *b) {
  if (fuzz_known("journal-idempotent")) return;
  for (size_t i = 0; i < NFIG; i++)
    if (a->fig[i] != b->fig[i])
      fuzz_fail("recovery is not idempotent: qn_core_qos_stat(%d) %u after one boot, %u after the next",
                (int)figures[i], a->fig[i], b->fig[i]);
  if (a->n != b->n) fuzz_fail("recovery is not idempotent: %d frames in the inbox, then %d", (int)a->n, (int)b->n);
  for (int32_t i = 0; i < a->n; i++)
    if (a->len[i] != b->len[i] || memcmp(a->frames[i], b->frames[i], (size_t)a->len[i]) != 0)
      fuzz_fail("recovery is not idempotent: inbox frame %d differs between boots", (int)i);
}

static void check_taken(const uint8_t *app, int32_t n) {
  uint16_t len = fz_le16(app + QN_H_LENGTH);
  if (n < QN_HEADER_SIZE || n > QN_HEADER_SIZE + QN_MAX_PAYLOAD || (int32_t)(QN_HEADER_SIZE + len) != n)
    fuzz_fail("recovered inbox frame of %d bytes whose length field says %u", (int)n, len);
  uint8_t flags = app[QN_H_FLAGS];
  if (app[QN_H_VERSION] != QN_PROTOCOL_VERSION || app[QN_H_TYPE] != QN_T_DATA ||
      (flags & QN_F_QOS_MASK) >> QN_F_QOS_SHIFT != QN_QOS_EXACTLY_ONCE)
    fuzz_fail("recovery delivered a frame no journal writes (version %u, type 0x%02x, flags 0x%02x)", app[QN_H_VERSION],
              app[QN_H_TYPE], flags);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static recovered_t first, second;
  static uint8_t taken[64][FZ_MAX_FRAME];
  static int32_t taken_len[64];
  FUZZ_GUARD();
  fz_in_t in = {data, size, 0};
  uint8_t flags = fz_u8(&in);
  size_t split = fz_u16(&in);
  uint32_t fail_at = (flags & FLAG_FAIL) ? fz_u8(&in) : 0;
  memset(fuzz_flash, 0xFF, sizeof fuzz_flash);
  size_t a = fz_bytes(&in, fuzz_flash, split < HALF ? split : HALF);
  if (a < split) in.at += split - a < in.n - in.at ? split - a : in.n - in.at;
  fz_bytes(&in, fuzz_flash + HALF, HALF);
  for (uint32_t h = 0; h < FUZZ_FLASH_SIZE; h += HALF) {
    if (flags & FLAG_FIX_CRC) walk(fuzz_flash + h, 1);
    if (fuzz_known("journal-foreign-tail")) erase_after_log(fuzz_flash + h);
  }
  fuzz_now = 1000000;
  fuzz_rng = 0x10AD;
  fuzz_storage_failed = 0;
  fuzz_storage_fail_at = fail_at;

  int32_t st1 = fuzz_boot(QN_ROLE_SERVER, QN_AUTH_FRAME_MAC);
  trace_boot("first", st1);
  take_state(&first);
  int32_t st2 = fuzz_boot(QN_ROLE_SERVER, QN_AUTH_FRAME_MAC);
  trace_boot("second", st2);
  take_state(&second);
  if (st1 == QN_OK && st2 == QN_OK && !fuzz_storage_failed) same_state(&first, &second);

  int ntaken = 0;
  for (int32_t n; (n = qn_core_inbox_pop()) > 0;) {
    const uint8_t *app = qn_core_mem() + qn_core_app_buf();
    check_taken(app, n);
    if (ntaken < 64) {
      memcpy(taken[ntaken], app, (size_t)n);
      taken_len[ntaken++] = n;
    }
  }
  for (int i = 0; i < 3; i++) {
    fuzz_tick(1000000);
    fuzz_pull_all(NULL, 0);
  }
  int32_t st3 = fuzz_boot(QN_ROLE_SERVER, QN_AUTH_FRAME_MAC);
  trace_boot("third", st3);
  if (st2 == QN_OK && st3 == QN_OK && !fuzz_storage_failed) {
    for (int32_t i = 0, n; (n = qn_core_inbox_peek(i)) > 0; i++)
      for (int k = 0; k < ntaken; k++)
        if (taken_len[k] == n && memcmp(taken[k], qn_core_mem() + qn_core_app_buf(), (size_t)n) == 0)
          fuzz_fail("a recovered frame (packet %u) taken by the application came back after a boot",
                    fz_le32(taken[k] + QN_H_PACKET));
  }
  FUZZ_UNGUARD();
  return 0;
}
