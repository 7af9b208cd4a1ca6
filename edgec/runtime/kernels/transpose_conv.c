/* Transposed convolution (reference_integer_ops::TransposeConv), computed per output pixel. */
#include "kernels_internal.h"

/* TFLite scatters input index i through tap k to output index o = i * stride + k * dilation - pad.
 * Gathering instead: the input index that reaches o through tap k, or -1 when none does. */
static inline int32_t source_index(int32_t o, int32_t k, int32_t pad, int32_t stride, int32_t dilation,
                                   int32_t in_size)
{
    const int32_t t = o + pad - k * dilation;
    if (t < 0 || t % stride != 0 || t / stride >= in_size) {
        return -1;
    }
    return t / stride;
}

void edgec_transpose_conv2d(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                            const edgec_transpose_conv_params *p)
{
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    const int32_t cin = in->c;
    const int32_t input_offset = p->input_offset;
    int32_t oy, ox, oc, ky, kx, ic;

    for (oy = 0; oy < out->h; ++oy) {
        for (ox = 0; ox < out->w; ++ox) {
            int8_t *po = out->data + oy * out->row_stride + ox * out->col_stride;
            for (oc = 0; oc < out->c; ++oc) {
                /* The same products TFLite scatters into this pixel, summed in int32. */
                int32_t acc = bias ? bias[oc] : 0;
                for (ky = 0; ky < kh; ++ky) {
                    const int32_t iy = source_index(oy, ky, p->pad_top, p->stride_h, p->dilation_h, in->h);
                    if (iy < 0) {
                        continue;
                    }
                    for (kx = 0; kx < kw; ++kx) {
                        const int32_t ix = source_index(ox, kx, p->pad_left, p->stride_w, p->dilation_w, in->w);
                        const int8_t *px;
                        const int8_t *wv;
                        if (ix < 0) {
                            continue;
                        }
                        px = in->data + iy * in->row_stride + ix * in->col_stride;
                        wv = weights + ((oc * kh + ky) * kw + kx) * cin;
                        for (ic = 0; ic < cin; ++ic) {
                            acc += wv[ic] * (px[ic] + input_offset);
                        }
                    }
                }
                po[oc] = requantize_and_clamp(acc, p->out_mult[oc], p->out_shift[oc], p->output_offset, p->act_min,
                                              p->act_max);
            }
        }
    }
}
