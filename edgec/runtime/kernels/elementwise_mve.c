/*
 * Helium (MVE) add (and sub: add with b_mult negated) for Cortex-M55.  Same
 * arguments and results, bit for bit, as the portable edgec_add
 * (reference_integer_ops::Add): both inputs are offset, shifted left,
 * requantized to a common scale, summed and requantized to the output.
 *
 * Four elements per step in int32 lanes (VLDRB.S32 widens int8 loads), the
 * three requantizations with mve_requant.h; the run's tail is predicated.
 * Runs are the whole tensor when both inputs and the output are dense
 * windows of the output's shape (or an input is a single value), else one
 * pixel's channels at a time; any other broadcast goes to edgec_add.  Built
 * only for targets with integer MVE.
 */
#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "kernels_internal.h"
#include "mve_requant.h"

typedef struct {
    int32_t a_offset, b_offset, left_shift, output_offset;
    mve_requant_q a_q, b_q, out_q;
    int32x4_t lo, hi;
} add_stage;

static add_stage make_add_stage(const edgec_add_params *p)
{
    add_stage s;
    s.a_offset = p->a_offset;
    s.b_offset = p->b_offset;
    s.left_shift = p->left_shift;
    s.output_offset = p->output_offset;
    s.a_q = mve_requant_make(vdupq_n_s32(p->a_mult), vdupq_n_s32(p->a_shift));
    s.b_q = mve_requant_make(vdupq_n_s32(p->b_mult), vdupq_n_s32(p->b_shift));
    s.out_q = mve_requant_make(vdupq_n_s32(p->out_mult), vdupq_n_s32(p->out_shift));
    s.lo = vdupq_n_s32(p->act_min);
    s.hi = vdupq_n_s32(p->act_max);
    return s;
}

/* out[i] = a[i * a_step] + b[i * b_step] for i < n; steps are 0 (one value) or 1. */
static void add_run(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                    const add_stage *s)
{
    int32_t i;
    for (i = 0; i < n; i += 4) {
        const mve_pred16_t lanes = vctp32q((uint32_t)(n - i));
        const int32x4_t av = a_step ? vldrbq_z_s32(a + i, lanes) : vdupq_n_s32(a[0]);
        const int32x4_t bv = b_step ? vldrbq_z_s32(b + i, lanes) : vdupq_n_s32(b[0]);
        const int32x4_t as = mve_requant(vshlq_r_s32(vaddq_n_s32(av, s->a_offset), s->left_shift), &s->a_q);
        const int32x4_t bs = mve_requant(vshlq_r_s32(vaddq_n_s32(bv, s->b_offset), s->left_shift), &s->b_q);
        const int32x4_t sum = vaddq_s32(as, bs);
        vstrbq_p_s32(out + i, mve_requant_clamp(sum, s->out_q, s->output_offset, s->lo, s->hi), lanes);
    }
}

/* 1 for a dense window of out's shape, 0 for a single value, -1 otherwise. */
static int32_t run_step(const edgec_view *v, const edgec_view *out)
{
    if (v->h == 1 && v->w == 1 && v->c == 1) {
        return 0;
    }
    return v->h == out->h && v->w == out->w && v->c == out->c && view_is_dense(v) ? 1 : -1;
}

void edgec_add_mve(const edgec_view *a, const edgec_view *b, edgec_view *out, const edgec_add_params *p)
{
    const int32_t a_step = run_step(a, out), b_step = run_step(b, out);
    const add_stage s = make_add_stage(p);
    const int same_a = a->h == out->h && a->w == out->w && a->c == out->c;
    const int same_b = b->h == out->h && b->w == out->w && b->c == out->c;
    int32_t y, x;

    if (a_step >= 0 && b_step >= 0 && view_is_dense(out)) {
        add_run(a->data, a_step, b->data, b_step, out->data, out->h * out->w * out->c, &s);
        return;
    }
    if (!same_a || !same_b) {
        edgec_add(a, b, out, p);
        return;
    }
    for (y = 0; y < out->h; ++y) {
        for (x = 0; x < out->w; ++x) {
            add_run(a->data + y * a->row_stride + x * a->col_stride, 1, b->data + y * b->row_stride + x * b->col_stride,
                    1, out->data + y * out->row_stride + x * out->col_stride, out->c, &s);
        }
    }
}

#else

typedef int edgec_elementwise_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
