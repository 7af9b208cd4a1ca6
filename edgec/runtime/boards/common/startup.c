/*
 * Reset handler and vector table for every Cortex-M board.
 *
 * The linker script (link.ld.in) places .isr_vector first in flash and
 * defines _sidata/_sdata/_edata (initialised data: load and run address),
 * _sbss/_ebss and _estack.  Only the 16 system exceptions are listed: the
 * firmware polls its UART and enables no external interrupt.
 */
#include <stdint.h>

#include "cortex_m.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);

void edgec_reset_handler(void);
void edgec_default_handler(void);
void NMI_Handler(void) __attribute__((weak, alias("edgec_default_handler")));
void HardFault_Handler(void) __attribute__((weak, alias("edgec_default_handler")));
void MemManage_Handler(void) __attribute__((weak, alias("edgec_default_handler")));
void BusFault_Handler(void) __attribute__((weak, alias("edgec_default_handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("edgec_default_handler")));
void SecureFault_Handler(void) __attribute__((weak, alias("edgec_default_handler")));
void SVC_Handler(void) __attribute__((weak, alias("edgec_default_handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("edgec_default_handler")));
void PendSV_Handler(void) __attribute__((weak, alias("edgec_default_handler")));
void SysTick_Handler(void) __attribute__((weak, alias("edgec_default_handler")));

typedef void (*edgec_vector_t)(void);

__attribute__((section(".isr_vector"), used)) const edgec_vector_t edgec_vectors[16] = {
    (edgec_vector_t)(uintptr_t)&_estack,
    edgec_reset_handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    SecureFault_Handler,
    0,
    0,
    0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
};

void edgec_default_handler(void)
{
    for (;;) {
    }
}

void edgec_reset_handler(void)
{
    const uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0u;
    }
    SCB_VTOR = (uint32_t)(uintptr_t)edgec_vectors;
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* Full access to CP10/CP11 (FPU, and the MVE register file). */
    SCB_CPACR |= (0xFu << 20);
    edgec_dsb();
    edgec_isb();
#endif
    (void)main();
    for (;;) {
    }
}
