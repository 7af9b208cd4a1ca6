/*
 * Vector requantization for the Helium (MVE) kernels (internal header).
 *
 * mve_requant(acc, q) equals TFLite's MultiplyByQuantizedMultiplier
 * (fp_mbqm in fixedpoint.h) lane by lane, for every int32 accumulator,
 * multiplier and shift in [-31, 31]:
 *
 *   1. Left shift by L = max(shift, 0): VSHL by a vector of shifts wraps
 *      like fp_shift_left (the numpy reference wraps too).
 *   2. SaturatingRoundingDoublingHighMul(a, M) is VQRDMULH.S32:
 *      VQRDMULH gives sat((2*a*M + 2^31) >> 32) = sat((a*M + 2^30) >> 31)
 *      with a floor shift.  TFLite's trunc((a*M + nudge) / 2^31) with
 *      nudge 2^30 for a*M >= 0 is that same floor; for q = a*M + 1 - 2^30
 *      < 0, trunc(q / 2^31) = floor((q + 2^31 - 1) / 2^31)
 *      = floor((a*M + 2^30) / 2^31) again.  Both saturate only at
 *      a == M == INT32_MIN, to INT32_MAX.
 *   3. RoundingDivideByPOT(v, R), R = max(-shift, 0), rounds halves away
 *      from zero; VRSHL by -R computes (v + 2^(R-1)) >> R exactly (no
 *      intermediate overflow), rounding halves up.  For R > 0 write
 *      v = k*2^R + r, 0 <= r < 2^R: TFLite adds 1 to k when
 *      r >= 2^(R-1) + (v < 0), and (v - (v < 0) + 2^(R-1)) >> R adds 1
 *      exactly then.  The step down saturates (VQADD of -1): for v == INT32_MIN
 *      (r == 0) both give -2^(31-R), as (-2^31 + 2^(R-1)) >> R rounds
 *      down to it.  For R == 0 nothing is subtracted.
 *
 * run_vectors.c checks it against the numpy reference on the
 * "primitives" vectors (random and extreme multipliers, shifts and
 * accumulators) when it is built for an MVE target.
 */
#ifndef EDGEC_MVE_REQUANT_H
#define EDGEC_MVE_REQUANT_H

#include <arm_mve.h>
#include <stdint.h>

/* Per-lane requantization constants of four output channels. */
typedef struct {
    int32x4_t mult;      /* quantized multipliers */
    int32x4_t left;      /* max(shift, 0) */
    int32x4_t right_neg; /* min(shift, 0): VRSHL by it is a rounding right shift */
    int32x4_t shifting;  /* -1 where the right shift is not 0, else 0 */
} mve_requant_q;

static inline mve_requant_q mve_requant_make(int32x4_t mult, int32x4_t shift)
{
    mve_requant_q q;
    const int32x4_t zero = vdupq_n_s32(0);
    q.mult = mult;
    q.left = vmaxq_s32(shift, zero);
    q.right_neg = vminq_s32(shift, zero);
    q.shifting = vshrq_n_s32(q.right_neg, 31);
    return q;
}

/* fp_rounding_divide_by_pot(v, -right_neg) on four lanes (right_neg in [-31, 0], shifting as in
 * mve_requant_q).  Halves away from zero: negative values step down by one first (saturating), where
 * the shift is not 0; the step is (v >> 31) & shifting, no predicates needed. */
static inline int32x4_t mve_rounding_divide_by_pot(int32x4_t v, int32x4_t right_neg, int32x4_t shifting)
{
    return vrshlq_s32(vqaddq_s32(v, vandq_s32(vshrq_n_s32(v, 31), shifting)), right_neg);
}

/* fp_mbqm on four lanes. */
static inline int32x4_t mve_requant(int32x4_t acc, const mve_requant_q *q)
{
    return mve_rounding_divide_by_pot(vqrdmulhq_s32(vshlq_s32(acc, q->left), q->mult), q->right_neg, q->shifting);
}

/* Requantize, add the output offset and clamp to [lo, hi] (vectors of act_min/act_max): the int8
 * results in int32 lanes.  Takes everything by value so that a kernel can keep the constants of its
 * channel block in registers across pixels. */
static inline int32x4_t mve_requant_clamp(int32x4_t acc, mve_requant_q q, int32_t output_offset, int32x4_t lo,
                                          int32x4_t hi)
{
    const int32x4_t v = vaddq_n_s32(mve_requant(acc, &q), output_offset);
    return vminq_s32(vmaxq_s32(v, lo), hi);
}

#endif /* EDGEC_MVE_REQUANT_H */
