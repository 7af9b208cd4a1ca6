/*
 * Helium (MVE) fully connected for Cortex-M55: the same arguments, weight
 * layout ([out_features][in_features] int8) and results, bit for bit, as the
 * portable edgec_fully_connected.
 *
 * Sixteen inputs per step: VMLADAVA.S8 adds the sixteen products w * x to
 * the accumulator and VADDVA.S8 the sixteen weights to their sum, the last
 * step's loads predicated (zeros add nothing).  As in the portable kernel,
 * sum(w * (x + input_offset)) = sum(w * x) + input_offset * sum(w) exactly,
 * plus the bias, then fc_requantize (TFLite's double rescale).  Built only
 * for targets with integer MVE.
 */
#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "kernels_internal.h"
#include <arm_mve.h>

void edgec_fully_connected_mve(const int8_t *in, int8_t *out, int32_t batches, const int8_t *weights,
                               const int32_t *bias, const edgec_fc_params *p)
{
    const int32_t k = p->in_features, cout = p->out_features, full = k & ~15;
    const mve_pred16_t tail = vctp8q((uint32_t)(k - full));
    int32_t b, oc, i;

    for (b = 0; b < batches; ++b) {
        const int8_t *x = in + b * k;
        int8_t *y = out + b * cout;
        const int8_t *w = weights;
        for (oc = 0; oc < cout; ++oc, w += k) {
            int32_t acc = 0, wsum = 0;
            for (i = 0; i < full; i += 16) {
                const int8x16_t wv = vldrbq_s8(w + i);
                acc = vmladavaq_s8(acc, wv, vldrbq_s8(x + i));
                wsum = vaddvaq_s8(wsum, wv);
            }
            if (full < k) {
                const int8x16_t wv = vldrbq_z_s8(w + full, tail);
                acc = vmladavaq_s8(acc, wv, vldrbq_z_s8(x + full, tail));
                wsum = vaddvaq_s8(wsum, wv);
            }
            acc += wsum * p->input_offset + (bias ? bias[oc] : 0);
            y[oc] = fc_requantize(acc, p->out_scale[oc], p);
        }
    }
}

#else

typedef int edgec_fully_connected_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
