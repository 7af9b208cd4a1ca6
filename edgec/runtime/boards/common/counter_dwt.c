/*
 * Cycle counter from the DWT unit (ARMv7-M ARM, C1.8): enable trace in
 * DEMCR, unlock the DWT where the core has a lock (Cortex-M7), start CYCCNT.
 * Used by the real boards; QEMU does not model the DWT.
 */
#include "cortex_m.h"
#include "edgec_board.h"
#include "edgec_protocol.h"

void edgec_counter_init(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_LAR = DWT_LAR_KEY;
    DWT_CYCCNT = 0u;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
}

uint32_t edgec_counter_read(void)
{
    return DWT_CYCCNT;
}

uint8_t edgec_counter_unit(void)
{
    return (uint8_t)EDGEC_UNIT_CYCLES;
}

uint32_t edgec_counter_resolution(void)
{
    return 1u;
}
