/* mps2-an500 (QEMU -M mps2-an500): Cortex-M7 at 25 MHz, CMSDK UART0 with a
 * receive interrupt, SysTick clock, storage in a RAM region that survives
 * the firmware's own resets, semihosting for exit. */
#include <string.h>
#include "qn_port.h"
#include "qn_cm7.h"
#include "qn_byte_ring.h"

#define CLOCK_HZ 25000000u
#define BAUD 115200u /* QEMU ignores it on a pty; set for the register model */

/* CMSDK APB UART0 (QEMU hw/char/cmsdk-apb-uart.c). RX interrupt = IRQ 0. */
#define UART_BASE 0x40004000u
#define UART_DATA QN_REG(UART_BASE + 0x00u)
#define UART_STATE QN_REG(UART_BASE + 0x04u)
#define UART_CTRL QN_REG(UART_BASE + 0x08u)
#define UART_INTCLR QN_REG(UART_BASE + 0x0Cu)
#define UART_BAUDDIV QN_REG(UART_BASE + 0x10u)
#define STATE_TXFULL 1u
#define STATE_RXFULL 2u
#define STATE_RXOVR 8u
#define CTRL_TXEN 1u
#define CTRL_RXEN 2u
#define CTRL_RXINT 8u
#define INT_RX 2u
#define INT_RXOVR 8u
#define UART_RX_IRQ 0u

static qn_byte_ring_t rx, tx;
static volatile uint32_t overruns;

/* Boot cost: nanoseconds from reset to ready. Under -icount shift=0 this is
 * the instruction count; `make bootcost` reads it from QEMU's monitor. */
volatile uint32_t qn_boot_ns;

void qn_board_irq(uint32_t n) {
  if (n != UART_RX_IRQ) return;
  UART_INTCLR = INT_RX | INT_RXOVR;
  while (UART_STATE & STATE_RXFULL) {
    if (!qn_ring_put(&rx, (uint8_t)UART_DATA)) overruns++;
  }
  if (UART_STATE & STATE_RXOVR) {
    UART_STATE = STATE_RXOVR; /* write 1 to clear */
    overruns++;
  }
}

/* ---- storage: RAM that the reset handler does not clear (.storage) ---- */
#define STORE_SIZE 4096u
#define STORE_SECTOR 1024u
#define STORE_MAGIC 0x514E5354u /* "QNST": region initialised */
static struct {
  uint32_t magic;
  uint8_t data[STORE_SIZE];
} store __attribute__((section(".storage"), aligned(8)));

int32_t qn_port_init(void) {
  UART_BAUDDIV = CLOCK_HZ / BAUD;
  UART_CTRL = CTRL_TXEN | CTRL_RXEN | CTRL_RXINT;
  qn_cm7_nvic_enable(UART_RX_IRQ);
  /* QEMU zeroes RAM at power-on; real RAM holds noise. Either way, a
   * region without the magic word has never been set up: erase it all. */
  if (store.magic != STORE_MAGIC) {
    memset(store.data, 0xFF, STORE_SIZE);
    store.magic = STORE_MAGIC;
  }
  return QN_OK;
}

const char *qn_port_platform(void) { return "mps2-an500"; }
uint32_t qn_port_clock_hz(void) { return CLOCK_HZ; }
void qn_port_ready(void) { qn_boot_ns = (uint32_t)qn_systick_now_ns(); }
int32_t qn_port_stop_requested(void) { return 0; }
uint64_t qn_port_now_us(void) { return qn_systick_now_us(); }

void qn_port_reset(void) {
  qn_cm7_dsb_isb();
  QN_SCB_AIRCR = 0x05FA0004u; /* VECTKEY | SYSRESETREQ */
  for (;;) {
  }
}

/* Semihosting SYS_EXIT: reason ADP_Stopped_ApplicationExit ends QEMU with
 * status 0, ADP_Stopped_RunTimeErrorUnknown with 1. */
void qn_port_exit(int32_t status) {
  register uint32_t r0 __asm("r0") = 0x18u;
  register uint32_t r1 __asm("r1") = status == 0 ? 0x20026u : 0x20023u;
  __asm volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
  __asm volatile("cpsid i");
  for (;;) {
  }
}

int32_t qn_port_uart_read(uint8_t *dst, int32_t max) {
  int32_t n = 0;
  while (n < max && qn_ring_get(&rx, &dst[n])) n++;
  return n;
}

int32_t qn_port_uart_tx_space(void) { return (int32_t)qn_ring_space(&tx); }

int32_t qn_port_uart_write(const uint8_t *src, int32_t len) {
  int32_t n = 0;
  while (n < len && qn_ring_put(&tx, src[n])) n++;
  qn_port_uart_service();
  return n;
}

/* The CMSDK UART holds one byte; QEMU sends it at once, so this drains the
 * ring in one go unless the pty pushes back. */
void qn_port_uart_service(void) {
  uint8_t b;
  while (!(UART_STATE & STATE_TXFULL) && qn_ring_get(&tx, &b)) UART_DATA = b;
}

uint32_t qn_port_uart_overruns(void) { return overruns; }

void qn_port_idle(void) {
  __asm volatile("cpsid i");
  if (qn_ring_count(&rx) == 0 && qn_ring_count(&tx) == 0) qn_cm7_wfi();
  __asm volatile("cpsie i"); /* a pending interrupt runs now */
}

void qn_port_panic_write(const char *s) {
  while (*s) {
    while (UART_STATE & STATE_TXFULL) {
    }
    UART_DATA = (uint8_t)*s++;
  }
}

uint32_t qn_port_storage_size(void) { return STORE_SIZE; }
uint32_t qn_port_storage_sector(void) { return STORE_SECTOR; }
uint32_t qn_port_storage_unit(void) { return 1; }

static int in_range(uint32_t off, uint32_t len) { return off <= STORE_SIZE && len <= STORE_SIZE - off; }

int32_t qn_port_storage_read(uint32_t off, uint8_t *dst, uint32_t len) {
  if (!in_range(off, len)) return QN_ERR_ARG;
  memcpy(dst, store.data + off, len);
  return QN_OK;
}

/* NOR semantics: programming only clears bits, as on the real chips, so
 * journal code that forgets to erase fails here too. */
int32_t qn_port_storage_write(uint32_t off, const uint8_t *src, uint32_t len) {
  if (!in_range(off, len)) return QN_ERR_ARG;
  for (uint32_t i = 0; i < len; i++) store.data[off + i] &= src[i];
  return QN_OK;
}

int32_t qn_port_storage_erase(uint32_t off) {
  if (off % STORE_SECTOR != 0 || off >= STORE_SIZE) return QN_ERR_ARG;
  memset(store.data + off, 0xFF, STORE_SECTOR);
  return QN_OK;
}
