/* Broadcasting binary element-wise kernels: add (and sub), mul. */
#include "binary_walk.h"
#include "kernels_internal.h"

static void add_run(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                    const void *params)
{
    const edgec_add_params *p = (const edgec_add_params *)params;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t a_val = fp_shift_left(p->a_offset + a[i * a_step], p->left_shift);
        const int32_t b_val = fp_shift_left(p->b_offset + b[i * b_step], p->left_shift);
        const int32_t raw_sum = fp_mbqm(a_val, p->a_mult, p->a_shift) + fp_mbqm(b_val, p->b_mult, p->b_shift);
        out[i] = requantize_and_clamp(raw_sum, p->out_mult, p->out_shift, p->output_offset, p->act_min, p->act_max);
    }
}

void edgec_add(const edgec_view *a, const edgec_view *b, edgec_view *out, const edgec_add_params *p)
{
    binary_over_views(a, b, out, add_run, p);
}

static void mul_run(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                    const void *params)
{
    const edgec_mul_params *p = (const edgec_mul_params *)params;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t prod = (p->a_offset + a[i * a_step]) * (p->b_offset + b[i * b_step]);
        out[i] = requantize_and_clamp(prod, p->out_mult, p->out_shift, p->output_offset, p->act_min, p->act_max);
    }
}

void edgec_mul(const edgec_view *a, const edgec_view *b, edgec_view *out, const edgec_mul_params *p)
{
    binary_over_views(a, b, out, mul_run, p);
}

static void maximum_run(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                        const void *params)
{
    int32_t i;
    (void)params;
    for (i = 0; i < n; ++i) {
        const int8_t x = a[i * a_step];
        const int8_t y = b[i * b_step];
        out[i] = x > y ? x : y;
    }
}

void edgec_maximum(const edgec_view *a, const edgec_view *b, edgec_view *out)
{
    binary_over_views(a, b, out, maximum_run, NULL);
}

static void minimum_run(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                        const void *params)
{
    int32_t i;
    (void)params;
    for (i = 0; i < n; ++i) {
        const int8_t x = a[i * a_step];
        const int8_t y = b[i * b_step];
        out[i] = x < y ? x : y;
    }
}

void edgec_minimum(const edgec_view *a, const edgec_view *b, edgec_view *out)
{
    binary_over_views(a, b, out, minimum_run, NULL);
}

static void prelu_run(const int8_t *x, int32_t x_step, const int8_t *alpha, int32_t alpha_step, int8_t *out,
                      int32_t n, const void *params)
{
    const edgec_prelu_params *p = (const edgec_prelu_params *)params;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t v = p->input_offset + x[i * x_step];
        int32_t y;
        if (v >= 0) {
            y = fp_mbqm(v, p->identity_mult, p->identity_shift);
        } else {
            y = fp_mbqm(v * (p->alpha_offset + alpha[i * alpha_step]), p->alpha_mult, p->alpha_shift);
        }
        out[i] = (int8_t)clamp_i32(y + p->output_offset, -128, 127);
    }
}

void edgec_prelu(const edgec_view *in, const edgec_view *alpha, edgec_view *out, const edgec_prelu_params *p)
{
    binary_over_views(in, alpha, out, prelu_run, p);
}

static void squared_difference_run(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out,
                                   int32_t n, const void *params)
{
    const edgec_squared_difference_params *p = (const edgec_squared_difference_params *)params;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t a_val = fp_shift_left(p->a_offset + a[i * a_step], p->left_shift);
        const int32_t b_val = fp_shift_left(p->b_offset + b[i * b_step], p->left_shift);
        const int32_t diff = fp_mbqm(a_val, p->a_mult, p->a_shift) - fp_mbqm(b_val, p->b_mult, p->b_shift);
        /* |diff| < 2^15, so the square fits in int32 */
        out[i] = (int8_t)clamp_i32(fp_mbqm(diff * diff, p->out_mult, p->out_shift) + p->output_offset, -128, 127);
    }
}

void edgec_squared_difference(const edgec_view *a, const edgec_view *b, edgec_view *out,
                              const edgec_squared_difference_params *p)
{
    binary_over_views(a, b, out, squared_difference_run, p);
}
