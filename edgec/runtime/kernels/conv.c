/* conv2d (reference_integer_ops::ConvPerChannel) and its 1x1 fast path. */
#include "kernels_internal.h"

void edgec_conv2d_1x1(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                      const edgec_conv_params *p)
{
    const int32_t cin = in->c;
    const int32_t cout = out->c;
    const int32_t input_offset = p->input_offset;
    const int32_t output_offset = p->output_offset;
    const int32_t act_min = p->act_min;
    const int32_t act_max = p->act_max;
    int32_t y, x, oc, ic;

    for (y = 0; y < out->h; ++y) {
        const int8_t *in_row = in->data + y * in->row_stride;
        int8_t *out_row = out->data + y * out->row_stride;
        x = 0;
        /* Four pixels at a time share each weight load. */
        for (; x + 4 <= out->w; x += 4) {
            const int8_t *px0 = in_row + x * in->col_stride;
            const int8_t *px1 = px0 + in->col_stride;
            const int8_t *px2 = px1 + in->col_stride;
            const int8_t *px3 = px2 + in->col_stride;
            int8_t *po = out_row + x * out->col_stride;
            const int8_t *w = weights;
            for (oc = 0; oc < cout; ++oc, w += cin) {
                int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0, wsum = 0;
                int32_t b;
                for (ic = 0; ic < cin; ++ic) {
                    const int32_t wv = w[ic];
                    wsum += wv;
                    acc0 += wv * px0[ic];
                    acc1 += wv * px1[ic];
                    acc2 += wv * px2[ic];
                    acc3 += wv * px3[ic];
                }
                /* sum(w * (x + off)) == sum(w * x) + off * sum(w), exactly. */
                b = wsum * input_offset + (bias ? bias[oc] : 0);
                po[oc] = requantize_and_clamp(acc0 + b, p->out_mult[oc], p->out_shift[oc], output_offset, act_min,
                                              act_max);
                po[out->col_stride + oc] = requantize_and_clamp(acc1 + b, p->out_mult[oc], p->out_shift[oc],
                                                                output_offset, act_min, act_max);
                po[2 * out->col_stride + oc] = requantize_and_clamp(acc2 + b, p->out_mult[oc], p->out_shift[oc],
                                                                    output_offset, act_min, act_max);
                po[3 * out->col_stride + oc] = requantize_and_clamp(acc3 + b, p->out_mult[oc], p->out_shift[oc],
                                                                    output_offset, act_min, act_max);
            }
        }
        for (; x < out->w; ++x) {
            const int8_t *px = in_row + x * in->col_stride;
            int8_t *po = out_row + x * out->col_stride;
            const int8_t *w = weights;
            for (oc = 0; oc < cout; ++oc, w += cin) {
                int32_t acc = bias ? bias[oc] : 0;
                for (ic = 0; ic < cin; ++ic) {
                    acc += w[ic] * (px[ic] + input_offset);
                }
                po[oc] = requantize_and_clamp(acc, p->out_mult[oc], p->out_shift[oc], output_offset, act_min, act_max);
            }
        }
    }
}

void edgec_conv2d(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                  const edgec_conv_params *p)
{
    const int32_t groups = p->groups > 0 ? p->groups : 1;
    const int32_t cin_per_group = in->c / groups;
    const int32_t cout_per_group = out->c / groups;
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w;
    const int32_t input_offset = p->input_offset;
    /* Weights of one output channel: KH * KW * cin_per_group. */
    const int32_t filter_size = kh * kw * cin_per_group;
    int32_t oy, ox, oc, ky, kx, ic;

    if (kh == 1 && kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
        groups == 1 && out->h == in->h && out->w == in->w) {
        edgec_conv2d_1x1(in, out, weights, bias, p);
        return;
    }

    for (oy = 0; oy < out->h; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        int32_t ky0;
        const int32_t ky1 = valid_taps(in_y0, dh, kh, in->h, &ky0);
        for (ox = 0; ox < out->w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            int32_t kx0;
            const int32_t kx1 = valid_taps(in_x0, dw, kw, in->w, &kx0);
            int8_t *po = out->data + oy * out->row_stride + ox * out->col_stride;
            const int8_t *w_oc = weights;
            for (oc = 0; oc < out->c; ++oc, w_oc += filter_size) {
                const int32_t group = oc / cout_per_group;
                const int8_t *in_group = in->data + group * cin_per_group;
                int32_t acc = bias ? bias[oc] : 0;
                for (ky = ky0; ky < ky1; ++ky) {
                    const int8_t *in_row = in_group + (in_y0 + ky * dh) * in->row_stride;
                    const int8_t *w_row = w_oc + ky * kw * cin_per_group;
                    for (kx = kx0; kx < kx1; ++kx) {
                        const int8_t *px = in_row + (in_x0 + kx * dw) * in->col_stride;
                        const int8_t *wv = w_row + kx * cin_per_group;
                        for (ic = 0; ic < cin_per_group; ++ic) {
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
