/*
 * edgec_move_rows: a row-streamed segment's line buffer drops its oldest rows by moving the
 * rows it keeps to its start (dst below src; the two ranges may overlap).
 *
 * Portable C: memmove.  Helium (MVE) cores: with both pointers word-aligned, 128 bytes per
 * VLDM/VSTM pair of the sixteen D registers (d0-d15 are q0-q7), then 16-byte loads and stores,
 * the last one predicated.  Copying forward is safe for any overlap with dst < src: each step
 * loads its bytes before storing any, and a store to dst[i..i + n) overwrites only bytes of src
 * below i + n - (src - dst), all of which this step or an earlier one has already loaded.
 */
#include <stdint.h>
#include <string.h>

#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>

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
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
    int32_t i = ((uintptr_t)dst | (uintptr_t)src) & 3u ? 0 : move_blocks_128(dst, src, bytes);
    for (; i < bytes; i += 16) {
        const mve_pred16_t lanes = vctp8q((uint32_t)(bytes - i));
        vstrbq_p_s8(dst + i, vldrbq_z_s8(src + i, lanes), lanes);
    }
#else
    memmove(dst, src, (size_t)bytes);
#endif
}
