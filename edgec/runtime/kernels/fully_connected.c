/* fully connected (TFLite reference int8 FULLY_CONNECTED, double rescale). */
#include "kernels_internal.h"

void edgec_fully_connected(const int8_t *in, int8_t *out, int32_t batches, const int8_t *weights,
                           const int32_t *bias, const edgec_fc_params *p)
{
    const int32_t k = p->in_features;
    const int32_t cout = p->out_features;
    int32_t b, oc, i;

    for (b = 0; b < batches; ++b) {
        const int8_t *x = in + b * k;
        int8_t *y = out + b * cout;
        const int8_t *w = weights;
        for (oc = 0; oc < cout; ++oc, w += k) {
            int32_t acc = 0, wsum = 0;
            for (i = 0; i < k; ++i) {
                wsum += w[i];
                acc += w[i] * x[i];
            }
            /* sum(w * (x + off)) == sum(w * x) + off * sum(w), exactly. */
            acc += wsum * p->input_offset + (bias ? bias[oc] : 0);
            y[oc] = fc_requantize(acc, p->out_scale[oc], p);
        }
    }
}
