/* Element-wise unary kernels: requantize, relu, clamp, leaky_relu, lookup_table, hard_swish.
 * All of them may run in place (out == in). */
#include "kernels_internal.h"

static void requantize_run(const int8_t *in, int8_t *out, int32_t n, const void *params)
{
    const edgec_requantize_params *p = (const edgec_requantize_params *)params;
    int32_t i;
    for (i = 0; i < n; ++i) {
        out[i] = requantize_and_clamp(in[i] + p->input_offset, p->mult, p->shift, p->output_offset, -128, 127);
    }
}

void edgec_requantize(const edgec_view *in, edgec_view *out, const edgec_requantize_params *p)
{
    unary_over_view(in, out, requantize_run, p);
}

static void relu_run(const int8_t *in, int8_t *out, int32_t n, const void *params)
{
    const edgec_relu_params *p = (const edgec_relu_params *)params;
    int32_t i;
    for (i = 0; i < n; ++i) {
        out[i] = requantize_and_clamp(in[i] + p->input_offset, p->out_mult, p->out_shift, p->output_offset,
                                      p->act_min, p->act_max);
    }
}

void edgec_relu(const edgec_view *in, edgec_view *out, const edgec_relu_params *p)
{
    unary_over_view(in, out, relu_run, p);
}

typedef struct {
    int8_t lo, hi;
} clamp_bounds;

static void clamp_run(const int8_t *in, int8_t *out, int32_t n, const void *params)
{
    const clamp_bounds *b = (const clamp_bounds *)params;
    int32_t i;
    for (i = 0; i < n; ++i) {
        out[i] = (int8_t)clamp_i32(in[i], b->lo, b->hi);
    }
}

void edgec_clamp(const edgec_view *in, edgec_view *out, int8_t lo, int8_t hi)
{
    clamp_bounds b;
    b.lo = lo;
    b.hi = hi;
    unary_over_view(in, out, clamp_run, &b);
}

static void leaky_relu_run(const int8_t *in, int8_t *out, int32_t n, const void *params)
{
    const edgec_leaky_relu_params *p = (const edgec_leaky_relu_params *)params;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t x = in[i] + p->input_offset;
        const int32_t y = x >= 0 ? fp_mbqm(x, p->identity_mult, p->identity_shift)
                                 : fp_mbqm(x, p->alpha_mult, p->alpha_shift);
        out[i] = (int8_t)clamp_i32(y + p->output_offset, -128, 127);
    }
}

void edgec_leaky_relu(const edgec_view *in, edgec_view *out, const edgec_leaky_relu_params *p)
{
    unary_over_view(in, out, leaky_relu_run, p);
}

static void lookup_table_run(const int8_t *in, int8_t *out, int32_t n, const void *params)
{
    const int8_t *table = (const int8_t *)params;
    int32_t i;
    for (i = 0; i < n; ++i) {
        out[i] = table[in[i] + 128];
    }
}

void edgec_lookup_table(const edgec_view *in, edgec_view *out, const int8_t table[256])
{
    unary_over_view(in, out, lookup_table_run, table);
}

/* --- hard swish: 16-bit fixed point, as reference_ops::HardSwish */

static inline int16_t saturate_i16(int32_t v)
{
    return (int16_t)clamp_i32(v, -32768, 32767);
}

/* gemmlowp SaturatingRoundingDoublingHighMul for int16. */
static inline int16_t srdhm_i16(int16_t a, int16_t b)
{
    int32_t ab, nudge;
    if (a == -32768 && b == -32768) {
        return 32767;
    }
    ab = (int32_t)a * (int32_t)b;
    nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return (int16_t)((ab + nudge) / (1 << 15));
}

/* Like srdhm_i16 but truncating toward zero (SQDMULH). */
static inline int16_t sdhm_i16(int16_t a, int16_t b)
{
    if (a == -32768 && b == -32768) {
        return 32767;
    }
    return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

static void hard_swish_run(const int8_t *in, int8_t *out, int32_t n, const void *params)
{
    const edgec_hard_swish_params *p = (const edgec_hard_swish_params *)params;
    const int32_t reluish_exponent = p->reluish_multiplier_exponent;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int16_t x = (int16_t)(in[i] - p->input_zero_point);
        const int16_t x_hires = (int16_t)(x * (1 << 7));
        const int16_t x_preshift_output = srdhm_i16(x_hires, p->output_multiplier_fixedpoint_int16);
        int16_t reluish = x_hires;
        int16_t preshift_output;
        int32_t y;
        /* Rescale so that 3.0 maps to 32768, saturating: [-3, 3] -> [-1, 1]. */
        if (reluish_exponent > 0) {
            reluish = saturate_i16((int32_t)reluish * (1 << (reluish_exponent - 1)));
        }
        reluish = srdhm_i16(reluish, p->reluish_multiplier_fixedpoint_int16);
        if (reluish_exponent > 0) {
            reluish = saturate_i16((int32_t)reluish * 2);
        }
        if (reluish_exponent < 0) {
            reluish = (int16_t)fp_rounding_divide_by_pot(reluish, -reluish_exponent);
        }
        /* [-1, 1] -> [0, 1] */
        reluish = (int16_t)((reluish + (1 << 15)) >> 1);
        preshift_output = sdhm_i16(reluish, x_preshift_output);
        y = (int16_t)(fp_rounding_divide_by_pot(preshift_output, -p->output_multiplier_exponent) +
                      p->output_zero_point);
        out[i] = (int8_t)clamp_i32(y, -128, 127);
    }
}

void edgec_hard_swish(const edgec_view *in, edgec_view *out, const edgec_hard_swish_params *p)
{
    unary_over_view(in, out, hard_swish_run, p);
}
