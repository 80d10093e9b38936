/* The core's imports (declared in build/qn_api.h, forwarded by the
 * generated qn_api_wasm2c.c): storage and entropy over the port.
 *
 * The core passes addresses in its linear memory; each is checked against
 * the memory's size here, so a core bug becomes QN_ERR_ARG instead of a
 * read or write outside the linear memory. Storage offsets are checked by
 * the port itself (qn_port.h: QN_ERR_ARG, nothing done). */
#include "qn_api.h"
#include "qn_port.h"

/* Is [ptr, ptr+len) inside the linear memory? Written so it cannot wrap. */
static int in_mem(qn_addr_t ptr, uint32_t len) {
  uint32_t size = qn_core_mem_size();
  return ptr <= size && len <= size - ptr;
}

int32_t qn_import_qn_storage_read(uint32_t off, qn_addr_t ptr, uint32_t len) {
  if (!in_mem(ptr, len)) return QN_ERR_ARG;
  return qn_port_storage_read(off, qn_core_mem() + ptr, len);
}

int32_t qn_import_qn_storage_write(uint32_t off, qn_addr_t ptr, uint32_t len) {
  if (!in_mem(ptr, len)) return QN_ERR_ARG;
  return qn_port_storage_write(off, qn_core_mem() + ptr, len);
}

/* Erase a whole number of sectors. An unaligned range is refused before
 * anything is erased: erasing more than asked would destroy the other
 * journal half. */
int32_t qn_import_qn_storage_erase(uint32_t off, uint32_t len) {
  uint32_t sector = qn_port_storage_sector(), size = qn_port_storage_size();
  if (sector == 0 || off % sector != 0 || len % sector != 0) return QN_ERR_ARG;
  if (off > size || len > size - off) return QN_ERR_ARG;
  for (uint32_t at = off; at < off + len; at += sector) {
    int32_t st = qn_port_storage_erase(at);
    if (st != QN_OK) return st;
  }
  return QN_OK;
}

int32_t qn_import_qn_entropy(qn_addr_t ptr, uint32_t len) {
  if (!in_mem(ptr, len)) return QN_ERR_ARG;
  return qn_port_entropy(qn_core_mem() + ptr, len);
}
