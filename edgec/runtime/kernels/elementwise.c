/* Broadcasting binary element-wise kernels: add (and sub), mul. */
#include "kernels_internal.h"

/* Element-steps of one operand when walking out's window: 0 along a
 * broadcast (size 1) dimension. */
typedef struct {
    const int8_t *data;
    int32_t row_step, col_step, ch_step;
} operand_walk;

static operand_walk walk_of(const edgec_view *v, const edgec_view *out)
{
    operand_walk o;
    o.data = v->data;
    o.row_step = (v->h == 1 && out->h != 1) ? 0 : v->row_stride;
    o.col_step = (v->w == 1 && out->w != 1) ? 0 : v->col_stride;
    o.ch_step = (v->c == 1 && out->c != 1) ? 0 : 1;
    return o;
}

/* An operand that can be read as one run over out: a dense window of out's
 * shape (step 1) or a single element (step 0). Returns the step or -1. */
static int32_t flat_step(const edgec_view *v, const edgec_view *out)
{
    if (v->h == 1 && v->w == 1 && v->c == 1) {
        return 0;
    }
    if (v->h == out->h && v->w == out->w && v->c == out->c && view_is_dense(v)) {
        return 1;
    }
    return -1;
}

typedef void (*binary_run_fn)(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out,
                              int32_t n, const void *params);

static void binary_over_views(const edgec_view *a, const edgec_view *b, edgec_view *out, binary_run_fn run,
                              const void *params)
{
    const int32_t a_flat = flat_step(a, out);
    const int32_t b_flat = flat_step(b, out);
    operand_walk wa, wb;
    int32_t y, x;

    if (a_flat >= 0 && b_flat >= 0 && view_is_dense(out)) {
        run(a->data, a_flat, b->data, b_flat, out->data, out->h * out->w * out->c, params);
        return;
    }
    wa = walk_of(a, out);
    wb = walk_of(b, out);
    for (y = 0; y < out->h; ++y) {
        for (x = 0; x < out->w; ++x) {
            run(wa.data + y * wa.row_step + x * wa.col_step, wa.ch_step, wb.data + y * wb.row_step + x * wb.col_step,
                wb.ch_step, out->data + y * out->row_stride + x * out->col_stride, out->c, params);
        }
    }
}

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
