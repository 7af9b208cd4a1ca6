/* depthwise conv2d (reference_integer_ops::DepthwiseConvPerChannel). */
#include "kernels_internal.h"

void edgec_depthwise_conv2d(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                            const edgec_depthwise_params *p)
{
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w;
    const int32_t depth_multiplier = p->depth_multiplier > 0 ? p->depth_multiplier : 1;
    const int32_t cout = out->c;
    const int32_t input_offset = p->input_offset;
    int32_t oy, ox, oc, ky, kx;

    for (oy = 0; oy < out->h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        int32_t ky0;
        const int32_t ky1 = valid_taps(in_y0, dh, kh, in->h, &ky0);
        for (ox = 0; ox < out->w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            int32_t kx0;
            const int32_t kx1 = valid_taps(in_x0, dw, kw, in->w, &kx0);
            int8_t *po = out->data + oy * out->row_stride + ox * out->col_stride;

            if (depth_multiplier == 1) {
                /* Inner loop over channels: input and weights are both contiguous. */
                int32_t c;
                for (c = 0; c < cout; ++c) {
                    int32_t acc = bias ? bias[c] : 0;
                    for (ky = ky0; ky < ky1; ++ky) {
                        const int8_t *in_row = in->data + (in_y0 + ky * dh) * in->row_stride + c;
                        const int8_t *w_row = weights + ky * kw * cout + c;
                        for (kx = kx0; kx < kx1; ++kx) {
                            acc += w_row[kx * cout] * (in_row[(in_x0 + kx * dw) * in->col_stride] + input_offset);
                        }
                    }
                    po[c] = requantize_and_clamp(acc, p->out_mult[c], p->out_shift[c], p->output_offset, p->act_min,
                                                 p->act_max);
                }
            } else {
                for (oc = 0; oc < cout; ++oc) {
                    const int32_t ic = oc / depth_multiplier;
                    int32_t acc = bias ? bias[oc] : 0;
                    for (ky = ky0; ky < ky1; ++ky) {
                        const int8_t *in_row = in->data + (in_y0 + ky * dh) * in->row_stride + ic;
                        const int8_t *w_row = weights + ky * kw * cout + oc;
                        for (kx = kx0; kx < kx1; ++kx) {
                            acc += w_row[kx * cout] * (in_row[(in_x0 + kx * dw) * in->col_stride] + input_offset);
                        }
                    }
                    po[oc] = requantize_and_clamp(acc, p->out_mult[oc], p->out_shift[oc], p->output_offset,
                                                  p->act_min, p->act_max);
                }
            }
        }
    }
}
