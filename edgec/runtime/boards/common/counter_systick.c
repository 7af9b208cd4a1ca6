/*
 * Counter from SysTick, for the emulated boards.
 *
 * QEMU models no DWT cycle counter.  It runs the firmware with
 * -icount shift=0, where every guest instruction advances virtual time by
 * exactly 1 ns, and SysTick (clocked from the core clock, EDGEC_CLOCK_HZ)
 * follows virtual time.  So SysTick ticks convert to instructions:
 * instructions = ticks * 1e9 / EDGEC_CLOCK_HZ, with a resolution of one tick
 * (40 instructions at 25 MHz).  The counts are labelled instructions.
 */
#include "cortex_m.h"
#include "edgec_board.h"
#include "edgec_protocol.h"

#ifndef EDGEC_CLOCK_HZ
#error "EDGEC_CLOCK_HZ must be defined by the target"
#endif

#define SYSTICK_RELOAD 0x00FFFFFFu

static volatile uint32_t systick_wraps;

void SysTick_Handler(void)
{
    systick_wraps++;
}

void edgec_counter_init(void)
{
    systick_wraps = 0u;
    SYST_RVR = SYSTICK_RELOAD;
    SYST_CVR = 0u;
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
}

/* 64-bit tick count: wraps counted by the SysTick interrupt + current value. */
static uint64_t systick_ticks(void)
{
    uint32_t high;
    uint32_t low;
    uint32_t pending;
    do {
        high = systick_wraps;
        low = SYST_CVR;
        pending = SCB_ICSR & SCB_ICSR_PENDSTSET;
    } while (high != systick_wraps);
    /* A wrap whose interrupt has not run yet: count it if low was read after
     * the reload (the down-counter then sits near the top again). */
    if (pending != 0u && low > SYSTICK_RELOAD / 2u) {
        high++;
    }
    return (uint64_t)high * (SYSTICK_RELOAD + 1u) + (SYSTICK_RELOAD - low);
}

uint32_t edgec_counter_read(void)
{
#if (1000000000u % EDGEC_CLOCK_HZ) == 0u
    return (uint32_t)(systick_ticks() * (1000000000u / EDGEC_CLOCK_HZ));
#else
    return (uint32_t)((systick_ticks() * 1000000000ull) / EDGEC_CLOCK_HZ);
#endif
}

uint8_t edgec_counter_unit(void)
{
    return (uint8_t)EDGEC_UNIT_INSTRUCTIONS;
}

uint32_t edgec_counter_resolution(void)
{
    return (1000000000u + EDGEC_CLOCK_HZ - 1u) / EDGEC_CLOCK_HZ;
}
