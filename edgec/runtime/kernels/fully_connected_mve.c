/*
 * Helium (MVE) fully connected for Cortex-M55: the same arguments, weight layout ([Co][K] int8)
 * and results, bit for bit, as the portable edgec_fully_connected.
 *
 * Two output channels at a time: per sixteen inputs one load of x, one load of each channel's
 * weights, VMLADAVA.S8 of x with each (the dot products) and VADDVA.S8 of each (the weight sums
 * for the input offset, sum(w * (x + off)) == sum(w * x) + off * sum(w)); the last vector of a
 * row is predicated.  The accumulators then go through the reference's double rescale
 * (fc_requantize), one per output.  Built only for targets with integer MVE.
 */
#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <arm_mve.h>

#include "kernels_internal.h"

/* Dot products of x with rows w0 and w1 (k bytes each) into acc[0..1], their sums into sum[0..1]. */
static void dot2(const int8_t *x, const int8_t *w0, const int8_t *w1, int32_t k, int32_t acc[2], int32_t sum[2])
{
    int32_t a0 = 0, a1 = 0, s0 = 0, s1 = 0, i;
    for (i = 0; i < k; i += 16) {
        const mve_pred16_t lanes = vctp8q((uint32_t)(k - i));
        const int8x16_t xv = vldrbq_z_s8(x + i, lanes);
        const int8x16_t v0 = vldrbq_z_s8(w0 + i, lanes), v1 = vldrbq_z_s8(w1 + i, lanes);
        a0 = vmladavaq_s8(a0, xv, v0);
        a1 = vmladavaq_s8(a1, xv, v1);
        s0 = vaddvaq_s8(s0, v0);
        s1 = vaddvaq_s8(s1, v1);
    }
    acc[0] = a0;
    acc[1] = a1;
    sum[0] = s0;
    sum[1] = s1;
}

void edgec_fully_connected_mve(const int8_t *in, int8_t *out, int32_t batches, const int8_t *weights,
                               const int32_t *bias, const edgec_fc_params *p)
{
    const int32_t k = p->in_features, cout = p->out_features, input_offset = p->input_offset;
    int32_t b, oc, j;
    for (b = 0; b < batches; ++b) {
        const int8_t *x = in + b * k;
        int8_t *y = out + b * cout;
        for (oc = 0; oc < cout; oc += 2) {
            const int32_t n = cout - oc < 2 ? 1 : 2;
            const int8_t *w0 = weights + oc * k;
            int32_t acc[2], sum[2];
            dot2(x, w0, n == 2 ? w0 + k : w0, k, acc, sum);
            for (j = 0; j < n; ++j) {
                const int32_t total = acc[j] + sum[j] * input_offset + (bias ? bias[oc + j] : 0);
                y[oc + j] = fc_requantize(total, p->out_scale[oc + j], p);
            }
        }
    }
}

#else

typedef int edgec_fully_connected_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
