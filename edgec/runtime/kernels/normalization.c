/* L2 normalization over channels (reference_integer_ops::L2Normalization). */
#include "kernels_internal.h"

/* TFLite GetInvSqrtQuantizedMultiplierExp with reverse_shift -1: 1 / sqrt(value) as a
 * multiplier and shift for fp_mbqm.  Newton-Raphson on value scaled into [2^27, 2^29),
 * in gemmlowp Q3.28 fixed point. */
static void inv_sqrt_multiplier_exp(int32_t value, int32_t *mult, int32_t *shift)
{
    const int32_t one_q3 = 1 << 28;
    const int32_t three_halves_q3 = (1 << 28) + (1 << 27);
    const int32_t half_sqrt2_q0 = 1518500250; /* sqrt(2) / 2 */
    int32_t exp = 11;
    int32_t pairs, half_input, x, i;
    if (value <= 1) {
        *mult = EDGEC_INT32_MAX;
        *shift = 0;
        return;
    }
    while (value >= (1 << 29)) {
        value /= 4;
        ++exp;
    }
    pairs = (fp_count_leading_zeros((uint32_t)value) - 1) / 2 - 1;
    exp -= pairs;
    value <<= 2 * pairs;
    half_input = fp_rounding_divide_by_pot(value >> 1, 1);
    x = one_q3;
    for (i = 0; i < 5; ++i) {
        /* x^3 is Q9 -> Q3; 1.5 x - (v/2) x^3 is Q6 -> Q3 */
        const int32_t x3 = fp_saturating_shift_left(fp_srdhm(fp_srdhm(x, x), x), 6);
        const int32_t t = (int32_t)((uint32_t)fp_srdhm(three_halves_q3, x) - (uint32_t)fp_srdhm(half_input, x3));
        x = fp_saturating_shift_left(t, 3);
    }
    x = fp_srdhm(x, half_sqrt2_q0);
    if (exp < 0) {
        x = fp_shift_left(x, -exp);
        exp = 0;
    }
    *mult = x;
    *shift = -exp;
}

void edgec_l2_normalization(const edgec_view *in, edgec_view *out, int32_t input_zero_point)
{
    int32_t y, x, c;
    for (y = 0; y < out->h; ++y) {
        for (x = 0; x < out->w; ++x) {
            const int8_t *src = in->data + y * in->row_stride + x * in->col_stride;
            int8_t *dst = out->data + y * out->row_stride + x * out->col_stride;
            int32_t acc = 0;
            int32_t mult, shift;
            for (c = 0; c < in->c; ++c) {
                const int32_t v = src[c] - input_zero_point;
                acc += v * v;
            }
            inv_sqrt_multiplier_exp(acc, &mult, &shift);
            for (c = 0; c < in->c; ++c) {
                /* the output scale 1/128 (2^7) is folded into the shift */
                dst[c] = (int8_t)clamp_i32(fp_mbqm(src[c] - input_zero_point, mult, shift + 7), -128, 127);
            }
        }
    }
}
