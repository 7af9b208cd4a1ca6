/*
 * Board support for the STM32F746G-DISCO (STM32F746NG, Cortex-M7), written
 * against the STM32F75xxx/74xxx reference manual (RM0385) at register level.
 *
 * Clocks (RM0385 section 5): 25 MHz HSE crystal -> PLL (M=25, N=432, P=2,
 * Q=9) -> SYSCLK 216 MHz with over-drive (section 4.1.4), AHB /1, APB1 /4
 * (54 MHz), APB2 /2 (108 MHz); flash 7 wait states with ART and prefetch.
 * UART: USART1 (section 34) on PA9 (TX) / PB7 (RX), AF7, which the board
 * routes to the ST-LINK virtual COM port; kernel clock PCLK2 (108 MHz).
 * Counter: DWT CYCCNT (common/counter_dwt.c).
 *
 * Compiled and linked in CI; not run on a real board by the edgec authors.
 */
#include <stdint.h>

#include "cortex_m.h"
#include "edgec_board.h"

#ifndef EDGEC_BAUD
#define EDGEC_BAUD 115200u
#endif

#define SYSCLK_HZ 216000000u
#define PCLK2_HZ 108000000u

/* RCC (RM0385 5.3) */
#define RCC_BASE 0x40023800u
#define RCC_CR EDGEC_REG32(RCC_BASE + 0x00u)
#define RCC_PLLCFGR EDGEC_REG32(RCC_BASE + 0x04u)
#define RCC_CFGR EDGEC_REG32(RCC_BASE + 0x08u)
#define RCC_AHB1ENR EDGEC_REG32(RCC_BASE + 0x30u)
#define RCC_APB1ENR EDGEC_REG32(RCC_BASE + 0x40u)
#define RCC_APB2ENR EDGEC_REG32(RCC_BASE + 0x44u)
#define RCC_DCKCFGR2 EDGEC_REG32(RCC_BASE + 0x90u)
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_PLLCFGR_SRC_HSE (1u << 22)
#define RCC_CFGR_SW_PLL 2u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_PPRE1_DIV4 (5u << 10)
#define RCC_CFGR_PPRE2_DIV2 (4u << 13)
#define RCC_AHB1ENR_GPIOA (1u << 0)
#define RCC_AHB1ENR_GPIOB (1u << 1)
#define RCC_APB1ENR_PWR (1u << 28)
#define RCC_APB2ENR_USART1 (1u << 4)

/* PWR (RM0385 4.4) */
#define PWR_BASE 0x40007000u
#define PWR_CR1 EDGEC_REG32(PWR_BASE + 0x00u)
#define PWR_CSR1 EDGEC_REG32(PWR_BASE + 0x04u)
#define PWR_CR1_VOS_SCALE1 (3u << 14)
#define PWR_CR1_ODEN (1u << 16)
#define PWR_CR1_ODSWEN (1u << 17)
#define PWR_CSR1_ODRDY (1u << 16)
#define PWR_CSR1_ODSWRDY (1u << 17)

/* Flash interface (RM0385 3.7) */
#define FLASH_ACR EDGEC_REG32(0x40023C00u)
#define FLASH_ACR_LATENCY_7WS 7u
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ARTEN (1u << 9)

/* GPIO (RM0385 6.4) */
#define GPIOA_BASE 0x40020000u
#define GPIOB_BASE 0x40020400u
#define GPIO_MODER(base) EDGEC_REG32((base) + 0x00u)
#define GPIO_OSPEEDR(base) EDGEC_REG32((base) + 0x08u)
#define GPIO_PUPDR(base) EDGEC_REG32((base) + 0x0Cu)
#define GPIO_AFRL(base) EDGEC_REG32((base) + 0x20u)
#define GPIO_AFRH(base) EDGEC_REG32((base) + 0x24u)
#define GPIO_MODE_AF 2u
#define GPIO_AF7 7u

/* USART1 (RM0385 34.8) */
#define USART1_BASE 0x40011000u
#define USART_CR1 EDGEC_REG32(USART1_BASE + 0x00u)
#define USART_BRR EDGEC_REG32(USART1_BASE + 0x0Cu)
#define USART_ISR EDGEC_REG32(USART1_BASE + 0x1Cu)
#define USART_ICR EDGEC_REG32(USART1_BASE + 0x20u)
#define USART_RDR EDGEC_REG32(USART1_BASE + 0x24u)
#define USART_TDR EDGEC_REG32(USART1_BASE + 0x28u)
#define USART_CR1_UE (1u << 0)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_ISR_ORE (1u << 3)
#define USART_ISR_RXNE (1u << 5)
#define USART_ISR_TXE (1u << 7)
#define USART_ICR_ORECF (1u << 3)

static void enable_icache(void)
{
    edgec_dsb();
    edgec_isb();
    SCB_ICIALLU = 0u;
    edgec_dsb();
    edgec_isb();
    SCB_CCR |= SCB_CCR_IC;
    edgec_dsb();
    edgec_isb();
}

static void clock_init(void)
{
    RCC_APB1ENR |= RCC_APB1ENR_PWR;
    PWR_CR1 |= PWR_CR1_VOS_SCALE1;

    RCC_CR |= RCC_CR_HSEON;
    while (!(RCC_CR & RCC_CR_HSERDY)) {
    }
    /* 25 MHz / M=25 = 1 MHz; x N=432 = 432 MHz; / P=2 = 216 MHz; / Q=9 = 48 MHz */
    RCC_PLLCFGR = 25u | (432u << 6) | (0u << 16) | RCC_PLLCFGR_SRC_HSE | (9u << 24);
    RCC_CR |= RCC_CR_PLLON;

    PWR_CR1 |= PWR_CR1_ODEN;
    while (!(PWR_CSR1 & PWR_CSR1_ODRDY)) {
    }
    PWR_CR1 |= PWR_CR1_ODSWEN;
    while (!(PWR_CSR1 & PWR_CSR1_ODSWRDY)) {
    }
    while (!(RCC_CR & RCC_CR_PLLRDY)) {
    }

    FLASH_ACR = FLASH_ACR_LATENCY_7WS | FLASH_ACR_PRFTEN | FLASH_ACR_ARTEN;
    while ((FLASH_ACR & 0xFu) != FLASH_ACR_LATENCY_7WS) {
    }
    RCC_CFGR = RCC_CFGR_PPRE1_DIV4 | RCC_CFGR_PPRE2_DIV2 | RCC_CFGR_SW_PLL;
    while ((RCC_CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL) {
    }
}

static void uart_init(void)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOA | RCC_AHB1ENR_GPIOB;
    RCC_APB2ENR |= RCC_APB2ENR_USART1;
    RCC_DCKCFGR2 &= ~3u; /* USART1 kernel clock = PCLK2 */

    /* PA9 = USART1_TX, AF7 */
    GPIO_MODER(GPIOA_BASE) = (GPIO_MODER(GPIOA_BASE) & ~(3u << 18)) | (GPIO_MODE_AF << 18);
    GPIO_OSPEEDR(GPIOA_BASE) |= (2u << 18);
    GPIO_AFRH(GPIOA_BASE) = (GPIO_AFRH(GPIOA_BASE) & ~(0xFu << 4)) | (GPIO_AF7 << 4);
    /* PB7 = USART1_RX, AF7, pull-up */
    GPIO_MODER(GPIOB_BASE) = (GPIO_MODER(GPIOB_BASE) & ~(3u << 14)) | (GPIO_MODE_AF << 14);
    GPIO_PUPDR(GPIOB_BASE) = (GPIO_PUPDR(GPIOB_BASE) & ~(3u << 14)) | (1u << 14);
    GPIO_AFRL(GPIOB_BASE) = (GPIO_AFRL(GPIOB_BASE) & ~(0xFu << 28)) | (GPIO_AF7 << 28);

    USART_CR1 = 0u;
    USART_BRR = (PCLK2_HZ + EDGEC_BAUD / 2u) / EDGEC_BAUD; /* oversampling by 16 */
    USART_CR1 = USART_CR1_TE | USART_CR1_RE | USART_CR1_UE;
}

void edgec_board_init(void)
{
    enable_icache();
    clock_init();
    uart_init();
}

void edgec_uart_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (!(USART_ISR & USART_ISR_TXE)) {
        }
        USART_TDR = data[i];
    }
}

uint8_t edgec_uart_read(void)
{
    for (;;) {
        uint32_t isr = USART_ISR;
        if (isr & USART_ISR_RXNE) {
            return (uint8_t)USART_RDR;
        }
        if (isr & USART_ISR_ORE) {
            /* A lost byte breaks the frame; the CRC check catches it. */
            USART_ICR = USART_ICR_ORECF;
        }
    }
}

uint32_t edgec_board_clock_hz(void)
{
    return SYSCLK_HZ;
}
