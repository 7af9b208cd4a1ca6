/* int8 softmax over the channels of each pixel (reference_ops::Softmax,
 * gemmlowp fixed point); output scale 1/256, zero point -128. */
#include "kernels_internal.h"

/* Integer bits of the scaled input differences and of the sum of exps. */
#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

/* exp(beta * (x - max)) in Q0 for a difference that is >= diff_min. */
static inline int32_t exp_of_diff(int32_t diff, const edgec_softmax_params *p)
{
    /* MultiplyByQuantizedMultiplierGreaterThanOne */
    const int32_t scaled_diff = fp_srdhm(fp_shift_left(diff, p->input_beta_left_shift), p->input_beta_multiplier);
    return fp_exp_on_negative_values(scaled_diff, SCALED_DIFF_INTEGER_BITS);
}

static void softmax_pixel(const int8_t *in, int8_t *out, int32_t depth, const edgec_softmax_params *p)
{
    int32_t max_in_row = -128;
    int32_t sum_of_exps = 0; /* Q12 */
    int32_t headroom_plus_one, num_bits_over_unit, shifted_scale, c;

    for (c = 0; c < depth; ++c) {
        if (in[c] > max_in_row) {
            max_in_row = in[c];
        }
    }
    for (c = 0; c < depth; ++c) {
        const int32_t diff = in[c] - max_in_row;
        if (diff >= p->diff_min) {
            sum_of_exps += fp_rounding_divide_by_pot(exp_of_diff(diff, p), ACCUMULATION_INTEGER_BITS);
        }
    }

    /* GetReciprocal: 1 / sum_of_exps as a Q0 scale and a power of two. */
    headroom_plus_one = fp_count_leading_zeros((uint32_t)sum_of_exps);
    num_bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom_plus_one;
    shifted_scale = fp_one_over_one_plus_x_for_x_in_0_1(
        (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - ((uint32_t)1 << 31)));

    for (c = 0; c < depth; ++c) {
        const int32_t diff = in[c] - max_in_row;
        if (diff >= p->diff_min) {
            const int32_t exp_in_0 = exp_of_diff(diff, p);
            const int32_t unsat = fp_rounding_divide_by_pot(fp_srdhm(shifted_scale, exp_in_0), num_bits_over_unit + 31 - 8);
            out[c] = (int8_t)clamp_i32(unsat - 128, -128, 127);
        } else {
            out[c] = -128;
        }
    }
}

void edgec_softmax(const edgec_view *in, edgec_view *out, const edgec_softmax_params *p)
{
    int32_t y, x;
    for (y = 0; y < out->h; ++y) {
        for (x = 0; x < out->w; ++x) {
            softmax_pixel(in->data + y * in->row_stride + x * in->col_stride,
                          out->data + y * out->row_stride + x * out->col_stride, out->c, p);
        }
    }
}
