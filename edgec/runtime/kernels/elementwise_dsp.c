/* Add (and sub) on the DSP extension: TFLite's three requantizations per
 * element (reference_integer_ops::Add) with rq_fast (requant_fast.h, one
 * SMMULR and a rounding shift each) instead of the 64-bit double-rounding
 * MultiplyByQuantizedMultiplier.  Broadcasting and in place as edgec_add.
 *
 * When rq_fast is exact (see requant_fast.h: |x| * 2^(L + 1) < 2^31, L the
 * left part of the shift):
 *   - inputs: x = (v + offset) << left_shift with |v + offset| <= 255, and
 *     a_shift, b_shift <= 0 (L = 0), so |x| * 2 <= 255 * 2^(left_shift + 1)
 *     < 2^31 for left_shift <= 22;
 *   - output: each rescaled input is at most |x| (multiplier < 1, shift
 *     <= 0) plus one for rounding, so |sum| <= 2 * (255 * 2^left_shift + 1)
 *     and |sum| * 2 < 2^31 for left_shift <= 20 and out_shift <= 0.
 * edgec_add_dsp checks exactly these conditions (left_shift <= 20, every
 * shift <= 0) and otherwise runs edgec_add.  rq_fast's proof holds for a
 * negative multiplier too (sub negates b_mult). */
#include "binary_walk.h"
#include "kernels_internal.h"
#include "requant_fast.h"

static void add_dsp_run(const int8_t *a, int32_t a_step, const int8_t *b, int32_t b_step, int8_t *out, int32_t n,
                        const void *params)
{
    const edgec_add_params *p = (const edgec_add_params *)params;
    /* In locals: the int8 stores may alias the parameter struct. */
    const int32_t a_offset = p->a_offset, a_mult = p->a_mult, a_shift = p->a_shift;
    const int32_t b_offset = p->b_offset, b_mult = p->b_mult, b_shift = p->b_shift;
    const int32_t left_shift = p->left_shift, output_offset = p->output_offset;
    const int32_t out_mult = p->out_mult, out_shift = p->out_shift, act_min = p->act_min, act_max = p->act_max;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t a_val = (int32_t)((uint32_t)(a_offset + a[i * a_step]) << left_shift);
        const int32_t b_val = (int32_t)((uint32_t)(b_offset + b[i * b_step]) << left_shift);
        const int32_t sum = rq_fast(a_val, a_mult, a_shift) + rq_fast(b_val, b_mult, b_shift);
        out[i] = rq_fast_clamp(sum, out_mult, out_shift, output_offset, act_min, act_max);
    }
}

void edgec_add_dsp(const edgec_view *a, const edgec_view *b, edgec_view *out, const edgec_add_params *p)
{
    if (p->left_shift < 0 || p->left_shift > 20 || p->a_shift > 0 || p->b_shift > 0 || p->out_shift > 0) {
        edgec_add(a, b, out, p);
        return;
    }
    binary_over_views(a, b, out, add_dsp_run, p);
}
