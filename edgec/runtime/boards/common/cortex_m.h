/*
 * Core peripherals shared by every Cortex-M (ARMv7-M / ARMv8-M Architecture
 * Reference Manuals, System Control Space): SCB, SysTick, DWT, CoreDebug.
 */
#ifndef EDGEC_CORTEX_M_H
#define EDGEC_CORTEX_M_H

#include <stdint.h>

#define EDGEC_REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* System control block */
#define SCB_ICSR EDGEC_REG32(0xE000ED04u)
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SCB_VTOR EDGEC_REG32(0xE000ED08u)
#define SCB_CCR EDGEC_REG32(0xE000ED14u)
#define SCB_CCR_IC (1u << 17)
#define SCB_CPACR EDGEC_REG32(0xE000ED88u)
#define SCB_ICIALLU EDGEC_REG32(0xE000EF50u)

/* SysTick */
#define SYST_CSR EDGEC_REG32(0xE000E010u)
#define SYST_RVR EDGEC_REG32(0xE000E014u)
#define SYST_CVR EDGEC_REG32(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)

/* Data watchpoint and trace unit (cycle counter) */
#define DEMCR EDGEC_REG32(0xE000EDFCu)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL EDGEC_REG32(0xE0001000u)
#define DWT_CTRL_CYCCNTENA (1u << 0)
#define DWT_CYCCNT EDGEC_REG32(0xE0001004u)
#define DWT_LAR EDGEC_REG32(0xE0001FB0u)
#define DWT_LAR_KEY 0xC5ACCE55u

static inline void edgec_dsb(void) { __asm volatile("dsb 0xF" ::: "memory"); }
static inline void edgec_isb(void) { __asm volatile("isb 0xF" ::: "memory"); }

#endif /* EDGEC_CORTEX_M_H */
