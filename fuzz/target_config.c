/* Fuzz target config: CONFIG frames (docs/PROTOCOL.md section 4) to a
 * device in an authenticated session (auth mode 2, after a real handshake;
 * the harness MACs the frame), then the device's clock run under whatever
 * configuration it took.
 *
 * Input: codec u8 (used as is when bit 7 is set, else 1 + bit 0:
 * protobuf or JSON), clock plan u8 (bits 0-2: how many clock steps, bits
 * 3-7: each step is 2^n microseconds), then the payload (at most 256).
 *
 * Oracles: those of every receive target (fuzz_rx.h), and: the device
 * answers with a CONFIG_ACK; role and auth mode never change over the link;
 * a refused config changes nothing (all or nothing); every value in force
 * is one qn_core_config_set accepts (heartbeat, handshake and retransmit 1 ms to
 * 1 h, misses 1-100, backoff base <= cap, node < 1024). */
#include <string.h>
#include "fuzz_rx.h"

#define HOUR_MS 3600000u

static fz_fixture_t fixture;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fz_fixture_session(&fixture, QN_AUTH_FRAME_MAC);
  return 0;
}

static void config_now(uint32_t cfg[QN_CFG_COUNT]) {
  for (int k = 0; k < QN_CFG_COUNT; k++) cfg[k] = qn_core_config_get(k);
}

static void check_ranges(const uint32_t c[QN_CFG_COUNT]) {
  static const int ms_keys[] = {QN_CFG_HEARTBEAT_MS, QN_CFG_BACKOFF_BASE_MS, QN_CFG_BACKOFF_CAP_MS, QN_CFG_HANDSHAKE_MS,
                                QN_CFG_RETX_MS,      QN_CFG_RTO_MIN_MS,      QN_CFG_RTO_MAX_MS};
  for (size_t i = 0; i < sizeof ms_keys / sizeof ms_keys[0]; i++)
    if (c[ms_keys[i]] < 1 || c[ms_keys[i]] > HOUR_MS)
      fuzz_fail("config key %d is %u ms, outside 1..1 h", ms_keys[i], c[ms_keys[i]]);
  uint32_t misses = c[QN_CFG_HEARTBEAT_MISS];
  if (misses < 1 || misses > 100) fuzz_fail("heartbeat misses (config key %d) is %u", QN_CFG_HEARTBEAT_MISS, misses);
  if (c[QN_CFG_BACKOFF_BASE_MS] > c[QN_CFG_BACKOFF_CAP_MS])
    fuzz_fail("backoff base %u ms above its cap %u ms", c[QN_CFG_BACKOFF_BASE_MS], c[QN_CFG_BACKOFF_CAP_MS]);
  if (c[QN_CFG_RTO_MIN_MS] > c[QN_CFG_RTO_MAX_MS])
    fuzz_fail("retransmission timeout floor %u ms above its ceiling %u ms", c[QN_CFG_RTO_MIN_MS], c[QN_CFG_RTO_MAX_MS]);
  if (c[QN_CFG_NODE] > 0x3FF) fuzz_fail("node id %u does not fit 10 bits", c[QN_CFG_NODE]);
}

/* The CONFIG_ACK's status field (field 1) and codec, from the server's
 * output since mark: 1 and the field, or 0 when no CONFIG_ACK came. The
 * field is the status as its codec carries it (protobuf zig-zags it, JSON
 * writes it signed): 0 is QN_OK in both, anything else a refusal. */
static int ack_status(const fz_ref_t *out, int mark, uint64_t *field, uint8_t *codec) {
  for (int i = out->count - 1; i >= mark; i--) {
    const fz_frame_t *f = &out->frames[i];
    if (f->raw[QN_H_TYPE] != QN_T_CONFIG_ACK || !fz_frame_accepted(f)) continue;
    uint32_t len = fz_le16(f->raw + QN_H_LENGTH), src = qn_core_app_buf() + QN_HEADER_SIZE;
    *codec = f->raw[QN_H_CODEC];
    memcpy(qn_core_mem() + src, f->raw + QN_HEADER_SIZE, len);
    int32_t n = qn_core_decode(*codec, src, (int32_t)len);
    if (n < 0) fuzz_fail("the CONFIG_ACK does not decode with its own codec %u (%d)", *codec, (int)n);
    for (int32_t k = 0; k < n; k++) {
      if (qn_core_msg_tag(k) != 1) continue;
      *field = qn_core_msg_value(k);
      return 1;
    }
    fuzz_fail("the CONFIG_ACK has no status field");
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t payload[QN_MAX_PAYLOAD];
  uint32_t before[QN_CFG_COUNT], after[QN_CFG_COUNT];
  FUZZ_GUARD();
  fz_rx_begin(&fixture);
  fz_in_t in = {data, size, 0};
  uint8_t c = fz_u8(&in);
  uint8_t codec = (c & 0x80) ? c : (c & 1) ? QN_CODEC_JSON : QN_CODEC_PB;
  uint8_t plan = fz_u8(&in);
  size_t plen = fz_bytes(&in, payload, sizeof payload);
  config_now(before);
  fz_ref_t *out = fz_rx_output();
  int mark = out->count;
  fz_rx_send(QN_T_CONFIG, QN_PRIO_CONTROL, codec, payload, plen);
  fz_rx_pull(SIZE_MAX);
  uint64_t status_field = 0;
  uint8_t ack_codec = 0;
  if (!ack_status(out, mark, &status_field, &ack_codec)) fuzz_fail("a CONFIG in a session got no CONFIG_ACK");
  config_now(after);
  if (after[QN_CFG_ROLE] != before[QN_CFG_ROLE] || after[QN_CFG_AUTH] != before[QN_CFG_AUTH])
    fuzz_fail("role or auth mode changed over the link");
  if (status_field != QN_OK && memcmp(before, after, sizeof before) != 0)
    fuzz_fail("a refused config (status field %llu in codec %u) changed the config", (unsigned long long)status_field,
              ack_codec);
  check_ranges(after);
  for (int i = 0; i < (plan & 7); i++) {
    fuzz_tick((int64_t)1 << (plan >> 3));
    fz_rx_app();
    fz_rx_pull(SIZE_MAX);
  }
  fz_rx_end();
  FUZZ_UNGUARD();
  return 0;
}
