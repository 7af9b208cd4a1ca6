/* In-place depthwise conv2d, one channel at a time through a padded scratch
 * plane (TinyEngine-style).  Same arithmetic as edgec_depthwise_conv2d
 * (reference_integer_ops::DepthwiseConvPerChannel): every accumulator starts
 * at the bias and adds w * (x + input_offset) over the taps in (ky, kx) order;
 * padding taps read the input zero point (-input_offset) and so add exactly
 * 0, leaving every partial sum equal to the out-of-place kernel's. */
#include <string.h>

#include "kernels_internal.h"

void edgec_depthwise_conv2d_inplace(int8_t *buffer, int32_t in_h, int32_t in_w, int32_t channels, int32_t out_h,
                                    int32_t out_w, int8_t *scratch, const int8_t *weights, const int32_t *bias,
                                    const edgec_depthwise_params *p)
{
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    const int32_t sh = p->stride_h, sw = p->stride_w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w;
    const int32_t pad_top = p->pad_top, pad_left = p->pad_left;
    const int32_t plane_w = in_w + pad_left + p->pad_right;
    const int32_t plane_size = edgec_depthwise_inplace_scratch_size(in_h, in_w, p);
    const int32_t input_offset = p->input_offset;
    int8_t *const interior = scratch + pad_top * plane_w + pad_left;
    int32_t c, y, x, oy, ox, ky, kx;

    if (plane_size <= 0 || out_h <= 0 || out_w <= 0) {
        return;
    }
    /* The border holds the input zero point for every channel; only the
     * interior is rewritten per channel. */
    memset(scratch, (int8_t)(-input_offset), (size_t)plane_size);

    for (c = 0; c < channels; ++c) {
        const int8_t *wc = weights + c;
        const int32_t acc0 = bias ? bias[c] : 0;
        const int32_t mult = p->out_mult[c], shift = p->out_shift[c];
        int8_t *po = buffer + c;

        /* Input channel c -> scratch interior.  Channels < c have already
         * written their outputs, but only at offsets p * channels + c' with
         * c' < c, so channel c is still intact. */
        for (y = 0; y < in_h; ++y) {
            const int8_t *src = buffer + y * in_w * channels + c;
            int8_t *dst = interior + y * plane_w;
            for (x = 0; x < in_w; ++x) {
                dst[x] = src[x * channels];
            }
        }

        /* Output channel c from the plane, written in NHWC order over the
         * buffer's channel-c slots. */
        for (oy = 0; oy < out_h; ++oy) {
            const int8_t *row = scratch + oy * sh * plane_w;
            for (ox = 0; ox < out_w; ++ox) {
                const int8_t *win = row + ox * sw;
                int32_t acc = acc0;
                for (ky = 0; ky < kh; ++ky) {
                    const int8_t *px = win + ky * dh * plane_w;
                    const int8_t *wk = wc + ky * kw * channels;
                    for (kx = 0; kx < kw; ++kx) {
                        acc += wk[kx * channels] * (px[kx * dw] + input_offset);
                    }
                }
                *po = requantize_and_clamp(acc, mult, shift, p->output_offset, p->act_min, p->act_max);
                po += channels;
            }
        }
    }
}
