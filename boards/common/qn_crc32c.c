/* CRC-32C, nibble at a time (see qn_crc32c.h). */
#include "qn_crc32c.h"

/* T[i] = CRC of nibble i shifted through four rounds of the reflected
 * polynomial 0x82F63B78. */
static const uint32_t T[16] = {
    0x00000000u, 0x105EC76Fu, 0x20BD8EDEu, 0x30E349B1u, 0x417B1DBCu, 0x5125DAD3u, 0x61C69362u, 0x7198540Du,
    0x82F63B78u, 0x92A8FC17u, 0xA24BB5A6u, 0xB21572C9u, 0xC38D26C4u, 0xD3D3E1ABu, 0xE330A81Au, 0xF36E6F75u,
};

uint32_t qn_crc32c_update(uint32_t crc, const uint8_t *p, size_t n) {
  while (n--) {
    crc ^= *p++;
    crc = (crc >> 4) ^ T[crc & 15u];
    crc = (crc >> 4) ^ T[crc & 15u];
  }
  return crc;
}

uint32_t qn_crc32c_buf(const uint8_t *p, size_t n) { return qn_crc32c_final(qn_crc32c_update(QN_CRC32C_INIT, p, n)); }
