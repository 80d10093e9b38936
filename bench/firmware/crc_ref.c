#include "crc_ref.h"

/* Filled on first use, like the core fills its table at qn_init. */
static uint32_t table[256];
static int ready;

static void fill(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  ready = 1;
}

uint32_t crc32c_bytewise(const uint8_t *p, uint32_t n) {
  if (!ready) fill();
  uint32_t crc = 0xFFFFFFFFu;
  for (uint32_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

/* The core's exact loop (assembly/crc32c.ts): one 32-bit load per four
 * bytes, then four table steps; the tail byte by byte. */
uint32_t crc32c_wordwise(const uint8_t *p, uint32_t n) {
  if (!ready) fill();
  uint32_t crc = 0xFFFFFFFFu, i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t w;
    __builtin_memcpy(&w, p + i, 4);
    crc ^= w;
    crc = table[crc & 0xFFu] ^ (crc >> 8);
    crc = table[crc & 0xFFu] ^ (crc >> 8);
    crc = table[crc & 0xFFu] ^ (crc >> 8);
    crc = table[crc & 0xFFu] ^ (crc >> 8);
  }
  for (; i < n; i++) crc = table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}
