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
 * Square 3x3/5x5/7x7 kernels with dilation 1 take the sixteen-channel
 * blocks of depthwise_pairs_mve.c where their ring fits (the same procedure
 * for sixteen channels at once, in a stack buffer), else, with width stride
 * 1 or 2, the specialised bodies of depthwise_ring_mve.c (the same
 * procedure, in the same scratch); the loops below serve the rest.
 * Built only for targets with integer MVE.
 */
#include <string.h>

#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "depthwise_pairs_mve.h"
#include "depthwise_ring_mve.h"
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

#define MAX_TAPS 64 /* larger kernels go to the portable in-place kernel */

/* The requantization and output stage of one channel. */
typedef struct {
    mve_requant_q q;
    int32_t output_offset;
    int32x4_t lo, hi, start; /* start: bias + input_offset * sum(w) */
} channel_stage;

/* Four outputs from ring rows `rows` (already advanced to the first output's taps): stride `sw`
 * between the outputs' inputs (1: one contiguous load per tap, else a gather). */
static inline int32x4_t four_outputs(const int8_t *const *rows, const int32_t *wk, int32_t kh, int32_t kw, int32_t dw,
                                     int32_t sw, uint32x4_t in_offsets, mve_pred16_t lanes, int32x4_t acc)
{
    int32_t ky, kx;
    for (ky = 0; ky < kh; ++ky) {
        const int8_t *r = rows[ky];
        for (kx = 0; kx < kw; ++kx, ++wk) {
            const int32x4_t x = sw == 1 ? vldrbq_z_s32(r + kx * dw, lanes)
                                        : vldrbq_gather_offset_z_s32(r + kx * dw, in_offsets, lanes);
            acc = vmlaq_n_s32(acc, x, *wk);
        }
    }
    return acc;
}

/* Output row of one channel: outputs at dst, dst + channels, ...; rows[ky] is the ring row tap ky reads. */
static void output_row(const int8_t *const *ring_rows, const int32_t *wk, const edgec_depthwise_params *p,
                       int32_t out_w, int32_t channels, const channel_stage *cs, uint32x4_t in_offsets,
                       uint32x4_t out_offsets, int8_t *dst)
{
    const int32_t kh = p->kernel_h, kw = p->kernel_w, dw = p->dilation_w, sw = p->stride_w;
    const int8_t *rows[MAX_TAPS];
    int32_t ox, ky;
    for (ox = 0; ox < out_w; ox += 4, dst += 4 * channels) {
        const mve_pred16_t lanes = vctp32q((uint32_t)(out_w - ox));
        int32x4_t acc;
        for (ky = 0; ky < kh; ++ky) {
            rows[ky] = ring_rows[ky] + ox * sw;
        }
        acc = sw == 1 ? four_outputs(rows, wk, kh, kw, dw, 1, in_offsets, lanes, cs->start)
                      : four_outputs(rows, wk, kh, kw, dw, sw, in_offsets, lanes, cs->start);
        vstrbq_scatter_offset_p_s32(dst, out_offsets, mve_requant_clamp(acc, cs->q, cs->output_offset, cs->lo, cs->hi),
                                    lanes);
    }
}

void edgec_depthwise_conv2d_inplace_mve(int8_t *buffer, int32_t in_h, int32_t in_w, int32_t channels,
                                        int32_t out_h, int32_t out_w, int8_t *scratch, const int8_t *weights,
                                        const int32_t *bias, const edgec_depthwise_params *p)
{
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    const int32_t sh = p->stride_h, sw = p->stride_w;
    const int32_t dh = p->dilation_h;
    const int32_t pad_top = p->pad_top, pad_left = p->pad_left;
    const int32_t ring_rows = (kh - 1) * dh + 1;
    const int32_t row_w = in_w + pad_left + p->pad_right;
    const int32_t ring_size = edgec_depthwise_inplace_scratch_size(in_h, in_w, p);
    const int8_t zero_point = (int8_t)(-p->input_offset);
    const uint32x4_t tap_step = vidupq_n_u32(0, 1);
    const uint32x4_t in_offsets = vmulq_n_u32(tap_step, (uint32_t)sw);           /* 4 outputs' inputs */
    const uint32x4_t out_offsets = vmulq_n_u32(tap_step, (uint32_t)channels);   /* their NHWC slots */
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    int32_t period = 1, c, oy, ky;

    /* Sixteen channels at a time where the ring of sixteen-byte pixels fits its stack buffer
     * (depthwise_pairs_mve.c), else one channel at a time through the planner's ring
     * (depthwise_ring_mve.c): the same copy order, so the same in-place proof. */
    {
        const edgec_view in = edgec_dense_view(buffer, in_h, in_w, channels);
        edgec_view out = edgec_dense_view(buffer, out_h, out_w, channels);
        if (edgec_depthwise_pairs_ring_mve(&in, &out, weights, bias, p) ||
            edgec_depthwise_ring_mve(&in, &out, weights, bias, p, scratch, ring_size)) {
            return;
        }
    }
    if (kh * kw > MAX_TAPS) {
        edgec_depthwise_conv2d_inplace(buffer, in_h, in_w, channels, out_h, out_w, scratch, weights, bias, p);
        return;
    }
    if (ring_size <= 0 || out_h <= 0 || out_w <= 0) {
        return;
    }
    while ((period * sh) % dh != 0) {
        ++period;
    }
    memset(scratch, zero_point, (size_t)ring_size);

    for (c = 0; c < channels; ++c) {
        const int8_t *ring[MAX_TAPS];
        int32_t wk[MAX_TAPS];
        int32_t wsum = 0;
        channel_stage cs;

        for (ky = 0; ky < kh * kw; ++ky) {
            wk[ky] = weights[ky * channels + c];
            wsum += wk[ky];
        }
        cs.q = mve_requant_make(vdupq_n_s32(p->out_mult[c]), vdupq_n_s32(p->out_shift[c]));
        cs.output_offset = p->output_offset;
        cs.lo = lo;
        cs.hi = hi;
        cs.start = vdupq_n_s32((bias ? bias[c] : 0) + p->input_offset * wsum);

        for (oy = 0; oy < out_h; ++oy) {
            int32_t slot = (oy * sh) % ring_rows;

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
            for (ky = 0; ky < kh; ++ky) {
                ring[ky] = scratch + slot * row_w;
                slot += dh;
                if (slot >= ring_rows) {
                    slot -= ring_rows;
                }
            }
            output_row(ring, wk, p, out_w, channels, &cs, in_offsets, out_offsets, buffer + oy * out_w * channels + c);
        }
    }
}

#else

typedef int edgec_depthwise_inplace_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
