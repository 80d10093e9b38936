/* A single-producer single-consumer byte ring for UART buffers: one side
 * runs in the interrupt, the other in the main loop. Size is a power of
 * two; head and tail run freely and only their difference matters, so no
 * lock is needed on a single core. */
#ifndef QN_BYTE_RING_H
#define QN_BYTE_RING_H

#include <stdint.h>

#define QN_RING_SIZE 256u

typedef struct {
  volatile uint32_t head, tail; /* head: next write; tail: next read */
  uint8_t buf[QN_RING_SIZE];
} qn_byte_ring_t;

static inline uint32_t qn_ring_count(const qn_byte_ring_t *r) { return r->head - r->tail; }
static inline uint32_t qn_ring_space(const qn_byte_ring_t *r) { return QN_RING_SIZE - qn_ring_count(r); }

static inline int qn_ring_put(qn_byte_ring_t *r, uint8_t b) {
  if (qn_ring_space(r) == 0) return 0;
  r->buf[r->head & (QN_RING_SIZE - 1u)] = b;
  __asm volatile("" ::: "memory"); /* byte before index */
  r->head++;
  return 1;
}

static inline int qn_ring_get(qn_byte_ring_t *r, uint8_t *b) {
  if (qn_ring_count(r) == 0) return 0;
  *b = r->buf[r->tail & (QN_RING_SIZE - 1u)];
  __asm volatile("" ::: "memory");
  r->tail++;
  return 1;
}

/* Move up to max bytes out of the ring; returns how many. */
static inline int32_t qn_ring_read(qn_byte_ring_t *r, uint8_t *dst, int32_t max) {
  int32_t n = 0;
  while (n < max && qn_ring_get(r, &dst[n])) n++;
  return n;
}

/* Move up to len bytes into the ring; returns how many it took. */
static inline int32_t qn_ring_write(qn_byte_ring_t *r, const uint8_t *src, int32_t len) {
  int32_t n = 0;
  while (n < len && qn_ring_put(r, src[n])) n++;
  return n;
}

#endif /* QN_BYTE_RING_H */
