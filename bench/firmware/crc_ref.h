/* Plain-C CRC-32C, byte at a time over a 256-entry table: the same
 * algorithm as the core's assembly/crc32c.ts, for the wasm2c overhead
 * ratio (boards/common/qn_crc32c.c is the nibble-table variant). */
#ifndef CRC_REF_H
#define CRC_REF_H
#include <stdint.h>
uint32_t crc32c_bytewise(const uint8_t *p, uint32_t n);
#endif
