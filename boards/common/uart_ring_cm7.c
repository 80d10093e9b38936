/* The UART's byte rings and the ring side of the port's UART functions,
 * shared by the ARM boards: each board's receive interrupt puts bytes into
 * qn_uart_rx (counting losses in qn_uart_overruns) and its
 * qn_port_uart_service moves qn_uart_tx to the hardware; the rest is the
 * same on every board and lives here. */
#include "qn_port.h"
#include "qn_cm7.h"

qn_byte_ring_t qn_uart_rx, qn_uart_tx;
volatile uint32_t qn_uart_overruns;

int32_t qn_port_uart_read(uint8_t *dst, int32_t max) { return qn_ring_read_frames(&qn_uart_rx, dst, max); }

/* Bytes the transmit ring holds at most. Once in the ring a byte is
 * committed: an emergency frame the core queues next waits behind all of
 * them (the core can cut its own bulk frame, not the ring). 64 bytes are
 * 0.7 ms at 921600 baud, and the main loop spins while bytes wait, so it
 * tops the ring up long before it runs dry. */
#define QN_TX_AHEAD 64u

int32_t qn_port_uart_tx_space(void) {
  uint32_t n = qn_ring_count(&qn_uart_tx);
  return n >= QN_TX_AHEAD ? 0 : (int32_t)(QN_TX_AHEAD - n);
}

int32_t qn_port_uart_write(const uint8_t *src, int32_t len) {
  int32_t n = qn_ring_write(&qn_uart_tx, src, len);
  qn_port_uart_service();
  return n;
}

uint32_t qn_port_uart_overruns(void) { return qn_uart_overruns; }

/* Sleep until a whole frame waits in the receive ring (or it is half
 * full), something waits to be sent (transmit is polled: no sleep while
 * the transmit ring holds bytes), or the clock ticks (every millisecond,
 * for the core's timers; qn_port_uart_read still holds back a frame's
 * first bytes until its end arrives). Every received byte wakes the core
 * for its interrupt; it no longer costs a turn of the main loop and a
 * qn_core_rx call as well: at 921600 baud that was ~70 turns per 70-byte
 * frame, each qn_core_rx call ~190 instructions of its own (bench: 16-byte
 * pieces). Interrupts are masked around the check so none slips in
 * between it and the WFI (which still wakes on a pending one). */
void qn_port_idle(void) {
  uint32_t t = qn_systick_ms();
  __asm volatile("cpsid i" ::: "memory");
  while (!qn_ring_frame_ready(&qn_uart_rx) && qn_ring_count(&qn_uart_tx) == 0 && qn_systick_ms() == t) {
    qn_cm7_wfi();
    __asm volatile("cpsie i" ::: "memory"); /* the pending interrupt runs now */
    __asm volatile("cpsid i" ::: "memory");
  }
  __asm volatile("cpsie i" ::: "memory");
}
