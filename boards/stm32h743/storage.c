/* Journal storage on the STM32H743: the last two 128 KiB sectors of flash
 * bank 2 (sectors 6 and 7, 0x081C0000..0x081FFFFF, 256 KiB: one sector per
 * journal half), programmed through the bank 2 registers (RM0433 4.3.9 and
 * 4.3.10). The flash programs 256-bit words (32 bytes) with ECC:
 * each word can be written once per erase, so offset and length must be
 * multiples of 32. Code runs from bank 1, so it keeps running while bank 2
 * is busy. */
#include <string.h>
#include "qn_port.h"
#include "stm32h743.h"

#define SECTOR_SIZE (128u * 1024u)
#define SECTORS 2u
#define STORE_SIZE (SECTORS * SECTOR_SIZE)
#define FLASH_WORD 32u
#define FIRST_SECTOR 6u /* bank 2 sector number of offset 0 */

#define CR_LOCK (1u << 0)
#define CR_PG (1u << 1)
#define CR_SER (1u << 2)
#define CR_PSIZE_X64 (3u << 4) /* 2.7-3.6 V supply (Nucleo: 3.3 V) */
#define CR_START (1u << 7)
#define CR_SNB(n) ((n) << 8)
#define SR_BSY (1u << 0)
#define SR_QW (1u << 2)
/* WRPERR PGSERR STRBERR INCERR OPERR RDPERR RDSERR SNECCERR DBECCERR */
#define SR_ERRORS \
  ((1u << 17) | (1u << 18) | (1u << 19) | (1u << 21) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))

extern uint8_t qn_storage_start[];

static void unlock(void) {
  if (FLASH_CR2 & CR_LOCK) {
    FLASH_KEYR2 = 0x45670123u;
    FLASH_KEYR2 = 0xCDEF89ABu;
  }
}

/* Wait for the bank to finish, end the operation (mode bits off, then
 * lock: a locked CR2 ignores writes) and turn its error flags into a status. */
static int32_t finish(uint32_t mode) {
  while (FLASH_SR2 & (SR_QW | SR_BSY)) {
  }
  uint32_t err = FLASH_SR2 & SR_ERRORS;
  FLASH_CCR2 = err | (1u << 16); /* clear errors and EOP */
  FLASH_CR2 &= ~mode;
  FLASH_CR2 |= CR_LOCK;
  return err ? QN_ERR_STORAGE : QN_OK;
}

uint32_t qn_port_storage_size(void) { return STORE_SIZE; }
uint32_t qn_port_storage_sector(void) { return SECTOR_SIZE; }
uint32_t qn_port_storage_unit(void) { return FLASH_WORD; }

static int in_range(uint32_t off, uint32_t len) { return off <= STORE_SIZE && len <= STORE_SIZE - off; }

int32_t qn_port_storage_read(uint32_t off, uint8_t *dst, uint32_t len) {
  if (!in_range(off, len)) return QN_ERR_ARG;
  memcpy(dst, qn_storage_start + off, len); /* non-cacheable (MPU): always fresh */
  return QN_OK;
}

int32_t qn_port_storage_write(uint32_t off, const uint8_t *src, uint32_t len) {
  if (!in_range(off, len) || off % FLASH_WORD || len % FLASH_WORD) return QN_ERR_ARG;
  unlock();
  FLASH_CCR2 = SR_ERRORS;
  FLASH_CR2 = CR_PSIZE_X64 | CR_PG;
  for (uint32_t done = 0; done < len; done += FLASH_WORD) {
    uint32_t word[FLASH_WORD / 4];
    memcpy(word, src + done, FLASH_WORD); /* src may be unaligned */
    volatile uint32_t *dst = (volatile uint32_t *)(qn_storage_start + off + done);
    for (uint32_t i = 0; i < FLASH_WORD / 4; i++) dst[i] = word[i];
    qn_cm7_dsb_isb(); /* the eighth word starts the write */
    while (FLASH_SR2 & SR_QW) {
    }
    if (FLASH_SR2 & SR_ERRORS) break;
  }
  return finish(CR_PG);
}

int32_t qn_port_storage_erase(uint32_t off) {
  if (off % SECTOR_SIZE != 0 || off >= STORE_SIZE) return QN_ERR_ARG;
  unlock();
  FLASH_CCR2 = SR_ERRORS;
  FLASH_CR2 = CR_PSIZE_X64 | CR_SER | CR_SNB(FIRST_SECTOR + off / SECTOR_SIZE);
  FLASH_CR2 |= CR_START;
  return finish(CR_SER | CR_START);
}
