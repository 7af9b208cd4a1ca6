/*
 * Helium (MVE) depthwise convolution for Cortex-M55, any kernel size,
 * stride, dilation and padding, depth multiplier 1 (others go to the
 * portable edgec_depthwise_conv2d).  Same arguments, weight layout
 * ([1, KH, KW, C]) and results, bit for bit, as the portable kernel.
 *
 * NHWC keeps neighbouring channels in neighbouring bytes, and so does the
 * weight layout, so eight channels are one vector: VLDRB.S16 widens eight
 * int8 inputs (and weights) to int16, the input offset is added there
 * (|x + offset| <= 255), and VMULLB/VMULLT multiply the even and the odd
 * lanes into two int32x4 accumulators.  The channel tail is predicated.
 * The even and odd accumulators are requantized as four lanes each
 * (mve_requant.h), with multipliers and shifts gathered at stride 2, and
 * scattered back to their channels.  Built only for targets with integer MVE.
 */
#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "kernels_internal.h"
#include "mve_requant.h"

#define DW_LANES 8

/* The requantization and bias of the even (or odd) channels of a block of eight. */
typedef struct {
    mve_requant_q q;
    int32x4_t bias;
    mve_pred16_t lanes;
} half_block;

static half_block load_half(const int32_t *bias, const edgec_depthwise_params *p, int32_t c0, uint32x4_t offsets,
                            int32_t count)
{
    half_block h;
    h.lanes = vctp32q((uint32_t)count);
    h.q = mve_requant_make(vldrwq_gather_shifted_offset_z_s32(p->out_mult + c0, offsets, h.lanes),
                           vldrwq_gather_shifted_offset_z_s32(p->out_shift + c0, offsets, h.lanes));
    h.bias = bias ? vldrwq_gather_shifted_offset_z_s32(bias + c0, offsets, h.lanes) : vdupq_n_s32(0);
    return h;
}

static inline void store_half(int8_t *dst, uint32x4_t offsets, int32x4_t acc, mve_requant_q q, mve_pred16_t lanes,
                              int32_t output_offset, int32x4_t lo, int32x4_t hi)
{
    vstrbq_scatter_offset_p_s32(dst, offsets, mve_requant_clamp(acc, q, output_offset, lo, hi), lanes);
}

void edgec_depthwise_conv2d_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                                const edgec_depthwise_params *p)
{
    const int32_t kw = p->kernel_w, dh = p->dilation_h, dw = p->dilation_w;
    const int32_t channels = out->c;
    const int16_t input_offset = (int16_t)p->input_offset;
    const uint32x4_t even = vidupq_n_u32(0, 2), odd = vidupq_n_u32(1, 2);
    const int32_t output_offset = p->output_offset;
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    int32_t c0, oy, ox, ky, kx;

    if (p->depth_multiplier > 1) {
        edgec_depthwise_conv2d(in, out, weights, bias, p);
        return;
    }
    for (c0 = 0; c0 < channels; c0 += DW_LANES) {
        const int32_t nc = channels - c0 < DW_LANES ? channels - c0 : DW_LANES;
        const mve_pred16_t lanes = vctp16q((uint32_t)nc);
        const half_block he = load_half(bias, p, c0, even, (nc + 1) / 2);
        const half_block ho = load_half(bias, p, c0, odd, nc / 2);
        for (oy = 0; oy < out->h; ++oy) {
            const int32_t in_y0 = oy * p->stride_h - p->pad_top;
            int32_t ky0;
            const int32_t ky1 = valid_taps(in_y0, dh, p->kernel_h, in->h, &ky0);
            int8_t *out_row = out->data + oy * out->row_stride + c0;
            for (ox = 0; ox < out->w; ++ox) {
                const int32_t in_x0 = ox * p->stride_w - p->pad_left;
                int32_t kx0;
                const int32_t kx1 = valid_taps(in_x0, dw, kw, in->w, &kx0);
                int32x4_t acc_even = he.bias, acc_odd = ho.bias;
                for (ky = ky0; ky < ky1; ++ky) {
                    const int8_t *in_row = in->data + (in_y0 + ky * dh) * in->row_stride + c0;
                    const int8_t *w_row = weights + ky * kw * channels + c0;
                    for (kx = kx0; kx < kx1; ++kx) {
                        const int16x8_t x = vaddq_n_s16(
                            vldrbq_z_s16(in_row + (in_x0 + kx * dw) * in->col_stride, lanes), input_offset);
                        const int16x8_t w = vldrbq_z_s16(w_row + kx * channels, lanes);
                        acc_even = vaddq_s32(acc_even, vmullbq_int_s16(x, w));
                        acc_odd = vaddq_s32(acc_odd, vmulltq_int_s16(x, w));
                    }
                }
                store_half(out_row + ox * out->col_stride, even, acc_even, he.q, he.lanes, output_offset, lo, hi);
                store_half(out_row + ox * out->col_stride, odd, acc_odd, ho.q, ho.lanes, output_offset, lo, hi);
            }
        }
    }
}

#else

typedef int edgec_depthwise_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
