/* qn_cm7.h: what the shared Cortex-M7 start-up (startup_cm7.c,
 * systick_cm7.c) offers ARM boards and needs from them. Not part of the
 * port contract: posix never sees it. */
#ifndef QN_CM7_H
#define QN_CM7_H

#include <stdint.h>
#include "qn_byte_ring.h"

#define QN_REG(addr) (*(volatile uint32_t *)(addr))

/* System control block and core peripherals (ARMv7-M). */
#define QN_SCB_VTOR QN_REG(0xE000ED08u)
#define QN_SCB_AIRCR QN_REG(0xE000ED0Cu)
#define QN_SCB_SHCSR QN_REG(0xE000ED24u)
#define QN_SCB_CFSR QN_REG(0xE000ED28u)
#define QN_SCB_HFSR QN_REG(0xE000ED2Cu)
#define QN_SCB_MMFAR QN_REG(0xE000ED34u)
#define QN_SCB_BFAR QN_REG(0xE000ED38u)
#define QN_SCB_CPACR QN_REG(0xE000ED88u)
#define QN_NVIC_ISER(n) QN_REG(0xE000E100u + 4u * (n))

static inline void qn_cm7_nvic_enable(uint32_t irq) { QN_NVIC_ISER(irq >> 5) = 1u << (irq & 31u); }
static inline void qn_cm7_dsb_isb(void) { __asm volatile("dsb\n isb" ::: "memory"); }

/* Implemented by the board: interrupt n (0 = first device IRQ). Every
 * device vector goes through this one dispatcher, so a board names only
 * the interrupts it uses. */
void qn_board_irq(uint32_t n);

/* Called by the reset handler before .data/.bss exist: the board may only
 * touch registers here (STM32H743: nothing needed; kept for boards that
 * must feed a watchdog or relocate VTOR early). */
void qn_board_early(void);

/* Millisecond-tick monotonic clock on SysTick, started by the reset
 * handler at the reset clock so boot cost is measured from reset. Call
 * qn_systick_set_hz after changing the core clock. */
void qn_systick_boot(uint32_t hz);
void qn_systick_set_hz(uint32_t hz);
uint64_t qn_systick_now_us(void);
/* Nanoseconds since reset; under QEMU -icount shift=0 this equals the
 * number of instructions executed. */
uint64_t qn_systick_now_ns(void);
/* Milliseconds since reset (the tick count; wraps after 49 days). */
uint32_t qn_systick_ms(void);

/* Wait for an interrupt (SysTick wakes it every millisecond). */
static inline void qn_cm7_wfi(void) { __asm volatile("wfi" ::: "memory"); }

/* The UART rings (uart_ring_cm7.c): the board's receive interrupt puts
 * into qn_uart_rx and counts what did not fit in qn_uart_overruns; its
 * qn_port_uart_service drains qn_uart_tx into the hardware. */
extern qn_byte_ring_t qn_uart_rx, qn_uart_tx;
extern volatile uint32_t qn_uart_overruns;

#endif /* QN_CM7_H */
