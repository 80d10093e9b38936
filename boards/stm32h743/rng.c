/* Entropy on the STM32H743: the true random number generator (RM0433
 * section 33), clocked by the 48 MHz HSI48 oscillator (RNGSEL = 0 in
 * RCC_D2CCIP2R; it must run above AHB/16 = 15 MHz, or the RNG reports a
 * clock error). Each 32-bit word is taken only when DRDY is set and
 * neither a seed error (SECS: the noise source looked stuck) nor a clock
 * error (CECS) is flagged.
 *
 * Seed error recovery (RM0433 33.3.7): clear SEIS, read and discard 12
 * words to flush the pipeline, and go on if SEIS stayed clear; the RNG is
 * also restarted (RNGEN off and on) for good measure. A word is never
 * handed out from a generator in error, and every wait is bounded, so a
 * dead RNG makes qn_port_entropy fail (QN_ERR_IO) instead of hanging. */
#include "qn_port.h"
#include "stm32h743.h"

#define CR_HSI48ON (1u << 12)
#define CR_HSI48RDY (1u << 13)
#define AHB2ENR_RNGEN (1u << 6)
#define RNGSEL_MASK (3u << 8) /* 0 = hsi48_ck */
#define RNG_CR_RNGEN (1u << 2)
#define RNG_CR_CED (1u << 5) /* 1 would disable clock error detection */
#define SR_DRDY (1u << 0)
#define SR_CECS (1u << 1)
#define SR_SECS (1u << 2)
#define SR_CEIS (1u << 5)
#define SR_SEIS (1u << 6)
/* Polls before giving up: a word takes ~50 RNG clocks (about 1 us); this
 * is a few milliseconds at 480 MHz. */
#define WAIT_POLLS 200000u
#define MAX_RECOVERIES 3u

void qn_h7_rng_init(void) {
  RCC_CR |= CR_HSI48ON;
  for (uint32_t i = 0; i < WAIT_POLLS && !(RCC_CR & CR_HSI48RDY); i++) {
  }
  RCC_D2CCIP2R &= ~RNGSEL_MASK;
  RCC_AHB2ENR |= AHB2ENR_RNGEN;
  (void)RCC_AHB2ENR;     /* the clock is on before the first access */
  RNG_CR = RNG_CR_RNGEN; /* CED = 0: clock error detection on */
}

static int32_t recover_seed_error(void) {
  RNG_SR = ~SR_SEIS & ~SR_CEIS; /* SEIS is cleared by writing 0 */
  for (uint32_t i = 0; i < 12u; i++) (void)RNG_DR;
  RNG_CR = 0;
  RNG_CR = RNG_CR_RNGEN;
  return (RNG_SR & SR_SEIS) ? QN_ERR_IO : QN_OK;
}

/* One checked word into *w; QN_OK or QN_ERR_IO. */
static int32_t word(uint32_t *w) {
  if (!(RCC_CR & CR_HSI48RDY)) return QN_ERR_IO;
  for (uint32_t tries = 0; tries <= MAX_RECOVERIES; tries++) {
    uint32_t sr = 0;
    for (uint32_t i = 0; i < WAIT_POLLS; i++) {
      sr = RNG_SR;
      if (sr & (SR_SECS | SR_SEIS | SR_CECS | SR_DRDY)) break;
    }
    if (sr & (SR_SECS | SR_SEIS)) {
      if (recover_seed_error() != QN_OK) return QN_ERR_IO;
      continue;
    }
    if (sr & SR_CECS) return QN_ERR_IO;    /* RNG clock too slow: words invalid */
    if (!(sr & SR_DRDY)) return QN_ERR_IO; /* never became ready */
    *w = RNG_DR;
    /* A word read while an error rose is discarded (RM0433: check SR
     * after reading DR). */
    if (RNG_SR & (SR_SECS | SR_CECS)) continue;
    return QN_OK;
  }
  return QN_ERR_IO;
}

int32_t qn_port_entropy(uint8_t *dst, uint32_t len) {
  for (uint32_t i = 0; i < len; i += 4) {
    uint32_t w;
    if (word(&w) != QN_OK) return QN_ERR_IO;
    for (uint32_t k = 0; k < 4 && i + k < len; k++) dst[i + k] = (uint8_t)(w >> (8 * k));
  }
  return QN_OK;
}
