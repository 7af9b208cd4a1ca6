/* depthwise conv2d (reference_integer_ops::DepthwiseConvPerChannel). */
#include "kernels_internal.h"

/* Output channels accumulated at once (stack buffer). */
#define DW_CHANNEL_BLOCK 64

void edgec_depthwise_conv2d(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                            const edgec_depthwise_params *p)
{
    const int32_t kw = p->kernel_w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w;
    const int32_t depth_multiplier = p->depth_multiplier > 0 ? p->depth_multiplier : 1;
    const int32_t cout = out->c;
    const int32_t input_offset = p->input_offset;
    int32_t acc[DW_CHANNEL_BLOCK];
    int32_t oy, ox, ky, kx, c, c0;

    for (oy = 0; oy < out->h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        int32_t ky0;
        const int32_t ky1 = valid_taps(in_y0, dh, p->kernel_h, in->h, &ky0);
        for (ox = 0; ox < out->w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            int32_t kx0;
            const int32_t kx1 = valid_taps(in_x0, dw, kw, in->w, &kx0);
            int8_t *po = out->data + oy * out->row_stride + ox * out->col_stride;

            for (c0 = 0; c0 < cout; c0 += DW_CHANNEL_BLOCK) {
                const int32_t nc = cout - c0 < DW_CHANNEL_BLOCK ? cout - c0 : DW_CHANNEL_BLOCK;
                for (c = 0; c < nc; ++c) {
                    acc[c] = bias ? bias[c0 + c] : 0;
                }
                for (ky = ky0; ky < ky1; ++ky) {
                    const int8_t *in_row = in->data + (in_y0 + ky * dh) * in->row_stride;
                    for (kx = kx0; kx < kx1; ++kx) {
                        /* Taps of output channels c0.. for this (ky, kx): contiguous. */
                        const int8_t *w = weights + (ky * kw + kx) * cout + c0;
                        const int8_t *px = in_row + (in_x0 + kx * dw) * in->col_stride;
                        if (depth_multiplier == 1) {
                            px += c0;
                            for (c = 0; c < nc; ++c) {
                                acc[c] += w[c] * (px[c] + input_offset);
                            }
                        } else {
                            /* Output channel oc reads input channel oc / depth_multiplier. */
                            for (c = 0; c < nc; ++c) {
                                acc[c] += w[c] * (px[(c0 + c) / depth_multiplier] + input_offset);
                            }
                        }
                    }
                }
                for (c = 0; c < nc; ++c) {
                    po[c0 + c] = requantize_and_clamp(acc[c], p->out_mult[c0 + c], p->out_shift[c0 + c],
                                                      p->output_offset, p->act_min, p->act_max);
                }
            }
        }
    }
}
