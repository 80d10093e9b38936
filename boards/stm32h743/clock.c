/* STM32H743 clock tree to 480 MHz, caches and MPU (RM0433 sections 6, 8,
 * 4.3 and the Cortex-M7 TRM). Source: HSE in bypass from the ST-LINK's
 * 8 MHz MCO, which the Nucleo-H743ZI wires to OSC_IN by default; if HSE
 * does not start (solder bridges changed), the 64 MHz HSI feeds the same
 * PLL instead, so the firmware always comes up at 480 MHz.
 *   PLL1: ref 8 MHz (HSE/1 or HSI/8), VCO x120 = 960 MHz, P /2 = 480 MHz
 *   AHB /2 = 240 MHz; APB1..4 /2 = 120 MHz (USART3 kernel clock = PCLK1)
 * 480 MHz needs voltage scale VOS0 (rev V silicon): LDO supply, VOS1, then
 * the overdrive (SYSCFG ODEN); flash 4 wait states, WRHIGHFREQ 2. */
#include "stm32h743.h"

#define WAIT(cond) \
  do {             \
  } while (!(cond))

static void power_vos0(void) {
  PWR_CR3 = (PWR_CR3 & ~7u) | (1u << 1);            /* LDOEN, no bypass; locks the supply config */
  WAIT(PWR_CSR1 & (1u << 13));                      /* ACTVOSRDY */
  PWR_D3CR = (PWR_D3CR & ~(3u << 14)) | (3u << 14); /* VOS1 */
  WAIT(PWR_D3CR & (1u << 13));                      /* VOSRDY */
  RCC_APB4ENR |= 1u << 1;                           /* SYSCFGEN */
  (void)RCC_APB4ENR;
  SYSCFG_PWRCR |= 1u;          /* ODEN: VOS1 + overdrive = VOS0 */
  WAIT(PWR_D3CR & (1u << 13)); /* VOSRDY */
}

/* HSE in bypass; 0 when it does not become ready within ~10 ms. */
static int hse_bypass_on(void) {
  RCC_CR |= 1u << 18; /* HSEBYP */
  RCC_CR |= 1u << 16; /* HSEON */
  for (uint32_t i = 0; i < 200000u; i++)
    if (RCC_CR & (1u << 17)) return 1; /* HSERDY */
  RCC_CR &= ~((1u << 16) | (1u << 18));
  return 0;
}

const char *qn_h7_clock_init(void) {
  power_vos0();
  int hse = hse_bypass_on();
  /* PLLSRC: 2 = HSE, 0 = HSI; DIVM1 gives an 8 MHz reference. */
  RCC_PLLCKSELR = (RCC_PLLCKSELR & ~(3u | (0x3Fu << 4))) | (hse ? 2u : 0u) | ((hse ? 1u : 8u) << 4);
  /* PLL1: input range 8-16 MHz (RGE=3), wide VCO, integer mode, P/Q/R on. */
  RCC_PLLCFGR = (RCC_PLLCFGR & ~0xFu) | (3u << 2) | (1u << 16) | (1u << 17) | (1u << 18);
  RCC_PLL1DIVR = (120u - 1u) | ((2u - 1u) << 9) | ((4u - 1u) << 16) | ((2u - 1u) << 24);
  RCC_CR |= 1u << 24;        /* PLL1ON */
  WAIT(RCC_CR & (1u << 25)); /* PLL1RDY */
  /* Flash first: more wait states before the faster clock. */
  FLASH_ACR = (FLASH_ACR & ~0x3Fu) | 4u | (2u << 4);
  WAIT((FLASH_ACR & 0x3Fu) == (4u | (2u << 4)));
  RCC_D1CFGR = (8u << 0) | (4u << 4); /* HPRE /2, D1PPRE /2, D1CPRE /1 */
  RCC_D2CFGR = (4u << 4) | (4u << 8); /* D2PPRE1 /2, D2PPRE2 /2 */
  RCC_D3CFGR = (4u << 4);             /* D3PPRE /2 */
  RCC_CFGR = (RCC_CFGR & ~7u) | 3u;   /* SW = PLL1 */
  WAIT(((RCC_CFGR >> 3) & 7u) == 3u); /* SWS */
  return hse ? "hse" : "hsi";
}

/* I-cache and D-cache on (invalidate first: their contents are random
 * after reset). Everything the firmware writes lives in DTCM, which the
 * caches never see; the one region written behind the cache's back is the
 * storage region (the flash controller changes it), so the MPU makes it
 * non-cacheable and reads after program/erase see the flash itself. */
void qn_h7_cache_mpu_init(void) {
  extern uint8_t qn_storage_start[];
  MPU_CTRL = 0;
  MPU_RNR = 0;
  MPU_RBAR = (uint32_t)qn_storage_start;
  /* XN, full access, TEX=1 C=0 B=0 (normal, non-cacheable), 256 KiB
   * (SIZE = log2 - 1 = 17; the base is 256 KiB aligned), on. */
  MPU_RASR = (1u << 28) | (3u << 24) | (1u << 19) | (17u << 1) | 1u;
  MPU_CTRL = (1u << 2) | 1u; /* PRIVDEFENA: default map elsewhere */
  qn_cm7_dsb_isb();

  SCB_ICIALLU = 0;
  qn_cm7_dsb_isb();
  SCB_CCR |= 1u << 17; /* IC */
  qn_cm7_dsb_isb();

  SCB_CSSELR = 0; /* level 1 data cache */
  qn_cm7_dsb_isb();
  uint32_t ccsidr = SCB_CCSIDR;
  uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u, ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
  for (uint32_t s = 0; s < sets; s++)
    for (uint32_t w = 0; w < ways; w++) SCB_DCISW = (s << 5) | (w << 30);
  qn_cm7_dsb_isb();
  SCB_CCR |= 1u << 16; /* DC */
  qn_cm7_dsb_isb();
}
