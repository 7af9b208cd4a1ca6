/*
 * The vector requantization of runtime/kernels/mve_requant.h as scalar
 * functions (the value in lane 0, the other lanes busy with the same
 * arguments), for the harness's "primitives" vectors (vectors_mve.h).
 */
#include "vectors_mve.h"

#include "mve_requant.h"

int32_t vectors_mve_mbqm(int32_t x, int32_t mult, int32_t shift)
{
    const mve_requant_q q = mve_requant_make(vdupq_n_s32(mult), vdupq_n_s32(shift));
    return vgetq_lane_s32(mve_requant(vdupq_n_s32(x), &q), 0);
}

int32_t vectors_mve_srdhm(int32_t a, int32_t b)
{
    return vgetq_lane_s32(vqrdmulhq_s32(vdupq_n_s32(a), vdupq_n_s32(b)), 0);
}

int32_t vectors_mve_rdbpot(int32_t x, int32_t exponent)
{
    const int32x4_t right_neg = vdupq_n_s32(-exponent);
    return vgetq_lane_s32(mve_rounding_divide_by_pot(vdupq_n_s32(x), right_neg, vshrq_n_s32(right_neg, 31)), 0);
}
