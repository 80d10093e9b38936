/* mps2-an500 (QEMU -M mps2-an500): Cortex-M7 at 25 MHz, CMSDK UART0 with a
 * receive interrupt, the FPGA's cycle counter as clock, storage at the top of the code region
 * (survives QEMU's resets), semihosting for exit. No RNG in the model: the
 * entropy below is NOT secure (emulation only). */
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

/* Boot cost: nanoseconds from reset to ready. Under -icount shift=0 this is
 * the instruction count; `make bootcost` reads it from QEMU's monitor. */
volatile uint32_t qn_boot_ns;

void qn_board_irq(uint32_t n) {
  if (n != UART_RX_IRQ) return;
  UART_INTCLR = INT_RX | INT_RXOVR;
  while (UART_STATE & STATE_RXFULL) {
    if (!qn_ring_put(&qn_uart_rx, (uint8_t)UART_DATA)) qn_uart_overruns++;
  }
  if (UART_STATE & STATE_RXOVR) {
    UART_STATE = STATE_RXOVR; /* write 1 to clear */
    qn_uart_overruns++;
  }
}

/* ---- storage: the top of the code region (mps2-an500.ld) ----
 * QEMU's code region is RAM standing in for flash. The linker places no
 * section there, so QEMU's reset does not reload it: data survives a
 * system reset as it would in flash. A metadata word marks the region as
 * formatted; the boot counter beside it feeds the entropy mixer. */
#define STORE_SECTOR 4096u
#define STORE_MAGIC 0x514E5354u /* "QNST": region formatted */
extern uint8_t qn_storage_start[], qn_storage_size[];
extern volatile uint32_t qn_storage_meta[]; /* [0] magic, [1] boot count */
#define STORE_SIZE ((uint32_t)(uintptr_t)qn_storage_size)

static uint32_t boots;

int32_t qn_port_init(void) {
  UART_BAUDDIV = CLOCK_HZ / BAUD;
  UART_CTRL = CTRL_TXEN | CTRL_RXEN | CTRL_RXINT;
  qn_cm7_nvic_enable(UART_RX_IRQ);
  /* A new QEMU starts the region at zero; real RAM would hold noise.
   * Either way, no magic word means never formatted: erase it all. */
  if (qn_storage_meta[0] != STORE_MAGIC) {
    memset(qn_storage_start, 0xFF, STORE_SIZE);
    qn_storage_meta[1] = 0;
    qn_storage_meta[0] = STORE_MAGIC;
  }
  boots = ++qn_storage_meta[1];
  return QN_OK;
}
const char *qn_port_platform(void) { return "mps2-an500"; }
uint32_t qn_port_clock_hz(void) { return CLOCK_HZ; }
void qn_port_ready(void) { qn_boot_ns = (uint32_t)qn_systick_now_ns(); }
int32_t qn_port_stop_requested(void) { return 0; }

/* ---- clock: the FPGA's free-running cycle counter (FPGAIO COUNTER) ----
 * Not a count of SysTick's millisecond interrupts: QEMU takes the SysTick
 * periods that fell due while the emulator was not scheduled as one
 * interrupt, so such a count runs slow on a loaded host, while the counter
 * is computed from QEMU's virtual clock and loses nothing. SysTick still
 * wakes the main loop every millisecond. PRESCALE is 0 from reset: one count
 * per 25 MHz cycle, a 32-bit wrap every 171 s. The high word is kept here,
 * so the clock must be read at least once a wrap: the main loop (its only
 * reader) reads it every turn. */
#define FPGAIO_COUNTER QN_REG(0x40028018u)
static uint32_t clock_low, clock_high;

uint64_t qn_port_now_us(void) {
  uint32_t c = FPGAIO_COUNTER;
  if (c < clock_low) clock_high++;
  clock_low = c;
  return (((uint64_t)clock_high << 32) | c) / (CLOCK_HZ / 1000000u);
}

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

#ifndef QN_UART_PACE_BAUD
/* The CMSDK UART holds one byte; QEMU sends it at once, so this drains the
 * ring in one go unless the pty pushes back. */
void qn_port_uart_service(void) {
  uint8_t b;
  while (!(UART_STATE & STATE_TXFULL) && qn_ring_get(&qn_uart_tx, &b)) UART_DATA = b;
}
#else
/* Bench builds only (QN_UART_PACE_BAUD, e.g. 57600): QEMU's UART has no
 * line rate, so the device's transmit side never backs up and priority
 * traffic has nothing to overtake. Paced by the clock, one byte per ten
 * bit times, it does: the core's outbox and the transmit ring fill as on
 * a real wire, and the emergency-under-bulk figures mean something. */
#define PACE_NS (10000000000ull / QN_UART_PACE_BAUD)
static uint64_t line_free_ns; /* when the line can take the next byte */

void qn_port_uart_service(void) {
  uint64_t now = qn_systick_now_ns();
  if (now > line_free_ns + PACE_NS) line_free_ns = now; /* idle line: no burst */
  uint8_t b;
  while (line_free_ns <= now && !(UART_STATE & STATE_TXFULL) && qn_ring_get(&qn_uart_tx, &b)) {
    UART_DATA = b;
    line_free_ns += PACE_NS;
  }
}
#endif

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
  memcpy(dst, qn_storage_start + off, len);
  return QN_OK;
}

/* NOR semantics: programming only clears bits, as on the real chips, so
 * journal code that forgets to erase fails here too. */
int32_t qn_port_storage_write(uint32_t off, const uint8_t *src, uint32_t len) {
  if (!in_range(off, len)) return QN_ERR_ARG;
  for (uint32_t i = 0; i < len; i++) qn_storage_start[off + i] &= src[i];
  return QN_OK;
}

int32_t qn_port_storage_erase(uint32_t off) {
  if (off % STORE_SECTOR != 0 || off >= STORE_SIZE) return QN_ERR_ARG;
  memset(qn_storage_start + off, 0xFF, STORE_SECTOR);
  return QN_OK;
}

/* ---- entropy: NOT SECURE, emulation only (qn_port.h) ----
 * QEMU's mps2-an500 has no RNG. Each word mixes the SysTick down-counter,
 * the microsecond clock, the persistent boot counter and a call counter
 * through a multiply-xorshift finaliser (MurmurHash3's fmix32) chained on
 * its own state. Nonces differ between calls and across resets, but
 * anyone who knows the boot count and timing can predict them; under
 * -icount the sequence repeats exactly. A real board needs a real RNG. */
static uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

int32_t qn_port_entropy(uint8_t *dst, uint32_t len) {
  static uint32_t state, calls;
  state = fmix32(state ^ boots * 0x9E3779B9u ^ ++calls);
  for (uint32_t i = 0; i < len; i += 4) {
    uint32_t t = QN_REG(0xE000E018u) ^ (uint32_t)qn_systick_now_us() << 8; /* SYST_CVR, time */
    state = fmix32(state + 0x9E3779B9u + t);
    for (uint32_t k = 0; k < 4 && i + k < len; k++) dst[i + k] = (uint8_t)(state >> (8 * k));
  }
  return QN_OK;
}
