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
 * is one qn_config_set accepts (heartbeat, handshake and retransmit 1 ms to
 * 1 h, misses 1-100, backoff base <= cap, node < 1024). */
#include <string.h>
#include "fuzz_rx.h"

#define CFG_KEYS 10
#define CODEC_PB 1
#define HOUR_MS 3600000u

static fz_fixture_t fixture;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fz_fixture_session(&fixture, 2);
  return 0;
}

static void config_now(uint32_t cfg[CFG_KEYS]) {
  for (int k = 0; k < CFG_KEYS; k++) cfg[k] = qn_config_get(k);
}

static void check_ranges(const uint32_t c[CFG_KEYS]) {
  static const int ms_keys[] = {2, 4, 5, 6, 7};
  for (size_t i = 0; i < sizeof ms_keys / sizeof ms_keys[0]; i++)
    if (c[ms_keys[i]] < 1 || c[ms_keys[i]] > HOUR_MS)
      fuzz_fail("config key %d is %u ms, outside 1..1 h", ms_keys[i], c[ms_keys[i]]);
  if (c[3] < 1 || c[3] > 100) fuzz_fail("config key 3 (heartbeat misses) is %u", c[3]);
  if (c[4] > c[5]) fuzz_fail("backoff base %u ms above its cap %u ms", c[4], c[5]);
  if (c[9] > 0x3FF) fuzz_fail("node id %u does not fit 10 bits", c[9]);
}

/* The CONFIG_ACK's status (field 1), from the server's output since mark:
 * 1 and the status, or 0 when no CONFIG_ACK came. */
static int ack_status(const fz_ref_t *out, int mark, int64_t *status) {
  for (int i = out->count - 1; i >= mark; i--) {
    const fz_frame_t *f = &out->frames[i];
    if (f->raw[1] != T_CONFIG_ACK || !fz_frame_accepted(f)) continue;
    uint32_t len = fz_le16(f->raw + 6), src = qn_app_buf() + FZ_HDR;
    memcpy(qn_mem() + src, f->raw + FZ_HDR, len);
    int32_t n = qn_decode(f->raw[3], src, (int32_t)len);
    if (n < 0) fuzz_fail("the CONFIG_ACK does not decode with its own codec %u (%d)", f->raw[3], (int)n);
    for (int32_t k = 0; k < n; k++) {
      if (qn_msg_tag(k) != 1) continue;
      uint64_t v = qn_msg_value(k);
      /* Protobuf zig-zags a status; JSON writes it signed. */
      *status = f->raw[3] == CODEC_PB ? (int64_t)(v >> 1) ^ -(int64_t)(v & 1) : (int64_t)v;
      return 1;
    }
    fuzz_fail("the CONFIG_ACK has no status field");
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t payload[FZ_MAX_PAYLOAD];
  uint32_t before[CFG_KEYS], after[CFG_KEYS];
  FUZZ_GUARD();
  fz_rx_begin(&fixture);
  fz_in_t in = {data, size, 0};
  uint8_t c = fz_u8(&in);
  uint8_t codec = (c & 0x80) ? c : (uint8_t)(CODEC_PB + (c & 1));
  uint8_t plan = fz_u8(&in);
  size_t plen = fz_bytes(&in, payload, sizeof payload);
  config_now(before);
  fz_ref_t *out = fz_rx_output();
  int mark = out->count;
  fz_rx_send(T_CONFIG, 0x01, codec, payload, plen);
  fz_rx_pull(SIZE_MAX);
  int64_t status = 0;
  if (!ack_status(out, mark, &status)) fuzz_fail("a CONFIG in a session got no CONFIG_ACK");
  config_now(after);
  if (after[0] != before[0] || after[1] != before[1]) fuzz_fail("role or auth mode changed over the link");
  if (status != QN_OK && memcmp(before, after, sizeof before) != 0)
    fuzz_fail("a refused config (status %lld) changed the config", (long long)status);
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
