/*
 * Fixed-point arithmetic shared by the kernels (internal header).
 *
 * These are the gemmlowp / TFLite primitives, written out for int32_t raw
 * values.  A "Qm" value below is gemmlowp's FixedPoint<int32_t, m>: m integer
 * bits and 31 - m fractional bits.
 */
#ifndef EDGEC_FIXEDPOINT_H
#define EDGEC_FIXEDPOINT_H

#include <stdint.h>

#define EDGEC_INT32_MAX ((int32_t)0x7fffffff)
#define EDGEC_INT32_MIN ((int32_t)(-EDGEC_INT32_MAX - 1))

/* round(a * b / 2^31), ties upward as gemmlowp does; saturates the one
 * overflowing case INT32_MIN * INT32_MIN. */
static inline int32_t fp_srdhm(int32_t a, int32_t b)
{
    int64_t ab, nudge;
    if (a == EDGEC_INT32_MIN && b == EDGEC_INT32_MIN) {
        return EDGEC_INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    /* C division truncates toward zero, like the C++ original. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent, rounded half away from zero; exponent in [0, 31]. */
static inline int32_t fp_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^shift, wrapping like the int32 multiply in TFLite. */
static inline int32_t fp_shift_left(int32_t x, int32_t shift)
{
    return (int32_t)((uint32_t)x << shift);
}

/* TFLite reference MultiplyByQuantizedMultiplier: x * mult * 2^(shift - 31). */
static inline int32_t fp_mbqm(int32_t x, int32_t mult, int32_t shift)
{
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    return fp_rounding_divide_by_pot(fp_srdhm(fp_shift_left(x, left_shift), mult), right_shift);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0. */
static inline int32_t fp_saturating_shift_left(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (x > threshold) {
        return EDGEC_INT32_MAX;
    }
    if (x < -threshold) {
        return EDGEC_INT32_MIN;
    }
    return fp_shift_left(x, exponent);
}

/* gemmlowp RoundingHalfSum for int32. */
static inline int32_t fp_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* exp(a) for a in [-1/4, 0), a and the result in Q0. */
static inline int32_t fp_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a)
{
    const int32_t constant_term = 1895147668;    /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883; /* 1/3 */
    const int32_t x = a + (1 << 28);             /* a + 1/8 */
    const int32_t x2 = fp_srdhm(x, x);
    const int32_t x3 = fp_srdhm(x2, x);
    const int32_t x4 = fp_srdhm(x2, x2);
    const int32_t x4_over_4 = fp_rounding_divide_by_pot(x4, 2);
    const int32_t poly = fp_rounding_divide_by_pot(fp_srdhm(x4_over_4 + x3, constant_1_over_3) + x2, 1);
    return constant_term + fp_srdhm(constant_term, x + poly);
}

/* exp(a) for a <= 0: a in Q(integer_bits) with integer_bits in [1, 5], result in Q0. */
static inline int32_t fp_exp_on_negative_values(int32_t a, int32_t integer_bits)
{
    static const int32_t barrel_multipliers[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1)   */
        290630308,  /* exp(-2)   */
        39332535,   /* exp(-4)   */
        720401,     /* exp(-8)   */
        242,        /* exp(-16)  */
    };
    const int32_t fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
    /* Rescale to Q0: multiply by 2^integer_bits, saturating. */
    int32_t result = fp_exp_on_interval_between_negative_one_quarter_and_0_excl(
        fp_saturating_shift_left(a_mod_quarter_minus_one_quarter, integer_bits));
    const int32_t remainder = a_mod_quarter_minus_one_quarter - a;
    int32_t exponent;

    /* Bit (fractional_bits + exponent) of the remainder selects exp(-2^exponent). */
    for (exponent = -2; exponent <= 4; ++exponent) {
        if (integer_bits > exponent) {
            const int32_t bit = (int32_t)1 << (fractional_bits + exponent);
            if (remainder & bit) {
                result = fp_srdhm(result, barrel_multipliers[exponent + 2]);
            }
        }
    }
    if (a == 0) {
        result = EDGEC_INT32_MAX; /* One() in Q0 */
    }
    return result;
}

/* 1 / (1 + a) for a in [0, 1): a in Q0, result in Q0. */
static inline int32_t fp_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    const int32_t half_denominator = fp_rounding_half_sum(a, EDGEC_INT32_MAX); /* Q0 */
    const int32_t constant_48_over_17 = 1515870810;                           /* Q2 */
    const int32_t constant_neg_32_over_17 = -1010580540;                      /* Q2 */
    int32_t x = constant_48_over_17 + fp_srdhm(half_denominator, constant_neg_32_over_17);
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = fp_srdhm(half_denominator, x); /* Q2 */
        const int32_t one_minus_half_denominator_times_x = (1 << 29) - half_denominator_times_x;
        /* Q2 * Q2 = Q4, rescaled to Q2. */
        x = x + fp_saturating_shift_left(fp_srdhm(x, one_minus_half_denominator_times_x), 2);
    }
    /* x / 2 in Q1 has the same raw value as x in Q2; rescale Q1 -> Q0. */
    return fp_saturating_shift_left(x, 1);
}

/* gemmlowp CountLeadingZeros for a non-zero uint32. */
static inline int32_t fp_count_leading_zeros(uint32_t x)
{
    int32_t n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        ++n;
    }
    return n;
}

#endif /* EDGEC_FIXEDPOINT_H */
