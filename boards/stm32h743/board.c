/* Nucleo-H743ZI: Cortex-M7 at 480 MHz (clock.c), USART3 on PD8 (TX) and
 * PD9 (RX), the ST-LINK virtual COM port, at 921600 baud with a receive
 * interrupt; storage in flash bank 2 (storage.c), entropy from the RNG
 * (rng.c). Register level, no HAL. */
#include "qn_port.h"
#include "qn_byte_ring.h"
#include "stm32h743.h"

#ifndef QN_BAUD
#define QN_BAUD 921600u
#endif

#define CR1_UE (1u << 0)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXFNEIE (1u << 5)
#define CR1_FIFOEN (1u << 29)
#define ISR_ORE (1u << 3)
#define ISR_RXFNE (1u << 5)
#define ISR_TXFNF (1u << 7)

/* Which oscillator feeds the PLL ("hse" or "hsi"), for a debugger. */
const char *qn_h7_clock_source;
/* Nanoseconds from reset to ready (SysTick; no QEMU model of this chip). */
volatile uint32_t qn_boot_ns;

void qn_board_irq(uint32_t n) {
  if (n != USART3_IRQ) return;
  while (USART3_ISR & ISR_RXFNE) {
    if (!qn_ring_put(&qn_uart_rx, (uint8_t)USART3_RDR)) qn_uart_overruns++;
  }
  if (USART3_ISR & ISR_ORE) {
    USART3_ICR = ISR_ORE; /* ORECF */
    qn_uart_overruns++;
  }
}

static void uart_init(void) {
  RCC_AHB4ENR |= 1u << 3;   /* GPIODEN */
  RCC_APB1LENR |= 1u << 18; /* USART3EN */
  (void)RCC_APB1LENR;
  /* PD8, PD9: alternate function 7, very high speed. */
  GPIOD_MODER = (GPIOD_MODER & ~(0xFu << 16)) | (0xAu << 16);
  GPIOD_OSPEEDR |= 0xFu << 16;
  GPIOD_AFRH = (GPIOD_AFRH & ~0xFFu) | 0x77u;
  USART3_CR1 = 0;
  USART3_BRR = (QN_H7_PCLK1_HZ + QN_BAUD / 2u) / QN_BAUD; /* 16x oversampling */
  USART3_CR1 = CR1_FIFOEN | CR1_RXFNEIE | CR1_TE | CR1_RE | CR1_UE;
  qn_cm7_nvic_enable(USART3_IRQ);
}

int32_t qn_port_init(void) {
  qn_h7_clock_source = qn_h7_clock_init();
  qn_systick_set_hz(QN_H7_SYSCLK_HZ);
  qn_h7_cache_mpu_init();
  qn_h7_rng_init();
  uart_init();
  return QN_OK;
}

const char *qn_port_platform(void) { return "stm32h743"; }
uint32_t qn_port_clock_hz(void) { return QN_H7_SYSCLK_HZ; }
void qn_port_ready(void) { qn_boot_ns = (uint32_t)qn_systick_now_ns(); }
int32_t qn_port_stop_requested(void) { return 0; }
uint64_t qn_port_now_us(void) { return qn_systick_now_us(); }

void qn_port_reset(void) {
  qn_cm7_dsb_isb();
  QN_SCB_AIRCR = 0x05FA0004u;
  for (;;) {
  }
}

/* No semihosting without a debugger (bkpt would fault): stop with
 * interrupts off, where a debugger finds the state. */
void qn_port_exit(int32_t status) {
  (void)status;
  __asm volatile("cpsid i");
  for (;;) {
  }
}

/* Fill the 16-byte transmit FIFO from the ring. */
void qn_port_uart_service(void) {
  uint8_t b;
  while ((USART3_ISR & ISR_TXFNF) && qn_ring_get(&qn_uart_tx, &b)) USART3_TDR = b;
}

void qn_port_panic_write(const char *s) {
  while (*s) {
    while (!(USART3_ISR & ISR_TXFNF)) {
    }
    USART3_TDR = (uint8_t)*s++;
  }
}
