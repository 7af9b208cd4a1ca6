/*
 * Helium (MVE) form of the in-place depthwise conv2d (depthwise_inplace.c):
 * the same procedure -- one channel at a time through the ring of padded
 * rows, each row copied at its first use, outputs written over the buffer's
 * channel-c slots row by row -- so the same proof of correctness holds
 * (read it there), and the same arithmetic, bit for bit.  What changes is
 * the inner work:
 *
 *   - copying a row of channel c into its ring slot gathers eight pixels per
 *     step (VLDRB gather with offsets 0, C, 2C, ...);
 *   - four outputs of a row at a time: every ring row holds the zero point
 *     in its padding, so each output starts from bias + input_offset * sum(w)
 *     and adds w * x over all taps, a scalar weight times four input bytes
 *     (VLDRB.S32, or a gather for strides > 1) with one VMLA;
 *   - the four results are requantized together (mve_requant.h) and
 *     scattered to their NHWC slots, C bytes apart.
 *
 * All four outputs of a step belong to the output row being written, whose
 * ring rows were all copied before it starts, as in the portable kernel.
 * Built only for targets with integer MVE.
 */
#include <string.h>

#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "kernels_internal.h"
#include "mve_requant.h"

/* dst[x] = src[x * channels] for x < n. */
static void copy_channel_row(int8_t *dst, const int8_t *src, int32_t channels, int32_t n)
{
    const uint16x8_t offsets = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)channels);
    int32_t x;
    for (x = 0; x < n; x += 8) {
        const mve_pred16_t p = vctp16q((uint32_t)(n - x));
        vstrbq_p_s16(dst + x, vldrbq_gather_offset_z_s16(src + x * channels, offsets, p), p);
    }
}

void edgec_depthwise_conv2d_inplace_mve(int8_t *buffer, int32_t in_h, int32_t in_w, int32_t channels,
                                        int32_t out_h, int32_t out_w, int8_t *scratch, const int8_t *weights,
                                        const int32_t *bias, const edgec_depthwise_params *p)
{
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    const int32_t sh = p->stride_h, sw = p->stride_w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w;
    const int32_t pad_top = p->pad_top, pad_left = p->pad_left;
    const int32_t ring_rows = (kh - 1) * dh + 1;
    const int32_t row_w = in_w + pad_left + p->pad_right;
    const int32_t ring_size = edgec_depthwise_inplace_scratch_size(in_h, in_w, p);
    const int8_t zero_point = (int8_t)(-p->input_offset);
    const uint32x4_t tap_step = vidupq_n_u32(0, 1);
    const uint32x4_t in_offsets = vmulq_n_u32(tap_step, (uint32_t)sw);           /* 4 outputs' inputs */
    const uint32x4_t out_offsets = vmulq_n_u32(tap_step, (uint32_t)channels);   /* their NHWC slots */
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    int32_t period = 1, c, oy, ox, ky, kx;

    if (ring_size <= 0 || out_h <= 0 || out_w <= 0) {
        return;
    }
    while ((period * sh) % dh != 0) {
        ++period;
    }
    memset(scratch, zero_point, (size_t)ring_size);

    for (c = 0; c < channels; ++c) {
        const int8_t *wc = weights + c;
        const mve_requant_q q = mve_requant_make(vdupq_n_s32(p->out_mult[c]), vdupq_n_s32(p->out_shift[c]));
        int32_t wsum = 0;
        int32x4_t start;

        for (ky = 0; ky < kh * kw; ++ky) {
            wsum += wc[ky * channels];
        }
        start = vdupq_n_s32((bias ? bias[c] : 0) + p->input_offset * wsum);

        for (oy = 0; oy < out_h; ++oy) {
            const int32_t slot0 = (oy * sh) % ring_rows;

            for (ky = 0; ky < kh; ++ky) {
                if (oy >= period && ky * dh + period * sh <= (kh - 1) * dh) {
                    continue; /* already in the ring */
                }
                {
                    const int32_t r = oy * sh + ky * dh, iy = r - pad_top;
                    int8_t *dst = scratch + (r % ring_rows) * row_w + pad_left;
                    if (iy < 0 || iy >= in_h) {
                        memset(dst, zero_point, (size_t)in_w);
                    } else {
                        copy_channel_row(dst, buffer + iy * in_w * channels + c, channels, in_w);
                    }
                }
            }

            for (ox = 0; ox < out_w; ox += 4) {
                const mve_pred16_t lanes = vctp32q((uint32_t)(out_w - ox));
                int32x4_t acc = start;
                int32_t slot = slot0;
                for (ky = 0; ky < kh; ++ky) {
                    const int8_t *px = scratch + slot * row_w + ox * sw;
                    const int8_t *wk = wc + ky * kw * channels;
                    for (kx = 0; kx < kw; ++kx) {
                        const int32x4_t x = sw == 1 ? vldrbq_z_s32(px + kx * dw, lanes)
                                                    : vldrbq_gather_offset_z_s32(px + kx * dw, in_offsets, lanes);
                        acc = vmlaq_n_s32(acc, x, wk[kx * channels]);
                    }
                    slot += dh;
                    if (slot >= ring_rows) {
                        slot -= ring_rows;
                    }
                }
                vstrbq_scatter_offset_p_s32(buffer + (oy * out_w + ox) * channels + c, out_offsets,
                                            mve_requant_clamp(acc, q, p->output_offset, lo, hi), lanes);
            }
        }
    }
}

#else

typedef int edgec_depthwise_inplace_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
