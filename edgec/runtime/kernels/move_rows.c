/*
 * edgec_move_rows: a row-streamed segment's line buffer drops its oldest rows by moving the
 * rows it keeps to its start (dst below src; the two ranges may overlap).
 *
 * Portable C: memmove.  Helium (MVE): 64 bytes per step as four 16-byte loads, then four
 * stores, and a predicated step per 16 bytes for the rest.  Copying forward is safe for any
 * overlap with dst < src: a store to dst[i..i + 64) overwrites only bytes of src below
 * i + 64 - (src - dst), all of which this step or an earlier one has already loaded.
 */
#include <string.h>

#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#endif

void edgec_move_rows(int8_t *dst, const int8_t *src, int32_t bytes)
{
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
    int32_t i = 0;
    for (; i + 64 <= bytes; i += 64) {
        const int8x16_t a = vld1q_s8(src + i), b = vld1q_s8(src + i + 16);
        const int8x16_t c = vld1q_s8(src + i + 32), d = vld1q_s8(src + i + 48);
        vst1q_s8(dst + i, a);
        vst1q_s8(dst + i + 16, b);
        vst1q_s8(dst + i + 32, c);
        vst1q_s8(dst + i + 48, d);
    }
    for (; i < bytes; i += 16) {
        const mve_pred16_t lanes = vctp8q((uint32_t)(bytes - i));
        vstrbq_p_s8(dst + i, vldrbq_z_s8(src + i, lanes), lanes);
    }
#else
    memmove(dst, src, (size_t)bytes);
#endif
}
