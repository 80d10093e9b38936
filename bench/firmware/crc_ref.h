/* Plain-C CRC-32C over a 256-entry table, for the wasm2c overhead ratio:
 * crc32c_wordwise is the core's exact loop (assembly/crc32c.ts: one 32-bit
 * load per four bytes), crc32c_bytewise the textbook byte loop.
 * boards/common/qn_crc32c.c is the nibble-table variant. */
#ifndef CRC_REF_H
#define CRC_REF_H
#include <stdint.h>
uint32_t crc32c_bytewise(const uint8_t *p, uint32_t n);
uint32_t crc32c_wordwise(const uint8_t *p, uint32_t n);
#endif
