/* Fuzz target decode: the payload codecs (protobuf wire format and JSON,
 * docs/PROTOCOL.md section 3) over hostile payloads.
 *
 * Input: selector u8 (bit 0: 0 protobuf, 1 JSON), then the payload (at
 * most QN_MAX_PAYLOAD bytes, the most a frame carries), placed where a
 * frame's payload sits (the application area + QN_HEADER_SIZE).
 *
 * Oracles: no trap; a refusal is ERR_DECODE or ERR_NO_SPACE (too many
 * fields); a bytes field points inside the payload (protobuf decodes in
 * place); what decodes re-encodes with the same codec and decodes again to
 * the same fields (a protobuf re-encoding is never longer); and a protobuf
 * table survives a trip through JSON with its values (JSON only loses the
 * kind of fixed-width fields, which become plain integers). */
#include <string.h>
#include "fuzz_core.h"

#define MAX_FIELDS 24

typedef struct {
  int32_t tag, kind;
  uint64_t value;
  uint32_t len;
  uint8_t bytes[QN_MAX_PAYLOAD];
} field_t;

static fuzz_core_t booted;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  FUZZ_GUARD();
  memset(fuzz_flash, 0xFF, sizeof fuzz_flash);
  fuzz_now = 1000000;
  fuzz_boot(QN_ROLE_SERVER, QN_AUTH_NONE);
  fuzz_save(&booted);
  FUZZ_UNGUARD();
  return 0;
}

/* Copy the decoded table out of the core (bytes by content). */
static int32_t table(field_t *t, int32_t n, uint32_t src, uint32_t src_len, int in_place) {
  uint32_t mem = qn_core_mem_size();
  for (int32_t i = 0; i < n; i++) {
    t[i].tag = qn_core_msg_tag(i);
    t[i].kind = qn_core_msg_kind(i);
    t[i].value = qn_core_msg_value(i);
    t[i].len = 0;
    if (t[i].kind != QN_K_BYTES) continue;
    t[i].len = qn_core_msg_len(i);
    if (t[i].len > QN_MAX_PAYLOAD || t[i].value > mem || t[i].len > mem - t[i].value)
      fuzz_fail("bytes field %d: %u bytes at %llu, outside the linear memory or longer than a payload", (int)i,
                t[i].len, (unsigned long long)t[i].value);
    if (in_place && (t[i].value < src || t[i].value + t[i].len > (uint64_t)src + src_len))
      fuzz_fail("protobuf bytes field %d points outside the payload it was decoded from", (int)i);
    memcpy(t[i].bytes, qn_core_mem() + t[i].value, t[i].len);
  }
  return n;
}

/* Integer value as a codec without a schema carries it: protobuf writes a
 * SINT zig-zagged and reads every varint back as UINT. */
static uint64_t as_pb(const field_t *f) {
  return f->kind == QN_K_SINT ? (f->value << 1) ^ (uint64_t)((int64_t)f->value >> 63) : f->value;
}

static void same_fields(const char *trip, const field_t *a, const field_t *b, int32_t n, int to_pb) {
  for (int32_t i = 0; i < n; i++) {
    int bytes_a = a[i].kind == QN_K_BYTES, bytes_b = b[i].kind == QN_K_BYTES;
    int same = a[i].tag == b[i].tag && bytes_a == bytes_b &&
               (bytes_a ? a[i].len == b[i].len && memcmp(a[i].bytes, b[i].bytes, a[i].len) == 0
                        : (to_pb ? as_pb(&a[i]) : a[i].value) == b[i].value);
    if (!same)
      fuzz_fail("%s: field %d changed (tag %d kind %d value %llu len %u -> tag %d kind %d value %llu len %u)", trip,
                (int)i, (int)a[i].tag, (int)a[i].kind, (unsigned long long)a[i].value, a[i].len, (int)b[i].tag,
                (int)b[i].kind, (unsigned long long)b[i].value, b[i].len);
  }
}

/* Encode the core's current table with codec at dst, decode it back, and
 * compare with t. A JSON encoding may outgrow a payload (escapes). */
static void round_trip(const char *trip, int32_t codec, const field_t *t, int32_t n, int from_json) {
  static field_t back[MAX_FIELDS];
  uint32_t dst = qn_core_tx_buf();
  int32_t e = qn_core_encode(codec, dst, QN_MAX_PAYLOAD);
  if (e == QN_ERR_NO_SPACE && codec == QN_CODEC_JSON) return;
  if (e < 0) fuzz_fail("%s: re-encoding what decoded failed with %d", trip, (int)e);
  int32_t m = qn_core_decode(codec, dst, e);
  if (m != n) fuzz_fail("%s: %d fields decoded, %d after re-encoding (status %d)", trip, (int)n, (int)m, (int)m);
  table(back, m, dst, (uint32_t)e, codec == QN_CODEC_PB);
  same_fields(trip, t, back, n, from_json && codec == QN_CODEC_PB);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static field_t t[MAX_FIELDS];
  FUZZ_GUARD();
  fuzz_load(&booted);
  fz_in_t in = {data, size, 0};
  int32_t codec = (fz_u8(&in) & 1) ? QN_CODEC_JSON : QN_CODEC_PB;
  uint32_t src = qn_core_app_buf() + QN_HEADER_SIZE;
  uint32_t len = (uint32_t)fz_bytes(&in, qn_core_mem() + src, QN_MAX_PAYLOAD);
  int32_t n = qn_core_decode(codec, src, (int32_t)len);
  if (n < 0) {
    if (n != QN_ERR_DECODE && n != QN_ERR_NO_SPACE)
      fuzz_fail("decoder refused with %d (not ERR_DECODE or ERR_NO_SPACE)", (int)n);
    FUZZ_UNGUARD();
    return 0;
  }
  if (n > MAX_FIELDS) fuzz_fail("decoder reports %d fields, more than the table holds", (int)n);
  table(t, n, src, len, codec == QN_CODEC_PB);
  if (codec == QN_CODEC_PB) {
    uint32_t dst = qn_core_tx_buf();
    int32_t e = qn_core_encode(QN_CODEC_PB, dst, QN_MAX_PAYLOAD);
    if (e > (int32_t)len) fuzz_fail("protobuf re-encoding is longer (%d) than the input (%u)", (int)e, len);
  }
  qn_core_decode(codec, src, (int32_t)len); /* the table again: a JSON table's bytes live in the decoder's scratch */
  round_trip(codec == QN_CODEC_PB ? "protobuf round trip" : "JSON round trip", codec, t, n, 0);
  qn_core_decode(codec, src, (int32_t)len);
  round_trip(codec == QN_CODEC_PB ? "protobuf -> JSON -> protobuf table" : "JSON -> protobuf -> table",
             codec == QN_CODEC_PB ? QN_CODEC_JSON : QN_CODEC_PB, t, n, codec == QN_CODEC_JSON);
  FUZZ_UNGUARD();
  return 0;
}
