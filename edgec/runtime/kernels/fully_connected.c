/* fully connected (TFLite reference int8 FULLY_CONNECTED, double rescale). */
#include "kernels_internal.h"

/* round(acc * scale), halves away from zero, saturated to int32 (C round()
 * without libm: the fraction of a double is exact, so compare it to 0.5). */
static int32_t scale_and_round(int32_t acc, double scale)
{
    const double v = (double)acc * scale;
    int64_t t;
    double frac;
    if (v >= 2147483647.0) {
        return EDGEC_INT32_MAX;
    }
    if (v <= -2147483648.0) {
        return EDGEC_INT32_MIN;
    }
    t = (int64_t)v; /* truncates toward zero */
    frac = v - (double)t;
    if (frac >= 0.5) {
        ++t;
    } else if (frac <= -0.5) {
        --t;
    }
    return (int32_t)t; /* |v| < 2^31, so t stays in range */
}

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
            /* The rounded value may sit at the int32 limits: bound it before adding the offset. */
            y[oc] = (int8_t)clamp_i32(clamp_i32(scale_and_round(acc, p->out_scale[oc]), -65536, 65536) +
                                          p->output_offset,
                                      p->act_min, p->act_max);
        }
    }
}
