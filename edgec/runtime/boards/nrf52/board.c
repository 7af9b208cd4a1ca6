/*
 * Board support for the nRF52840-DK (nRF52840, Cortex-M4F @ 64 MHz),
 * written against the nRF52840 Product Specification at register level.
 *
 * Clock: start the 64 MHz crystal oscillator (CLOCK, TASKS_HFCLKSTART) so
 * the UART baud rate is accurate.
 * UART: UARTE0 (UART with EasyDMA) on P0.06 (TXD) / P0.08 (RXD), the pins
 * the DK routes to the J-Link virtual COM port; 115200 baud, 8N1, no flow
 * control.  EasyDMA only reads and writes RAM, so transmit data goes through
 * a RAM bounce buffer; reception is one byte per DMA transfer, restarted by
 * the ENDRX->STARTRX shortcut.
 * Counter: DWT CYCCNT (common/counter_dwt.c).
 *
 * Compiled and linked in CI; not run on a real board by the edgec authors.
 */
#include <stdint.h>

#include "cortex_m.h"
#include "edgec_board.h"

#define CORE_HZ 64000000u

/* CLOCK */
#define CLOCK_BASE 0x40000000u
#define CLOCK_TASKS_HFCLKSTART EDGEC_REG32(CLOCK_BASE + 0x000u)
#define CLOCK_EVENTS_HFCLKSTARTED EDGEC_REG32(CLOCK_BASE + 0x100u)

/* UARTE0 */
#define UARTE_BASE 0x40002000u
#define UARTE_TASKS_STARTRX EDGEC_REG32(UARTE_BASE + 0x000u)
#define UARTE_TASKS_STARTTX EDGEC_REG32(UARTE_BASE + 0x008u)
#define UARTE_EVENTS_ENDRX EDGEC_REG32(UARTE_BASE + 0x110u)
#define UARTE_EVENTS_ENDTX EDGEC_REG32(UARTE_BASE + 0x120u)
#define UARTE_EVENTS_ERROR EDGEC_REG32(UARTE_BASE + 0x124u)
#define UARTE_SHORTS EDGEC_REG32(UARTE_BASE + 0x200u)
#define UARTE_ERRORSRC EDGEC_REG32(UARTE_BASE + 0x480u)
#define UARTE_ENABLE EDGEC_REG32(UARTE_BASE + 0x500u)
#define UARTE_PSEL_RTS EDGEC_REG32(UARTE_BASE + 0x508u)
#define UARTE_PSEL_TXD EDGEC_REG32(UARTE_BASE + 0x50Cu)
#define UARTE_PSEL_CTS EDGEC_REG32(UARTE_BASE + 0x510u)
#define UARTE_PSEL_RXD EDGEC_REG32(UARTE_BASE + 0x514u)
#define UARTE_BAUDRATE EDGEC_REG32(UARTE_BASE + 0x524u)
#define UARTE_RXD_PTR EDGEC_REG32(UARTE_BASE + 0x534u)
#define UARTE_RXD_MAXCNT EDGEC_REG32(UARTE_BASE + 0x538u)
#define UARTE_TXD_PTR EDGEC_REG32(UARTE_BASE + 0x544u)
#define UARTE_TXD_MAXCNT EDGEC_REG32(UARTE_BASE + 0x548u)
#define UARTE_CONFIG EDGEC_REG32(UARTE_BASE + 0x56Cu)
#define UARTE_ENABLE_ON 8u
#define UARTE_SHORTS_ENDRX_STARTRX (1u << 5)
#define UARTE_BAUD_115200 0x01D60000u
#define PSEL_DISCONNECTED 0xFFFFFFFFu
#define PIN_TXD 6u /* P0.06 */
#define PIN_RXD 8u /* P0.08 */

/* GPIO P0: TXD idles high as an output */
#define P0_BASE 0x50000000u
#define P0_OUTSET EDGEC_REG32(P0_BASE + 0x508u)
#define P0_DIRSET EDGEC_REG32(P0_BASE + 0x518u)

#define TX_CHUNK 64u

static volatile uint8_t rx_byte;
static uint8_t tx_bounce[TX_CHUNK];

void edgec_board_init(void)
{
    CLOCK_EVENTS_HFCLKSTARTED = 0u;
    CLOCK_TASKS_HFCLKSTART = 1u;
    while (CLOCK_EVENTS_HFCLKSTARTED == 0u) {
    }

    P0_OUTSET = 1u << PIN_TXD;
    P0_DIRSET = 1u << PIN_TXD;
    UARTE_PSEL_TXD = PIN_TXD;
    UARTE_PSEL_RXD = PIN_RXD;
    UARTE_PSEL_RTS = PSEL_DISCONNECTED;
    UARTE_PSEL_CTS = PSEL_DISCONNECTED;
    UARTE_BAUDRATE = UARTE_BAUD_115200;
    UARTE_CONFIG = 0u;
    UARTE_ENABLE = UARTE_ENABLE_ON;

    UARTE_RXD_PTR = (uint32_t)(uintptr_t)&rx_byte;
    UARTE_RXD_MAXCNT = 1u;
    UARTE_SHORTS = UARTE_SHORTS_ENDRX_STARTRX;
    UARTE_EVENTS_ENDRX = 0u;
    UARTE_TASKS_STARTRX = 1u;
}

void edgec_uart_write(const uint8_t *data, size_t len)
{
    while (len > 0u) {
        size_t n = len < TX_CHUNK ? len : TX_CHUNK;
        for (size_t i = 0; i < n; i++) {
            tx_bounce[i] = data[i];
        }
        UARTE_TXD_PTR = (uint32_t)(uintptr_t)tx_bounce;
        UARTE_TXD_MAXCNT = (uint32_t)n;
        UARTE_EVENTS_ENDTX = 0u;
        UARTE_TASKS_STARTTX = 1u;
        while (UARTE_EVENTS_ENDTX == 0u) {
        }
        data += n;
        len -= n;
    }
}

uint8_t edgec_uart_read(void)
{
    while (UARTE_EVENTS_ENDRX == 0u) {
        if (UARTE_EVENTS_ERROR != 0u) {
            /* Overrun/framing error: clear it; the CRC check catches the damage. */
            UARTE_ERRORSRC = UARTE_ERRORSRC;
            UARTE_EVENTS_ERROR = 0u;
        }
    }
    UARTE_EVENTS_ENDRX = 0u;
    return rx_byte;
}

uint32_t edgec_board_clock_hz(void)
{
    return CORE_HZ;
}
