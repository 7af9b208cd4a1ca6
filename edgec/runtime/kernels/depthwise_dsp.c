/* Depthwise conv2d with the DSP extension (Cortex-M4/M7/M33): four channels
 * at a time, two kernel taps per SMLAD.  Same arithmetic as
 * edgec_depthwise_conv2d (reference_integer_ops::DepthwiseConvPerChannel),
 * depth_multiplier 1.
 *
 * Weights come pre-arranged at build time (edgec.codegen.depthwise_layout):
 * int16 [ceil(C / 4)][pairs][4][2], pairs = ceil(KH * KW / 2).  Entry
 * [q][j][i][t] is the weight of channel 4q + i at tap 2j + t, taps numbered
 * ky * KW + kx; the missing tap of an odd count and the channels past C are 0.
 *
 * Inner step, for channels c..c+3 and taps a = 2j, b = 2j + 1: load the four
 * input bytes at each tap (xa0..xa3, xb0..xb3), pack the halves
 * (xa0 xa1 xb0 xb1) and (xa2 xa3 xb2 xb3), widen each channel's pair of bytes
 * to int16 with SXTAB16, which also adds input_offset to both lanes, and
 * SMLAD it with the channel's pair of weights: 8 MACs in 2 loads, 2 packs,
 * 4 SXTAB16, 4 SMLAD and 4 weight words.  x + input_offset lies in
 * [-255, 255] and fits a lane.
 *
 * Padding: a tap outside the input reads a row of input zero points, so
 * x + input_offset = 0 and it adds nothing, exactly as the reference skips
 * it.  Every partial sum equals the reference's up to the order of int32
 * additions, which does not change the (wrapping) result. */
#include <string.h>

#include "dsp_dw_ops.h"
#include "kernels_internal.h"

/* The specialised entry points need the body inlined with constant kernel sizes. */
#ifdef __GNUC__
#define DWD_INLINE static inline __attribute__((always_inline))
#else
#define DWD_INLINE static inline
#endif

#if defined(__GNUC__) && !defined(__clang__)
#define DWD_PRAGMA(x) _Pragma(#x)
#define DWD_UNROLL DWD_PRAGMA(GCC unroll 25)
#else
#define DWD_UNROLL
#endif

/* Channels per pass (the zero-point row lives on the stack). */
#define DWD_CHUNK 128

static inline int32_t mini(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

/* One output pixel: channels [0, nc) of a chunk.  tap[t] points at channel 0
 * of the chunk at tap t (the zero-point row for padding taps); tap[taps] is a
 * dummy with weight 0 when taps is odd. */
DWD_INLINE void dw_dsp_pixel(const int8_t *const *tap, int32_t pairs, int32_t nc, const int16_t *wq,
                                const int32_t *bias, const int32_t *mult, const int32_t *shift, uint32_t off2,
                                const edgec_depthwise_params *p, int8_t *po)
{
    const int32_t input_offset = p->input_offset;
    int32_t c, j, i;

    for (c = 0; c + 4 <= nc; c += 4) {
        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        const int16_t *w = wq;
        DWD_UNROLL
        for (j = 0; j < pairs; ++j) {
            const uint32_t xa = dw_load4(tap[2 * j] + c);
            const uint32_t xb = dw_load4(tap[2 * j + 1] + c);
            const uint32_t lo = dw_pack_low(xa, xb);
            const uint32_t hi = dw_pack_high(xa, xb);
            acc0 = dw_smlad(dw_sxtab16(off2, lo), dw_load_pair(w), acc0);
            acc1 = dw_smlad(dw_sxtab16_ror8(off2, lo), dw_load_pair(w + 2), acc1);
            acc2 = dw_smlad(dw_sxtab16(off2, hi), dw_load_pair(w + 4), acc2);
            acc3 = dw_smlad(dw_sxtab16_ror8(off2, hi), dw_load_pair(w + 6), acc3);
            w += 8;
        }
        if (bias) {
            acc0 += bias[c];
            acc1 += bias[c + 1];
            acc2 += bias[c + 2];
            acc3 += bias[c + 3];
        }
        po[c] = requantize_and_clamp(acc0, mult[c], shift[c], p->output_offset, p->act_min, p->act_max);
        po[c + 1] = requantize_and_clamp(acc1, mult[c + 1], shift[c + 1], p->output_offset, p->act_min, p->act_max);
        po[c + 2] = requantize_and_clamp(acc2, mult[c + 2], shift[c + 2], p->output_offset, p->act_min, p->act_max);
        po[c + 3] = requantize_and_clamp(acc3, mult[c + 3], shift[c + 3], p->output_offset, p->act_min, p->act_max);
        wq += 8 * pairs;
    }
    /* The last 1..3 channels, one MAC at a time, from the same layout. */
    for (i = 0; c + i < nc; ++i) {
        int32_t acc = bias ? bias[c + i] : 0;
        const int16_t *w = wq + 2 * i;
        for (j = 0; j < pairs; ++j) {
            acc += (tap[2 * j][c + i] + input_offset) * w[0] + (tap[2 * j + 1][c + i] + input_offset) * w[1];
            w += 8;
        }
        po[c + i] = requantize_and_clamp(acc, mult[c + i], shift[c + i], p->output_offset, p->act_min, p->act_max);
    }
}

/* The whole layer; kh and kw are constants in the specialised entry points,
 * so the compiler unrolls the tap loops. */
DWD_INLINE void dw_dsp_layer(const edgec_view *in, edgec_view *out, const int16_t *weights, const int32_t *bias,
                                const edgec_depthwise_params *p, int32_t kh, int32_t kw)
{
    const int32_t taps = kh * kw, pairs = (taps + 1) / 2;
    const int32_t sh = p->stride_h, sw = p->stride_w, dh = p->dilation_h, dw = p->dilation_w;
    const int32_t cout = out->c;
    const uint32_t off2 = ((uint32_t)p->input_offset & 0xffffu) * 0x10001u;
    int8_t zero_points[DWD_CHUNK];
    const int8_t *tap[EDGEC_DW_DSP_MAX_TAPS + 1];
    int32_t oy, ox, ky, kx, c0;

    memset(zero_points, (int8_t)(-p->input_offset), sizeof zero_points);
    for (c0 = 0; c0 < cout; c0 += DWD_CHUNK) {
        const int32_t nc = mini(DWD_CHUNK, cout - c0);
        const int16_t *wq = weights + (c0 / 4) * 8 * pairs;
        for (oy = 0; oy < out->h; ++oy) {
            const int32_t iy0 = oy * sh - p->pad_top;
            for (ox = 0; ox < out->w; ++ox) {
                const int32_t ix0 = ox * sw - p->pad_left;
                const int8_t *base = in->data + c0;
                int32_t t = 0;
                for (ky = 0; ky < kh; ++ky) {
                    const int32_t iy = iy0 + ky * dh;
                    const int row_ok = iy >= 0 && iy < in->h;
                    for (kx = 0; kx < kw; ++kx, ++t) {
                        const int32_t ix = ix0 + kx * dw;
                        tap[t] = row_ok && ix >= 0 && ix < in->w ? base + iy * in->row_stride + ix * in->col_stride
                                                                 : zero_points;
                    }
                }
                tap[taps] = tap[0]; /* dummy partner of an odd last tap (weight 0) */
                dw_dsp_pixel(tap, pairs, nc, wq, bias ? bias + c0 : NULL, p->out_mult + c0, p->out_shift + c0, off2,
                             p, out->data + oy * out->row_stride + ox * out->col_stride + c0);
            }
        }
    }
}

void edgec_depthwise_conv2d_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights, const int32_t *bias,
                                const edgec_depthwise_params *p)
{
    dw_dsp_layer(in, out, weights, bias, p, p->kernel_h, p->kernel_w);
}

void edgec_depthwise_conv2d_3x3_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights,
                                    const int32_t *bias, const edgec_depthwise_params *p)
{
    dw_dsp_layer(in, out, weights, bias, p, 3, 3);
}

void edgec_depthwise_conv2d_5x5_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights,
                                    const int32_t *bias, const edgec_depthwise_params *p)
{
    dw_dsp_layer(in, out, weights, bias, p, 5, 5);
}

void edgec_depthwise_conv2d_7x7_dsp(const edgec_view *in, edgec_view *out, const int16_t *weights,
                                    const int32_t *bias, const edgec_depthwise_params *p)
{
    dw_dsp_layer(in, out, weights, bias, p, 7, 7);
}
