/* The STM32H743 registers the board uses (RM0433), by address: no vendor
 * headers or HAL are available here, and a few dozen names are easier to
 * check against the manual than a 20,000-line header. */
#ifndef QN_STM32H743_H
#define QN_STM32H743_H

#include "qn_cm7.h"

#define RCC_BASE 0x58024400u
#define RCC_CR QN_REG(RCC_BASE + 0x000u)
#define RCC_CFGR QN_REG(RCC_BASE + 0x010u)
#define RCC_D1CFGR QN_REG(RCC_BASE + 0x018u)
#define RCC_D2CFGR QN_REG(RCC_BASE + 0x01Cu)
#define RCC_D3CFGR QN_REG(RCC_BASE + 0x020u)
#define RCC_PLLCKSELR QN_REG(RCC_BASE + 0x028u)
#define RCC_PLLCFGR QN_REG(RCC_BASE + 0x02Cu)
#define RCC_PLL1DIVR QN_REG(RCC_BASE + 0x030u)
#define RCC_D2CCIP2R QN_REG(RCC_BASE + 0x054u)
#define RCC_AHB2ENR QN_REG(RCC_BASE + 0x0DCu)
#define RCC_AHB4ENR QN_REG(RCC_BASE + 0x0E0u)
#define RCC_APB1LENR QN_REG(RCC_BASE + 0x0E8u)
#define RCC_APB4ENR QN_REG(RCC_BASE + 0x0F4u)

#define PWR_BASE 0x58024800u
#define PWR_CSR1 QN_REG(PWR_BASE + 0x004u)
#define PWR_CR3 QN_REG(PWR_BASE + 0x00Cu)
#define PWR_D3CR QN_REG(PWR_BASE + 0x018u)
#define SYSCFG_PWRCR QN_REG(0x58000404u)

#define FLASH_BASE_R 0x52002000u
#define FLASH_ACR QN_REG(FLASH_BASE_R + 0x000u)
/* Bank 2 control registers (bank 1 is at -0x100). */
#define FLASH_KEYR2 QN_REG(FLASH_BASE_R + 0x104u)
#define FLASH_CR2 QN_REG(FLASH_BASE_R + 0x10Cu)
#define FLASH_SR2 QN_REG(FLASH_BASE_R + 0x110u)
#define FLASH_CCR2 QN_REG(FLASH_BASE_R + 0x114u)

#define GPIOD_BASE 0x58020C00u
#define GPIOD_MODER QN_REG(GPIOD_BASE + 0x00u)
#define GPIOD_OSPEEDR QN_REG(GPIOD_BASE + 0x08u)
#define GPIOD_AFRH QN_REG(GPIOD_BASE + 0x24u)

#define USART3_BASE 0x40004800u
#define USART3_CR1 QN_REG(USART3_BASE + 0x00u)
#define USART3_CR3 QN_REG(USART3_BASE + 0x08u)
#define USART3_BRR QN_REG(USART3_BASE + 0x0Cu)
#define USART3_ISR QN_REG(USART3_BASE + 0x1Cu)
#define USART3_ICR QN_REG(USART3_BASE + 0x20u)
#define USART3_RDR QN_REG(USART3_BASE + 0x24u)
#define USART3_TDR QN_REG(USART3_BASE + 0x28u)
#define USART3_IRQ 39u

/* RNG (AHB2, RM0433 section 33). */
#define RNG_BASE 0x48021800u
#define RNG_CR QN_REG(RNG_BASE + 0x00u)
#define RNG_SR QN_REG(RNG_BASE + 0x04u)
#define RNG_DR QN_REG(RNG_BASE + 0x08u)

/* Cortex-M7 cache and MPU registers. */
#define SCB_CCR QN_REG(0xE000ED14u)
#define SCB_CCSIDR QN_REG(0xE000ED80u)
#define SCB_CSSELR QN_REG(0xE000ED84u)
#define SCB_ICIALLU QN_REG(0xE000EF50u)
#define SCB_DCISW QN_REG(0xE000EF60u)
#define MPU_CTRL QN_REG(0xE000ED94u)
#define MPU_RNR QN_REG(0xE000ED98u)
#define MPU_RBAR QN_REG(0xE000ED9Cu)
#define MPU_RASR QN_REG(0xE000EDA0u)

/* clock.c: 480 MHz core; returns the source used ("hse" or "hsi"). */
const char *qn_h7_clock_init(void);
/* clock.c: I- and D-cache on, storage region non-cacheable (MPU). */
void qn_h7_cache_mpu_init(void);
/* rng.c: HSI48 on, RNG clocked from it and enabled. */
void qn_h7_rng_init(void);

#define QN_H7_SYSCLK_HZ 480000000u
#define QN_H7_PCLK1_HZ 120000000u

#endif /* QN_STM32H743_H */
