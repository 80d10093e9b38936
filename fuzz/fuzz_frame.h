/* fuzz_frame.h: the harness's own, independent view of QN frames
 * (docs/PROTOCOL.md sections 1, 2 and 6), written in plain C from the
 * document rather than from assembly/: the oracle that says whether a frame
 * the core delivered was validly framed and authenticated, and the client
 * side that builds the frames the fuzzer describes. */
#ifndef QN_FUZZ_FRAME_H
#define QN_FUZZ_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "fuzz_core.h"

/* Chaskey-12 (the auth mode 2 frame MAC): the 16-byte tag of n bytes. */
void fz_chaskey(const uint8_t key[16], const uint8_t *p, size_t n, uint8_t tag[16]);

/* A header as the fuzzer describes it; len is the length field, which may
 * disagree with the payload actually sent. */
typedef struct {
  uint8_t version, type, flags, codec, channel, reserved;
  uint16_t len;
  uint32_t session, packet, lsn, time;
} fz_hdr_t;

/* Build one frame on the wire: header, payload, MAC (computed under key
 * when key is set and flags carry QN_F_MAC, else the 8 bytes at mac), CRC-32C
 * (bit-flipped when bad_crc), header inverted, COBS and the delimiter.
 * Returns the wire length (out must hold FZ_WIRE_MAX). */
#define FZ_WIRE_MAX (2 * FZ_MAX_FRAME + 16)
size_t fz_frame_wire(const fz_hdr_t *h, const uint8_t *payload, size_t plen, const uint8_t *key, const uint8_t *mac,
                     int bad_crc, uint8_t *out);

/* A frame the reference decoder found intact in a byte stream: its raw
 * bytes (header un-inverted), and what held. */
typedef struct {
  uint8_t raw[FZ_MAX_FRAME];
  uint16_t n;
  uint8_t crc_ok, mac_flag, mac_ok;
} fz_frame_t;

/* The reference stream decoder: splits at 0x00, undoes COBS and the header
 * inversion, keeps every frame that passes the structural checks (length,
 * version) with its CRC and MAC verdicts. The MAC is checked under key (16
 * bytes) when one is set: fz_ref_set_key changes it between frames, as a
 * new session does. */
#define FZ_REF_FRAMES 512
#define FZ_SEG_MAX 512
typedef struct {
  uint8_t key[16];
  int have_key;
  uint8_t seg[FZ_SEG_MAX];
  size_t seglen;
  int overflow;
  fz_frame_t frames[FZ_REF_FRAMES];
  int count;
  int full; /* an intact frame found no room: a frame not found proves nothing */
} fz_ref_t;

void fz_ref_init(fz_ref_t *r);
void fz_ref_set_key(fz_ref_t *r, const uint8_t *key16);
void fz_ref_feed(fz_ref_t *r, const uint8_t *p, size_t n);
/* Would the protocol take this frame? Intact framing, version 2, and a
 * good CRC or (auth mode 2) a good MAC in its place. */
static inline int fz_frame_accepted(const fz_frame_t *f) { return f->crc_ok || (f->mac_flag && f->mac_ok); }
/* The accepted frame whose header and payload are exactly p[0..n), or
 * NULL: what a frame in the core's inbox must be. */
const fz_frame_t *fz_ref_find(const fz_ref_t *r, const uint8_t *p, size_t n);

/* Protocol Buffers, the few pieces the handshake needs. */
size_t fz_pb_uint(uint8_t *dst, uint32_t tag, uint64_t v);
size_t fz_pb_bytes(uint8_t *dst, uint32_t tag, const uint8_t *p, size_t n);
/* Find field tag in a protobuf payload: 1 and its value (varint, or the
 * address and length of a bytes field), 0 when absent or malformed. */
int fz_pb_find(const uint8_t *p, size_t n, uint32_t tag, uint64_t *v, const uint8_t **bytes, size_t *blen);

#endif /* QN_FUZZ_FRAME_H */
