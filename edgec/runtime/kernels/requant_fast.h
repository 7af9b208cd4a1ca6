/*
 * Bit-exact fast requantization (internal header).
 *
 * rq_fast(acc, mult, shift) equals TFLite's MultiplyByQuantizedMultiplier
 * (fp_mbqm in fixedpoint.h) whenever the precondition holds:
 *
 *     |acc| * 2^(L + 1) < 2^31,   L = max(shift, 0),  R = max(-shift, 0)
 *
 * The code generator knows every weight and bias, so it bounds each output
 * channel's accumulator at build time (sum |w| * max|x + input_offset| +
 * |bias|, edgec.codegen.kernel_variants.accumulator_bound) and sets the
 * layer's `fast_requant` only when the precondition holds for every
 * channel; otherwise kernels keep fp_mbqm.
 *
 * Proof.  Let a = acc * 2^L (no wrap by the precondition) and M = mult in
 * (0, 2^31).  (A layer's multipliers are normally in [2^30, 2^31); a mean's
 * can be smaller.  The steps below use only 0 < M < 2^31.)
 *   1. TFLite's SaturatingRoundingDoublingHighMul(a, M) is
 *      trunc((a*M + n) / 2^31) with n = 2^30 for a*M >= 0 and 1 - 2^30
 *      otherwise (its saturating case a == M == INT32_MIN cannot occur:
 *      M > 0).  For a*M >= 0 that is floor((a*M + 2^30) / 2^31).  For
 *      q = a*M + 1 - 2^30 < 0, trunc(q / 2^31) = ceil(q / 2^31)
 *      = floor((q + 2^31 - 1) / 2^31) = floor((a*M + 2^30) / 2^31).  So in
 *      both cases it is (a*M + 2^30) >> 31 with an arithmetic (floor) shift.
 *   2. SMMULR(2a, M) = (2a*M + 2^31) >> 32 = (a*M + 2^30) >> 31, so
 *      v = SMMULR(acc << (L + 1), M) is step 1's result when acc << (L + 1)
 *      does not wrap (the precondition).
 *   3. RoundingDivideByPOT(v, R) for R > 0: write v = q*2^R + r, 0 <= r < 2^R.
 *      TFLite adds 1 to q when r > 2^(R-1) - 1 (v >= 0) or r > 2^(R-1)
 *      (v < 0), i.e. r >= 2^(R-1) + (v < 0).  (v + 2^(R-1) - (v < 0)) >> R
 *      = q + [r + 2^(R-1) - (v < 0) >= 2^R] is the same condition.  No
 *      wrap: |v| <= |a| * M / 2^31 < |acc| * 2^L < 2^30 and 2^(R-1) <= 2^30.
 *      For R = 0 the value is v itself (then L may be positive; R > 0
 *      implies L = 0).
 *
 * tests/test_c_kernels.py checks rq_fast against fp_mbqm on random and edge
 * values (run_vectors.c), on the host and under QEMU.
 */
#ifndef EDGEC_REQUANT_FAST_H
#define EDGEC_REQUANT_FAST_H

#include <stdint.h>

#include "arm_dsp.h"

/* fp_mbqm(acc, mult, shift) under the precondition above: SMMULR plus one rounding shift. */
static inline int32_t rq_fast(int32_t acc, int32_t mult, int32_t shift)
{
    if (shift >= 0) {
        return dsp_smmulr((int32_t)((uint32_t)acc << (shift + 1)), mult);
    } else {
        const int32_t v = dsp_smmulr((int32_t)((uint32_t)acc << 1), mult);
        const int32_t right = -shift;
        /* v >> 31 is -1 for negative v, 0 otherwise (arithmetic shift, as fixedpoint.h assumes). */
        return (v + ((int32_t)1 << (right - 1)) + (v >> 31)) >> right;
    }
}

/* Accumulator -> int8 with rq_fast: requantize, add the output offset, clamp to [act_min, act_max]. */
static inline int8_t rq_fast_clamp(int32_t acc, int32_t mult, int32_t shift, int32_t output_offset, int32_t act_min,
                                   int32_t act_max)
{
    int32_t v = rq_fast(acc, mult, shift) + output_offset;
    v = v < act_min ? act_min : v;
    return (int8_t)(v > act_max ? act_max : v);
}

/* rq_fast(acc, mult, -right) + output_offset for a negative shift (right = -shift > 0), without a
 * branch: round_offset = (1 << (right - 1)) + (output_offset << right), precomputed by the code
 * generator, which also checks that |rq_fast's SMMULR result| + |round_offset| < 2^31 (then adding
 * the offset before the floor shift is exact: (a + (o << R)) >> R == (a >> R) + o). */
static inline int32_t rq_fast_right(int32_t acc, int32_t mult, int32_t right, int32_t round_offset)
{
    const int32_t v = dsp_smmulr((int32_t)((uint32_t)acc << 1), mult);
    return (v + round_offset + (v >> 31)) >> right;
}

/* a * b + (acc << 32), rounded to its top word: SMMLAR on the DSP extension (plain C elsewhere). */
static inline int32_t rq_smmlar(int32_t a, int32_t b, int32_t acc)
{
#if EDGEC_DSP_NATIVE
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    const uint64_t sum = ((uint64_t)(uint32_t)acc << 32) + (uint64_t)((int64_t)a * b) + 0x80000000u;
    return (int32_t)(uint32_t)(sum >> 32);
#endif
}

/* rq_fast_right(acc, mult, right, round_offset) in four instructions (LSL, SMMLAR, ADD with ASR, ASR),
 * under the same precondition.  SMMLAR adds round_offset to SMMULR's result inside the 64-bit sum,
 * which is exact because the 32-bit sum does not wrap.  The sign correction is taken from acc
 * instead of v: they differ only when acc < 0 and v == 0, and then both (round_offset - 1) >> right
 * and round_offset >> right are output_offset, as round_offset = 2^(right-1) + output_offset * 2^right. */
static inline int32_t rq_fast_right_mla(int32_t acc, int32_t mult, int32_t right, int32_t round_offset)
{
    const int32_t v = rq_smmlar((int32_t)((uint32_t)acc << 1), mult, round_offset);
    return (v + (acc >> 31)) >> right;
}

/* rq_fast_right for an accumulator the kernel already holds doubled (acc2 = 2 * acc, from weights
 * and bias the code generator doubled; the precondition keeps 2 * acc in int32): one shift less. */
static inline int32_t rq_fast_right_x2(int32_t acc2, int32_t mult, int32_t right, int32_t round_offset)
{
    const int32_t v = dsp_smmulr(acc2, mult);
    return (v + round_offset + (v >> 31)) >> right;
}

/* rq_fast_right_x2 in three instructions (SMMLAR, ADD with ASR, ASR): the rounding term added
 * inside SMMLAR and the sign correction taken from acc2, as in rq_fast_right_mla (acc2 = 2 * acc
 * has the sign of acc, and rq_fast_right_x2's SMMULR of acc2 is rq_fast_right_mla's of acc << 1). */
static inline int32_t rq_fast_right_x2_mla(int32_t acc2, int32_t mult, int32_t right, int32_t round_offset)
{
    const int32_t v = rq_smmlar(acc2, mult, round_offset);
    return (v + (acc2 >> 31)) >> right;
}

#endif /* EDGEC_REQUANT_FAST_H */
