/* A blank port: copy boards/template to boards/<name>, then replace each
 * stub below (docs/PORTING.md walks through it in order). Every stub fails
 * on purpose: qn_port_init answers QN_ERR_NOT_BUILT, so a firmware built
 * on an unfinished port stops at qn_start instead of running on guesses.
 * The full contract of each function is in boards/include/qn_port.h.
 *
 * On a Cortex-M7 (BOARD_ARCH := cm7 in board.mk) boards/common provides
 * the rest of the contract: startup_cm7.c (vector table, reset,
 * qn_port_stack, qn_port_image), systick_cm7.c (a 1 ms SysTick clock:
 * qn_systick_now_us) and uart_ring_cm7.c (qn_port_uart_read,
 * _tx_space, _write, _overruns and qn_port_idle over two byte rings that
 * the receive interrupt and qn_port_uart_service below fill and drain).
 * Another core writes those too, with the same contracts.
 */
#include "qn_port.h"
#include "qn_cm7.h"

/* ---- Life cycle ---- */

/* Clocks, SysTick (qn_systick_set_hz once the core clock is final), the
 * UART with its receive interrupt, storage, entropy. QN_OK or a status. */
int32_t qn_port_init(void) { return QN_ERR_NOT_BUILT; }

/* The board's name in identity reports ("mps2-an500", "stm32h743"). */
const char *qn_port_platform(void) { return "template (not ported)"; }

/* Core clock in Hz after qn_port_init. */
uint32_t qn_port_clock_hz(void) { return 0; }

/* Ready to serve: record the boot cost if the board can measure it. */
void qn_port_ready(void) {}

/* Bare metal never stops its loop: 0. */
int32_t qn_port_stop_requested(void) { return 0; }

/* System reset (ARM: SCB AIRCR SYSRESETREQ); storage survives. */
void qn_port_reset(void) {
  for (;;) {
  }
}

/* Stop for good with interrupts off, where a debugger finds the state
 * (semihosting only where a debugger or QEMU catches bkpt 0xab). */
void qn_port_exit(int32_t status) {
  (void)status;
  for (;;) {
  }
}

/* ---- Time ---- */

/* Microseconds since reset, monotonic, 64 bits (qn_systick_now_us). */
uint64_t qn_port_now_us(void) { return 0; }

/* ---- UART ---- */

/* The receive interrupt: read every byte the UART holds into qn_uart_rx
 * (qn_ring_put; a full ring counts qn_uart_overruns), clear overruns.
 * startup_cm7.c calls qn_board_irq(n) for device interrupt n. */
void qn_board_irq(uint32_t n) { (void)n; }

/* Move bytes from qn_uart_tx (qn_ring_get) into the transmitter while it
 * has room; never waits. */
void qn_port_uart_service(void) {}

/* Polled, blocking write for fault reports, interrupts possibly off. */
void qn_port_panic_write(const char *s) { (void)s; }

/* ---- Storage: two or more erase sectors for the journal ---- */

/* Region size (an even number of sectors), sector size, program unit. */
uint32_t qn_port_storage_size(void) { return 0; }
uint32_t qn_port_storage_sector(void) { return 0; }
uint32_t qn_port_storage_unit(void) { return 1; }

/* QN_OK, QN_ERR_ARG (out of range or misaligned: nothing done) or
 * QN_ERR_STORAGE (the hardware failed). Write and erase are durable when
 * they return; a write only clears bits (NOR flash semantics). */
int32_t qn_port_storage_read(uint32_t off, uint8_t *dst, uint32_t len) {
  (void)off, (void)dst, (void)len;
  return QN_ERR_STORAGE;
}
int32_t qn_port_storage_write(uint32_t off, const uint8_t *src, uint32_t len) {
  (void)off, (void)src, (void)len;
  return QN_ERR_STORAGE;
}
int32_t qn_port_storage_erase(uint32_t off) {
  (void)off;
  return QN_ERR_STORAGE;
}

/* ---- Entropy ---- */

/* len unpredictable bytes (a hardware RNG, checked), QN_OK; QN_ERR_IO
 * when the source failed. Never a constant, a counter or a clock alone. */
int32_t qn_port_entropy(uint8_t *dst, uint32_t len) {
  (void)dst, (void)len;
  return QN_ERR_IO;
}
