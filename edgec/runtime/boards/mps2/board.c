/*
 * Board support for the Arm MPS2/MPS3 FPGA images that QEMU emulates
 * (mps2-an385, mps2-an386, mps2-an500, mps3-an547): the CMSDK APB UART
 * (Arm CoreLink SDK, DDI 0479) at EDGEC_UART_BASE.  The counter is SysTick
 * (common/counter_systick.c).
 */
#include <stdint.h>

#include "cortex_m.h"
#include "edgec_board.h"

#ifndef EDGEC_UART_BASE
#error "EDGEC_UART_BASE must be defined by the target"
#endif
#ifndef EDGEC_CLOCK_HZ
#error "EDGEC_CLOCK_HZ must be defined by the target"
#endif
#ifndef EDGEC_BAUD
#define EDGEC_BAUD 115200u
#endif
#ifndef EDGEC_UART_PCLK_HZ
#define EDGEC_UART_PCLK_HZ 25000000u
#endif

/* CMSDK APB UART registers */
#define UART_DATA EDGEC_REG32(EDGEC_UART_BASE + 0x000u)
#define UART_STATE EDGEC_REG32(EDGEC_UART_BASE + 0x004u)
#define UART_CTRL EDGEC_REG32(EDGEC_UART_BASE + 0x008u)
#define UART_BAUDDIV EDGEC_REG32(EDGEC_UART_BASE + 0x010u)
#define UART_STATE_TX_FULL (1u << 0)
#define UART_STATE_RX_FULL (1u << 1)
#define UART_CTRL_TX_EN (1u << 0)
#define UART_CTRL_RX_EN (1u << 1)

void edgec_board_init(void)
{
    UART_BAUDDIV = EDGEC_UART_PCLK_HZ / EDGEC_BAUD;
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN;
}

void edgec_uart_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (UART_STATE & UART_STATE_TX_FULL) {
        }
        UART_DATA = data[i];
    }
}

uint8_t edgec_uart_read(void)
{
    while (!(UART_STATE & UART_STATE_RX_FULL)) {
    }
    return (uint8_t)UART_DATA;
}

uint32_t edgec_board_clock_hz(void)
{
    return EDGEC_CLOCK_HZ;
}
