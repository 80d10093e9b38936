/* The harness's frame codec and reference decoder (fuzz_frame.h). */
#include <string.h>
#include "fuzz_frame.h"
#include "qn_crc32c.h"

/* ---- Chaskey-12, from the reference implementation (Mouha et al.) ---- */

#define ROTL(x, b) (uint32_t)(((x) << (b)) | ((x) >> (32 - (b))))
#define ROUND(v)                  \
  do {                            \
    v[0] += v[1];                 \
    v[1] = ROTL(v[1], 5) ^ v[0];  \
    v[0] = ROTL(v[0], 16);        \
    v[2] += v[3];                 \
    v[3] = ROTL(v[3], 8) ^ v[2];  \
    v[0] += v[3];                 \
    v[3] = ROTL(v[3], 13) ^ v[0]; \
    v[2] += v[1];                 \
    v[1] = ROTL(v[1], 7) ^ v[2];  \
    v[2] = ROTL(v[2], 16);        \
  } while (0)

static void times_two(uint32_t out[4], const uint32_t in[4]) {
  out[0] = (in[0] << 1) ^ (0x87u & (uint32_t)(0u - (in[3] >> 31)));
  out[1] = (in[1] << 1) | (in[0] >> 31);
  out[2] = (in[2] << 1) | (in[1] >> 31);
  out[3] = (in[3] << 1) | (in[2] >> 31);
}

void fz_chaskey(const uint8_t key[16], const uint8_t *p, size_t n, uint8_t tag[16]) {
  uint32_t k[4], k1[4], k2[4], v[4];
  for (int i = 0; i < 4; i++) k[i] = fz_le32(key + 4 * i);
  times_two(k1, k);
  times_two(k2, k1);
  memcpy(v, k, sizeof v);
  size_t full = n > 0 ? (n - 1) / 16 : 0; /* blocks before the last one */
  for (size_t b = 0; b < full; b++, p += 16) {
    for (int i = 0; i < 4; i++) v[i] ^= fz_le32(p + 4 * i);
    for (int r = 0; r < 12; r++) ROUND(v);
  }
  size_t rest = n - full * 16;
  uint8_t last[16] = {0};
  const uint32_t *l = k2;
  if (n > 0 && rest == 16) {
    memcpy(last, p, 16);
    l = k1;
  } else {
    memcpy(last, p, rest);
    last[rest] = 0x01;
  }
  for (int i = 0; i < 4; i++) v[i] ^= fz_le32(last + 4 * i) ^ l[i];
  for (int r = 0; r < 12; r++) ROUND(v);
  for (int i = 0; i < 4; i++) fz_put32(tag + 4 * i, v[i] ^ l[i]);
}

/* ---- building frames ---- */

static size_t cobs_encode(const uint8_t *in, size_t n, uint8_t *out) {
  size_t code_at = 0, o = 1;
  uint8_t code = 1;
  for (size_t i = 0; i < n; i++) {
    if (in[i] == 0) {
      out[code_at] = code;
      code_at = o++;
      code = 1;
      continue;
    }
    out[o++] = in[i];
    if (++code == 0xFF) {
      out[code_at] = code;
      code_at = o++;
      code = 1;
    }
  }
  out[code_at] = code;
  return o;
}

size_t fz_frame_wire(const fz_hdr_t *h, const uint8_t *payload, size_t plen, const uint8_t *key, const uint8_t *mac,
                     int bad_crc, uint8_t *out) {
  uint8_t raw[QN_HEADER_SIZE + 2 * QN_MAX_PAYLOAD + QN_MAC_BYTES + QN_CRC_SIZE];
  if (plen > 2 * QN_MAX_PAYLOAD) plen = 2 * QN_MAX_PAYLOAD;
  raw[QN_H_VERSION] = h->version;
  raw[QN_H_TYPE] = h->type;
  raw[QN_H_FLAGS] = h->flags;
  raw[QN_H_CODEC] = h->codec;
  raw[QN_H_CHANNEL] = h->channel;
  raw[QN_H_RESERVED] = h->reserved;
  fz_put16(raw + QN_H_LENGTH, h->len);
  fz_put32(raw + QN_H_SESSION, h->session);
  fz_put32(raw + QN_H_PACKET, h->packet);
  fz_put32(raw + QN_H_LSN, h->lsn);
  fz_put32(raw + QN_H_TIME, h->time);
  memcpy(raw + QN_HEADER_SIZE, payload, plen);
  size_t n = QN_HEADER_SIZE + plen;
  if (h->flags & QN_F_MAC) {
    uint8_t tag[16];
    if (key)
      fz_chaskey(key, raw, n, tag);
    else
      memcpy(tag, mac, QN_MAC_BYTES);
    memcpy(raw + n, tag, QN_MAC_BYTES);
    n += QN_MAC_BYTES;
  }
  uint32_t crc = qn_crc32c_buf(raw, n) ^ (bad_crc ? 0x00010000u : 0);
  fz_put32(raw + n, crc);
  n += QN_CRC_SIZE;
  for (int i = 0; i < QN_HEADER_SIZE; i++) raw[i] ^= 0xFF;
  size_t w = cobs_encode(raw, n, out);
  out[w++] = 0;
  return w;
}

/* ---- the reference decoder ---- */

void fz_ref_init(fz_ref_t *r) {
  r->have_key = 0;
  r->seglen = 0;
  r->overflow = 0;
  r->count = 0;
  r->full = 0;
}

void fz_ref_set_key(fz_ref_t *r, const uint8_t *key16) {
  r->have_key = key16 != NULL;
  if (key16) memcpy(r->key, key16, 16);
}

/* COBS-decode one delimiter-free segment; -1 when a block runs past its
 * end or the frame outgrows FZ_MAX_FRAME. */
static int cobs_decode(const uint8_t *seg, size_t n, uint8_t *out) {
  size_t i = 0, o = 0;
  while (i < n) {
    uint8_t code = seg[i++];
    if (i + code - 1 > n || o + code - 1 > FZ_MAX_FRAME) return -1;
    memcpy(out + o, seg + i, code - 1u);
    o += code - 1u;
    i += code - 1u;
    if (code != 0xFF && i < n) {
      if (o >= FZ_MAX_FRAME) return -1;
      out[o++] = 0;
    }
  }
  return (int)o;
}

static void segment_done(fz_ref_t *r) {
  if (r->overflow || r->seglen == 0) return;
  if (r->count == FZ_REF_FRAMES) {
    r->full = 1;
    return;
  }
  fz_frame_t *f = &r->frames[r->count];
  int n = cobs_decode(r->seg, r->seglen, f->raw);
  if (n < QN_HEADER_SIZE + QN_CRC_SIZE) return;
  for (int i = 0; i < QN_HEADER_SIZE; i++) f->raw[i] ^= 0xFF;
  uint16_t len = fz_le16(f->raw + QN_H_LENGTH);
  uint8_t flags = f->raw[QN_H_FLAGS];
  if (len > QN_MAX_PAYLOAD) return;
  if ((flags & QN_F_TRACE) && len < QN_TRACE_BYTES) return;
  int mac = (flags & QN_F_MAC) != 0;
  int body = QN_HEADER_SIZE + len + (mac ? QN_MAC_BYTES : 0);
  if (n != body + QN_CRC_SIZE) return;
  if (f->raw[QN_H_VERSION] != QN_PROTOCOL_VERSION) return;
  f->n = (uint16_t)n;
  f->crc_ok = fz_le32(f->raw + body) == qn_crc32c_buf(f->raw, (size_t)body);
  f->mac_flag = (uint8_t)mac;
  f->mac_ok = 0;
  if (mac && r->have_key) {
    uint8_t tag[16];
    fz_chaskey(r->key, f->raw, (size_t)(QN_HEADER_SIZE + len), tag);
    f->mac_ok = memcmp(tag, f->raw + QN_HEADER_SIZE + len, QN_MAC_BYTES) == 0;
  }
  r->count++;
}

void fz_ref_feed(fz_ref_t *r, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] == 0) {
      segment_done(r);
      r->seglen = 0;
      r->overflow = 0;
    } else if (r->seglen < FZ_SEG_MAX) {
      r->seg[r->seglen++] = p[i];
    } else {
      r->overflow = 1;
    }
  }
}

const fz_frame_t *fz_ref_find(const fz_ref_t *r, const uint8_t *p, size_t n) {
  if (n < QN_HEADER_SIZE) return NULL;
  for (int i = 0; i < r->count; i++) {
    const fz_frame_t *f = &r->frames[i];
    if (!fz_frame_accepted(f)) continue;
    if (QN_HEADER_SIZE + (size_t)fz_le16(f->raw + QN_H_LENGTH) == n && memcmp(f->raw, p, n) == 0) return f;
  }
  return NULL;
}

/* ---- protobuf pieces ---- */

static size_t varint(uint8_t *dst, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    dst[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  dst[n++] = (uint8_t)v;
  return n;
}

size_t fz_pb_uint(uint8_t *dst, uint32_t tag, uint64_t v) {
  size_t n = varint(dst, (uint64_t)tag << 3);
  return n + varint(dst + n, v);
}

size_t fz_pb_bytes(uint8_t *dst, uint32_t tag, const uint8_t *p, size_t len) {
  size_t n = varint(dst, (uint64_t)tag << 3 | 2);
  n += varint(dst + n, len);
  memcpy(dst + n, p, len);
  return n + len;
}

static int read_varint(const uint8_t *p, size_t n, size_t *at, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*at >= n) return 0;
    uint8_t b = p[(*at)++];
    *v |= (uint64_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) return 1;
  }
  return 0;
}

int fz_pb_find(const uint8_t *p, size_t n, uint32_t tag, uint64_t *v, const uint8_t **bytes, size_t *blen) {
  size_t at = 0;
  while (at < n) {
    uint64_t key, x = 0;
    if (!read_varint(p, n, &at, &key)) return 0;
    unsigned wt = (unsigned)(key & 7);
    const uint8_t *b = NULL;
    size_t bl = 0;
    if (wt == 0) {
      if (!read_varint(p, n, &at, &x)) return 0;
    } else if (wt == 2) {
      if (!read_varint(p, n, &at, &x) || x > n - at) return 0;
      b = p + at;
      bl = (size_t)x;
      at += bl;
    } else if (wt == 5) {
      if (n - at < 4) return 0;
      x = fz_le32(p + at);
      at += 4;
    } else if (wt == 1) {
      if (n - at < 8) return 0;
      x = fz_le32(p + at) | (uint64_t)fz_le32(p + at + 4) << 32;
      at += 8;
    } else {
      return 0;
    }
    if ((key >> 3) == tag) {
      if (v) *v = x;
      if (bytes) *bytes = b;
      if (blen) *blen = bl;
      return 1;
    }
  }
  return 0;
}
