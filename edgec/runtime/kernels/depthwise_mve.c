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
 * Interior pixels (every tap inside the input) start from
 * bias + input_offset * sum(w) instead and multiply the raw inputs.
 * The even and odd accumulators are requantized as four lanes each
 * (mve_requant.h), with multipliers and shifts gathered at stride 2, and
 * scattered back to their channels.  Square 3x3/5x5/7x7 kernels go first to
 * the sixteen-channel ring (where the ring fits its stack buffer), then to
 * the sixteen-channel per-pixel kernel
 * (both depthwise_pairs_mve.c) and, for rows of at least
 * RING_MIN_WIDTH outputs of at most sixteen channels, to the window kernel
 * (depthwise_window_mve.c) or the channel-plane kernel
 * (depthwise_ring_mve.c); this kernel keeps the rest (other kernel sizes,
 * maps under half the kernel's size).  Built only for targets with integer MVE.
 */
#include "edgec_kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "depthwise_pairs_mve.h"
#include "depthwise_ring_mve.h"
#include "depthwise_small_mve.h"
#include "depthwise_window_mve.h"
#include "kernels_internal.h"
#include "mve_requant.h"

#define DW_LANES 8
#define RING_MIN_WIDTH 48 /* output rows at least this wide may take the window or ring kernels */
#define PAIRS_LANES 16     /* channels per vector of edgec_depthwise_pairs_mve */

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

/* Taps of an interior pixel (every tap inside the input): the input offset is already in the
 * accumulators (folded bias), so the int8 inputs are multiplied as they are.  `full`: all eight
 * lanes are channels (no predication). */
static inline void interior_taps(const int8_t *row, const int8_t *w, int32_t kh, int32_t kw, int32_t row_step,
                                 int32_t col_step, int32_t w_step, mve_pred16_t lanes, int full, int32x4_t *acc_even,
                                 int32x4_t *acc_odd)
{
    int32x4_t ae = *acc_even, ao = *acc_odd;
    int32_t ky, kx;
    for (ky = 0; ky < kh; ++ky, row += row_step) {
        const int8_t *px = row;
        for (kx = 0; kx < kw; ++kx, px += col_step, w += w_step) {
            const int16x8_t x = full ? vldrbq_s16(px) : vldrbq_z_s16(px, lanes);
            const int16x8_t wv = full ? vldrbq_s16(w) : vldrbq_z_s16(w, lanes);
            ae = vaddq_s32(ae, vmullbq_int_s16(x, wv));
            ao = vaddq_s32(ao, vmulltq_int_s16(x, wv));
        }
    }
    *acc_even = ae;
    *acc_odd = ao;
}

/* Taps of a border pixel: those inside the input, each with the input offset added. */
static void border_taps(const edgec_view *in, const int8_t *weights, int32_t c0, int32_t in_y0, int32_t in_x0,
                        int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1, const edgec_depthwise_params *p,
                        mve_pred16_t lanes, int32x4_t *acc_even, int32x4_t *acc_odd)
{
    const int32_t kw = p->kernel_w, dh = p->dilation_h, dw = p->dilation_w, channels = in->c;
    const int16_t input_offset = (int16_t)p->input_offset;
    int32x4_t ae = *acc_even, ao = *acc_odd;
    int32_t ky, kx;
    for (ky = ky0; ky < ky1; ++ky) {
        const int8_t *in_row = in->data + (in_y0 + ky * dh) * in->row_stride + c0;
        const int8_t *w_row = weights + ky * kw * channels + c0;
        for (kx = kx0; kx < kx1; ++kx) {
            const int16x8_t x =
                vaddq_n_s16(vldrbq_z_s16(in_row + (in_x0 + kx * dw) * in->col_stride, lanes), input_offset);
            const int16x8_t w = vldrbq_z_s16(w_row + kx * channels, lanes);
            ae = vaddq_s32(ae, vmullbq_int_s16(x, w));
            ao = vaddq_s32(ao, vmulltq_int_s16(x, w));
        }
    }
    *acc_even = ae;
    *acc_odd = ao;
}

/* First output index whose taps all lie at or after input index 0, and one past the last whose taps
 * all lie before input index `size` (clamped to [0, out]). */
static int32_t interior_begin(int32_t pad, int32_t stride, int32_t out)
{
    const int32_t o = (pad + stride - 1) / stride;
    return o < out ? o : out;
}

static int32_t interior_end(int32_t size, int32_t kernel, int32_t dilation, int32_t pad, int32_t stride, int32_t out)
{
    const int32_t last = size - 1 - (kernel - 1) * dilation + pad; /* largest o * stride allowed */
    const int32_t o = last < 0 ? 0 : last / stride + 1;
    return o < out ? o : out;
}

void edgec_depthwise_conv2d_mve(const edgec_view *in, edgec_view *out, const int8_t *weights, const int32_t *bias,
                                const edgec_depthwise_params *p)
{
    /* Everything the loops need, read once: the output stores could alias *p and *in as far as the
     * compiler knows. */
    const int32_t kh = p->kernel_h, kw = p->kernel_w, sh = p->stride_h, sw = p->stride_w;
    const int32_t dh = p->dilation_h, dw = p->dilation_w, pad_top = p->pad_top, pad_left = p->pad_left;
    const int32_t in_h = in->h, in_w = in->w, in_row = in->row_stride, in_col = in->col_stride;
    const int32_t out_h = out->h, out_w = out->w, out_row = out->row_stride, out_col = out->col_stride;
    const int32_t channels = out->c, input_offset = p->input_offset;
    const int8_t *in_data = in->data;
    int8_t *out_data = out->data;
    const uint32x4_t even = vidupq_n_u32(0, 2), odd = vidupq_n_u32(1, 2);
    const int32_t output_offset = p->output_offset;
    const int32x4_t lo = vdupq_n_s32(p->act_min), hi = vdupq_n_s32(p->act_max);
    /* Output pixels whose taps all lie inside the input. */
    const int32_t oy_begin = interior_begin(pad_top, sh, out_h), oy_end = interior_end(in_h, kh, dh, pad_top, sh, out_h);
    const int32_t ox_begin = interior_begin(pad_left, sw, out_w), ox_end = interior_end(in_w, kw, dw, pad_left, sw, out_w);
    int32_t c0, oy, ox, k;

    if (p->depth_multiplier > 1) {
        edgec_depthwise_conv2d(in, out, weights, bias, p);
        return;
    }
    /* Which kernel, as measured on qemu-cortex-m55 (docs/kernels.md): maps smaller than the kernel
     * (most taps padding) through depthwise_small_mve.c, which visits only the taps inside; else
     * sixteen channels per vector, through the ring of sixteen-byte pixels where it fits (its weights and requantization
     * constants are staged once per block of channels, so rows of any width and maps under the
     * kernel's size take it too), else pixel by pixel (depthwise_pairs_mve.c), unless one block
     * of channels has wide rows, where its per-pixel setup is not shared, or the map is under half
     * the kernel's size, where this kernel skips the many padding taps;
     * wide rows then go to the window kernel (depthwise_window_mve.c), else to the ring
     * (depthwise_ring_mve.c). */
    if (edgec_depthwise_small_mve(in, out, weights, bias, p)) {
        return; /* tiny maps (depthwise_small_mve.c) */
    }
    if (edgec_depthwise_pairs_ring_mve(in, out, weights, bias, p)) {
        return;
    }
    if ((channels > PAIRS_LANES || out_w < RING_MIN_WIDTH) && 2 * in_h >= kh && 2 * in_w >= kw &&
        edgec_depthwise_pairs_mve(in, out, weights, bias, p)) {
        return;
    }
    if (out_w >= RING_MIN_WIDTH && (edgec_depthwise_window_mve(in, out, weights, bias, p) ||
                                    edgec_depthwise_ring_mve(in, out, weights, bias, p, 0, 0))) {
        return;
    }
    for (c0 = 0; c0 < channels; c0 += DW_LANES) {
        const int32_t nc = channels - c0 < DW_LANES ? channels - c0 : DW_LANES;
        const mve_pred16_t lanes = vctp16q((uint32_t)nc);
        const half_block he = load_half(bias, p, c0, even, (nc + 1) / 2);
        const half_block ho = load_half(bias, p, c0, odd, nc / 2);
        /* Interior pixels start from bias + input_offset * sum of the channel's weights. */
        int32x4_t folded_even = he.bias, folded_odd = ho.bias;
        for (k = 0; k < kh * kw; ++k) {
            const int16x8_t wv = vldrbq_z_s16(weights + k * channels + c0, lanes);
            folded_even = vmlaq_n_s32(folded_even, vmovlbq_s16(wv), input_offset);
            folded_odd = vmlaq_n_s32(folded_odd, vmovltq_s16(wv), input_offset);
        }
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t in_y0 = oy * sh - pad_top;
            const int row_inside = oy >= oy_begin && oy < oy_end;
            int8_t *dst = out_data + oy * out_row + c0;
            for (ox = 0; ox < out_w; ++ox, dst += out_col) {
                const int32_t in_x0 = ox * sw - pad_left;
                int32x4_t acc_even, acc_odd;
                if (row_inside && ox >= ox_begin && ox < ox_end) {
                    const int8_t *src = in_data + in_y0 * in_row + in_x0 * in_col + c0;
                    acc_even = folded_even;
                    acc_odd = folded_odd;
                    if (nc == DW_LANES) {
                        interior_taps(src, weights + c0, kh, kw, dh * in_row, dw * in_col, channels, lanes, 1,
                                      &acc_even, &acc_odd);
                    } else {
                        interior_taps(src, weights + c0, kh, kw, dh * in_row, dw * in_col, channels, lanes, 0,
                                      &acc_even, &acc_odd);
                    }
                } else {
                    int32_t ky0, kx0;
                    const int32_t ky1 = valid_taps(in_y0, dh, kh, in_h, &ky0);
                    const int32_t kx1 = valid_taps(in_x0, dw, kw, in_w, &kx0);
                    acc_even = he.bias;
                    acc_odd = ho.bias;
                    border_taps(in, weights, c0, in_y0, in_x0, ky0, ky1, kx0, kx1, p, lanes, &acc_even, &acc_odd);
                }
                store_half(dst, even, acc_even, he.q, he.lanes, output_offset, lo, hi);
                store_half(dst, odd, acc_odd, ho.q, ho.lanes, output_offset, lo, hi);
            }
        }
    }
}

#else

typedef int edgec_depthwise_mve_needs_mve; /* ISO C: a translation unit needs a declaration */

#endif
