/* A single-producer single-consumer byte ring for UART buffers: one side
 * runs in the interrupt, the other in the main loop. Size is a power of
 * two; head and tail run freely and only their difference matters, so no
 * lock is needed on a single core. The 0x00 bytes in and out are counted
 * the same way: a 0x00 ends a QN frame, so the reader can tell a whole
 * frame waiting from the first bytes of one (qn_ring_frame_ready). */
#ifndef QN_BYTE_RING_H
#define QN_BYTE_RING_H

#include <stdint.h>

#define QN_RING_SIZE 256u

typedef struct {
  volatile uint32_t head, tail; /* head: next write; tail: next read */
  volatile uint32_t zeros_in;   /* 0x00 bytes put (after head moved) */
  uint32_t zeros_out;           /* 0x00 bytes taken */
  uint8_t buf[QN_RING_SIZE];
} qn_byte_ring_t;

static inline uint32_t qn_ring_count(const qn_byte_ring_t *r) { return r->head - r->tail; }
static inline uint32_t qn_ring_space(const qn_byte_ring_t *r) { return QN_RING_SIZE - qn_ring_count(r); }

static inline int qn_ring_put(qn_byte_ring_t *r, uint8_t b) {
  if (qn_ring_space(r) == 0) return 0;
  r->buf[r->head & (QN_RING_SIZE - 1u)] = b;
  __asm volatile("" ::: "memory"); /* byte before index */
  r->head++;
  if (b == 0) r->zeros_in++; /* after head: a counted 0x00 is readable */
  return 1;
}

static inline int qn_ring_get(qn_byte_ring_t *r, uint8_t *b) {
  if (qn_ring_count(r) == 0) return 0;
  *b = r->buf[r->tail & (QN_RING_SIZE - 1u)];
  __asm volatile("" ::: "memory");
  r->tail++;
  if (*b == 0) r->zeros_out++;
  return 1;
}

/* Half full: bytes move on whether or not a frame end is among them (a
 * frame longer than half the ring, or garbage with no 0x00). */
static inline int qn_ring_half_full(const qn_byte_ring_t *r) { return qn_ring_count(r) >= QN_RING_SIZE / 2u; }

/* A whole frame waits (its 0x00 arrived), or the ring is half full: worth
 * a turn of the main loop. A lone first byte of a frame is not. */
static inline int qn_ring_frame_ready(const qn_byte_ring_t *r) {
  return r->zeros_in != r->zeros_out || qn_ring_half_full(r);
}

/* Move up to max bytes out of the ring; returns how many. */
static inline int32_t qn_ring_read(qn_byte_ring_t *r, uint8_t *dst, int32_t max) {
  int32_t n = 0;
  while (n < max && qn_ring_get(r, &dst[n])) n++;
  return n;
}

/* Like qn_ring_read, but only whole frames: the bytes up to the last 0x00
 * in the ring, leaving the start of a frame still arriving for a later
 * call. Everything when the ring is half full (a frame longer than half
 * the ring, or garbage with no 0x00, still moves on). The decoder could
 * do nothing with a partial frame but keep it: handed over whole, a frame
 * costs one qn_core_rx call instead of one per loop turn it took to arrive. */
static inline int32_t qn_ring_read_frames(qn_byte_ring_t *r, uint8_t *dst, int32_t max) {
  if (qn_ring_half_full(r)) return qn_ring_read(r, dst, max);
  uint32_t ends = r->zeros_in - r->zeros_out;
  int32_t n = 0;
  while (ends != 0 && n < max && qn_ring_get(r, &dst[n])) {
    if (dst[n] == 0) ends--;
    n++;
  }
  return n;
}

/* Move up to len bytes into the ring; returns how many it took. */
static inline int32_t qn_ring_write(qn_byte_ring_t *r, const uint8_t *src, int32_t len) {
  int32_t n = 0;
  while (n < len && qn_ring_put(r, src[n])) n++;
  return n;
}

#endif /* QN_BYTE_RING_H */
