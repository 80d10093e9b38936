/* Monotonic clock on SysTick: a 1 ms interrupt counts milliseconds and the
 * down-counter gives the fraction. The millisecond count lives in .noinit
 * and is zeroed by hand, because the clock starts before .bss is cleared
 * (boot cost counts from the first instruction). */
#include "qn_cm7.h"

#define SYST_CSR QN_REG(0xE000E010u)
#define SYST_RVR QN_REG(0xE000E014u)
#define SYST_CVR QN_REG(0xE000E018u)
#define CSR_ENABLE 1u
#define CSR_TICKINT 2u
#define CSR_CLKSOURCE 4u /* processor clock */

static volatile uint32_t ms __attribute__((section(".noinit")));
static uint32_t reload __attribute__((section(".noinit")));

void SysTick_Handler(void) { ms++; }

void qn_systick_boot(uint32_t hz) {
  ms = 0;
  qn_systick_set_hz(hz);
}

/* Restarts the current millisecond; loses under 1 ms once per clock
 * change, which happens only at boot. */
void qn_systick_set_hz(uint32_t hz) {
  SYST_CSR = 0;
  reload = hz / 1000u - 1u;
  SYST_RVR = reload;
  SYST_CVR = 0;
  SYST_CSR = CSR_ENABLE | CSR_TICKINT | CSR_CLKSOURCE;
}

/* Milliseconds and elapsed counts within the current one, read so that a
 * tick between the two reads is not lost. */
static void sample(uint32_t *m, uint32_t *elapsed) {
  uint32_t a, v;
  do {
    a = ms;
    v = SYST_CVR;
  } while (a != ms);
  *m = a;
  *elapsed = reload - v;
}

uint32_t qn_systick_ms(void) { return ms; }

uint64_t qn_systick_now_us(void) {
  uint32_t m, e;
  sample(&m, &e);
  return (uint64_t)m * 1000u + (uint64_t)e * 1000u / (reload + 1u);
}

uint64_t qn_systick_now_ns(void) {
  uint32_t m, e;
  sample(&m, &e);
  return (uint64_t)m * 1000000u + (uint64_t)e * 1000000u / (reload + 1u);
}
