/* CRC-32C (Castagnoli) in plain C: reflected polynomial 0x82F63B78, init
 * and final xor 0xFFFFFFFF, the same CRC as the core's framing and as
 * tools/crc32c.mjs. A 16-entry (nibble) table: 64 bytes of constants,
 * about 10 instructions a byte on a Cortex-M7. The firmware checks its own
 * image with it; bench/ can use it as the plain-C reference.
 *
 *   uint32_t c = QN_CRC32C_INIT;
 *   c = qn_crc32c_update(c, part1, n1);
 *   c = qn_crc32c_update(c, part2, n2);
 *   uint32_t crc = qn_crc32c_final(c);     // == qn_crc32c_buf(whole, n1+n2)
 */
#ifndef QN_CRC32C_H
#define QN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#define QN_CRC32C_INIT 0xFFFFFFFFu

uint32_t qn_crc32c_update(uint32_t crc, const uint8_t *p, size_t n);
static inline uint32_t qn_crc32c_final(uint32_t crc) { return crc ^ 0xFFFFFFFFu; }
/* One-shot CRC-32C of n bytes ("123456789" gives 0xE3069283). */
uint32_t qn_crc32c_buf(const uint8_t *p, size_t n);

#endif /* QN_CRC32C_H */
