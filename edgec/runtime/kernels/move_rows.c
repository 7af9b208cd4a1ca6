/*
 * edgec_move_rows: a row-streamed segment's line buffer drops its oldest rows by moving the
 * rows it keeps to its start (dst below src; the two ranges may overlap).
 *
 * Portable C: memmove.  Cortex-M cores with an FPU or Helium (MVE): with both pointers
 * word-aligned, 128 bytes per VLDM/VSTM pair of the sixteen D registers (d0-d15; q0-q7 on
 * Helium), then the rest with 16-byte loads and stores, the last one predicated (Helium) or
 * memmove.  Copying forward is safe for any overlap with dst < src: each step loads its bytes
 * before storing any, and a store to dst[i..i + n) overwrites only bytes of src below
 * i + n - (src - dst), all of which this step or an earlier one has already loaded.
 */
#include <stdint.h>
#include <string.h>

#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define MOVE_ROWS_MVE 1
#endif
#if defined(MOVE_ROWS_MVE) || (defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M' && defined(__ARM_FP))
#define MOVE_ROWS_VLDM 1
#endif

#ifdef MOVE_ROWS_VLDM
/* Moves the whole 128-byte blocks of `bytes` (word-aligned pointers); returns how many bytes it moved. */
static int32_t move_blocks_128(int8_t *dst, const int8_t *src, int32_t bytes)
{
    const int32_t blocks = bytes / 128;
    int32_t n = blocks;
    while (n-- > 0) {
        __asm__ volatile("vldmia %[s]!, {d0-d15}\n\t"
                         "vstmia %[d]!, {d0-d15}"
                         : [s] "+r"(src), [d] "+r"(dst)
                         :
                         : "memory", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11",
                           "d12", "d13", "d14", "d15");
    }
    return blocks * 128;
}
#endif

void edgec_move_rows(int8_t *dst, const int8_t *src, int32_t bytes)
{
#ifdef MOVE_ROWS_VLDM
    const int32_t i = ((uintptr_t)dst | (uintptr_t)src) & 3u ? 0 : move_blocks_128(dst, src, bytes);
#ifdef MOVE_ROWS_MVE
    int32_t j;
    for (j = i; j < bytes; j += 16) {
        const mve_pred16_t lanes = vctp8q((uint32_t)(bytes - j));
        vstrbq_p_s8(dst + j, vldrbq_z_s8(src + j, lanes), lanes);
    }
#else
    memmove(dst + i, src + i, (size_t)(bytes - i));
#endif
#else
    memmove(dst, src, (size_t)bytes);
#endif
}
